/** `runGolden` from mod.ts knows every kind of case (loss, sampler and metric cases included). */
import { runGolden } from "../../mod.ts";
import { assert } from "../helpers/assert.ts";
import { FIXTURE_GOLDEN_DIR } from "../helpers/shared.ts";

Deno.test("runGolden from mod.ts supports every case of the committed golden set", async () => {
  const results = await runGolden(FIXTURE_GOLDEN_DIR, { filter: /loss|sampler|scores|spectra/ });
  assert(results.length >= 4, `${results.length} cases`);
  for (const r of results) assert(r.status === "PASS", `${r.file}/${r.caseName}: ${r.status}`);
});
