/**
 * `deno task golden [DIR] [--filter REGEX]`: runs every case of DIR/manifest.json (default
 * ../shared/golden) and prints PASS / FAIL / UNSUPPORTED per case with the worst error/tolerance
 * ratio. Exits non-zero if any case fails.
 */
import { parseArgs } from "node:util";
import { formatResult, runGolden } from "../golden/runner.ts";
import "../golden/all_handlers.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { filter: { type: "string" }, help: { type: "boolean", short: "h" } },
  allowPositionals: true,
});
if (values.help) {
  console.log("usage: deno task golden [DIR] [--filter REGEX]   (DIR defaults to ../shared/golden)");
  Deno.exit(0);
}
const dir = positionals[0] ?? new URL("../../../shared/golden", import.meta.url).pathname;
const results = await runGolden(dir, {
  filter: values.filter ? new RegExp(values.filter) : undefined,
  report: (r) => console.log(formatResult(r)),
});
const count = (s: string) => results.filter((r) => r.status === s).length;
console.log(`\n${count("PASS")} passed, ${count("FAIL")} failed, ${count("UNSUPPORTED")} unsupported (${dir})`);
Deno.exit(count("FAIL") > 0 ? 1 : 0);
