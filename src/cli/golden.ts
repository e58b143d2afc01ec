/**
 * `deno task golden [DIR] [--filter REGEX]`: runs every case of DIR/manifest.json (default
 * ../shared/golden, the full set; `tests/fixtures/golden` is the subset committed with the project)
 * and prints PASS / FAIL / UNSUPPORTED per case with the worst error/tolerance ratio. Exits non-zero
 * if any case fails.
 */
import { parseArgs } from "node:util";
import { formatResult, runGolden } from "../golden/runner.ts";
import "../golden/all_handlers.ts";
import { pathExists } from "../util/fs.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { filter: { type: "string" }, help: { type: "boolean", short: "h" } },
  allowPositionals: true,
});
if (values.help) {
  console.log(
    "usage: deno task golden [DIR] [--filter REGEX]   (DIR defaults to ../shared/golden; " +
      "tests/fixtures/golden is the committed subset)",
  );
  Deno.exit(0);
}
const fullSet = new URL("../../../shared/golden", import.meta.url).pathname;
const fixtures = new URL("../../tests/fixtures/golden", import.meta.url).pathname;
let dir = positionals[0] ?? fullSet;
// On a fresh clone the full set is not beside the repository: say so and run the committed subset
// rather than failing on a missing file.
if (!positionals[0] && !pathExists(`${fullSet}/manifest.json`)) {
  console.log(`${fullSet} not found: running the committed subset ${fixtures} instead`);
  dir = fixtures;
}
const results = await runGolden(dir, {
  filter: values.filter ? new RegExp(values.filter) : undefined,
  report: (r) => console.log(formatResult(r)),
});
const count = (s: string) => results.filter((r) => r.status === s).length;
console.log(
  `\n${count("PASS")} passed, ${count("FAIL")} failed, ${count("UNSUPPORTED")} unsupported (${dir})`,
);
Deno.exit(count("FAIL") > 0 ? 1 : 0);
