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

const USAGE = "usage: deno task golden [DIR] [--filter REGEX]   (DIR defaults to ../shared/golden; " +
  "tests/fixtures/golden is the committed subset)";
let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    options: { filter: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
} catch (e) {
  console.error(`golden: ${(e as Error).message.split(". ")[0]}\n${USAGE}`);
  Deno.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
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
if (!pathExists(`${dir}/manifest.json`)) {
  console.error(`golden: ${dir}/manifest.json not found (DIR must hold a golden set's manifest.json)`);
  Deno.exit(2);
}
let filter: RegExp | undefined;
try {
  filter = values.filter ? new RegExp(values.filter) : undefined;
} catch (e) {
  console.error(`golden: --filter ${values.filter}: ${(e as Error).message}`);
  Deno.exit(2);
}
const results = await runGolden(dir, { filter, report: (r) => console.log(formatResult(r)) });
const count = (s: string) => results.filter((r) => r.status === s).length;
console.log(
  `\n${count("PASS")} passed, ${count("FAIL")} failed, ${count("UNSUPPORTED")} unsupported (${dir})`,
);
Deno.exit(count("FAIL") > 0 ? 1 : 0);
