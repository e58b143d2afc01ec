/**
 * The demo pipeline end to end at a tiny size (seconds): both models trained, the ensemble and the
 * regression mean generated, scored, spectra and maps drawn; every file it reports exists and every
 * score is finite; the report names every file.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { DEMO_TINY, demoSettings, formatDemoReport, runDemo } from "../../src/demo/pipeline.ts";

Deno.test("the demo pipeline at a tiny size: every reported file exists, the scores are finite", async () => {
  const out = await Deno.makeTempDir({ prefix: "corrdiff-demo-" });
  try {
    const lines: string[] = [];
    const s = demoSettings({ out }, DEMO_TINY);
    const r = await runDemo(s, { log: (l) => lines.push(l), progress: false });

    assertEquals(r.models.regression.steps, DEMO_TINY.regression.steps);
    assertEquals(r.models.diffusion.steps, DEMO_TINY.diffusion.steps);
    assertEquals([r.evaluation.nEnsemble, r.evaluation.nTime], [DEMO_TINY.members, DEMO_TINY.testTimes]);
    assertEquals(r.evaluation.variables.map((v) => v.name), DEMO_TINY.variables);
    for (const v of r.evaluation.variables) {
      for (const f of ["ensemble", "regression", "bilinear"] as const) {
        const sc = v.summary[f];
        assert(sc !== undefined, `${v.name}: no ${f} scores`);
        for (const k of ["crps", "mae", "rmse"] as const) {
          assert(Number.isFinite(sc[k]) && sc[k] > 0, `${v.name} ${f} ${k} = ${sc[k]}`);
        }
      }
      assert(Number.isFinite(v.summary.ensemble!.spreadSkill), `${v.name}: spread-skill not finite`);
      // A deterministic field's CRPS is its MAE.
      assert(Math.abs(v.summary.bilinear!.crps - v.summary.bilinear!.mae) < 1e-9, "bilinear CRPS = MAE");
      assertEquals(v.rankHistogram.reduce((a, b) => a + b, 0), DEMO_TINY.testTimes * DEMO_TINY.size ** 2);
    }

    const kinds = (re: RegExp) => r.files.filter((f) => re.test(f.path)).length;
    assert(kinds(/ensemble\.nc$/) === 1 && kinds(/regression_mean\.nc$/) === 1, "both generation files");
    assert(kinds(/\.safetensors$/) === 4, "a network file and a state file per model");
    assertEquals(kinds(/maps\/map_.*\.png$/), DEMO_TINY.testTimes);
    assertEquals(kinds(/spectra\/.*\.png$/), 3 * DEMO_TINY.variables.length);
    for (
      const name of [
        "scores.json",
        "scores_summary.png",
        "scores_by_time.png",
        "rank_histogram.png",
        "training_loss.png",
      ]
    ) {
      assertEquals(kinds(new RegExp(`/${name.replace(".", "\\.")}$`)), 1, name);
    }
    const report = formatDemoReport(r, out).join("\n");
    for (const f of r.files) {
      const st = await Deno.stat(f.path);
      assert(st.isFile && st.size > 0, `${f.path} is empty`);
      // A chart's SVG is named on its PNG's line.
      const named = f.path.slice(out.length + 1).replace(/\.svg$/, ".png");
      assert(report.includes(named), `the report does not name ${f.path}`);
    }
    const scores = JSON.parse(await Deno.readTextFile(`${out}/scores.json`));
    assertEquals(scores.variables.length, DEMO_TINY.variables.length);
    assert(
      report.includes("bilinear input") && report.includes("CorrDiff ensemble"),
      "scores table in the report",
    );
    assert(lines.some((l) => l.startsWith("training the diffusion model")), "progress messages");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
