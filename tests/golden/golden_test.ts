/**
 * The golden suite as tests: one test per case of ../shared/golden/manifest.json, each of which must
 * PASS. Cases of features that have not landed yet (losses and samplers, see the issue tracker) are
 * listed as ignored with the reason in the name, so they are never counted as passed.
 */
import { GoldenSet } from "../../src/golden/manifest.ts";
import { formatResult, runCase } from "../../src/golden/runner.ts";
import { findHandler } from "../../src/golden/handlers.ts";
import { GOLDEN_DIR } from "../helpers/shared.ts";
import "../../src/golden/all_handlers.ts";

const golden = new GoldenSet(GOLDEN_DIR);

for (const [file, spec] of Object.entries(golden.manifest.files)) {
  for (const [caseName, cs] of Object.entries(spec.cases)) {
    const supported = findHandler({ golden, file, caseName, spec: cs }) !== null;
    Deno.test({
      name: `golden ${file}/${caseName}${supported ? "" : " (UNSUPPORTED: feature not implemented yet)"}`,
      ignore: !supported,
      fn: async () => {
        const r = await runCase(golden, file, caseName);
        if (r.status !== "PASS") throw new Error(formatResult(r));
      },
    });
  }
}
