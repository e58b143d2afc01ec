/**
 * The golden suite as tests: one test per case of each golden set's manifest.json, each of which must
 * PASS. The committed subset (tests/fixtures/golden) and the lead-time cases made with the reference
 * (tests/fixtures/golden_lead_time) always run; the full set (../shared/golden) runs
 * too when it is present, and is otherwise listed as one ignored test saying why. Cases of features
 * that have not landed yet are listed as ignored with the reason in the name, never counted as passed.
 */
import { GoldenSet } from "../../src/golden/manifest.ts";
import { formatResult, runCase } from "../../src/golden/runner.ts";
import { findHandler } from "../../src/golden/handlers.ts";
import { GOLDEN_SETS, NO_SHARED_GOLDEN_REASON } from "../helpers/shared.ts";
import "../../src/golden/all_handlers.ts";

for (const { label, dir } of GOLDEN_SETS) {
  const golden = new GoldenSet(dir);
  for (const [file, spec] of Object.entries(golden.manifest.files)) {
    for (const [caseName, cs] of Object.entries(spec.cases)) {
      const supported = findHandler({ golden, file, caseName, spec: cs }) !== null;
      Deno.test({
        name: `golden ${label} ${file}/${caseName}${
          supported ? "" : " (UNSUPPORTED: feature not implemented yet)"
        }`,
        ignore: !supported,
        fn: async () => {
          const r = await runCase(golden, file, caseName);
          if (r.status !== "PASS") throw new Error(formatResult(r));
        },
      });
    }
  }
}

// The committed subset above always runs; the full reference set only exists beside our own checkout,
// so a clone without it reports this one visible skip (the reason is in the name), never a pass.
if (NO_SHARED_GOLDEN_REASON) {
  Deno.test({
    name: `golden shared: full set skipped, ${NO_SHARED_GOLDEN_REASON}`,
    ignore: true,
    fn: () => {},
  });
}
