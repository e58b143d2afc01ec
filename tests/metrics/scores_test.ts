import { readSafetensors } from "../../src/io/safetensors.ts";
import { computeScores, SCORE_METRICS, scoreField, summarizeScores } from "../../src/metrics/scores.ts";
import { Rng } from "../../src/util/rng.ts";
import { assert, assertAlmostEquals, assertClose, assertEquals, assertThrows } from "../helpers/assert.ts";
import { GOLDEN_DIR } from "../helpers/shared.ts";

Deno.test("scores match the reference's score_samples.py golden case", () => {
  const manifest = JSON.parse(Deno.readTextFileSync(`${GOLDEN_DIR}/manifest.json`));
  const { atol, rtol } = manifest.files.scores.cases.scores.tolerance.default;
  const st = readSafetensors(`${GOLDEN_DIR}/scores.safetensors`);
  const t = (k: string) => st.tensors.get(k)!;
  const [nEns, nTime, nVar, ny, nx] = t("pred").shape;
  const s = computeScores(t("pred").data as Float32Array, t("truth").data as Float32Array, {
    nEns,
    nTime,
    nVar,
    ny,
    nx,
  });
  assertEquals(t("metrics").shape, [SCORE_METRICS.length, nTime, nVar]);
  assertClose(s.metrics, t("metrics").data as Float32Array, atol, rtol, "metrics");
  assertClose(s.crpsMap, t("crps_map").data as Float32Array, atol, rtol, "crps_map");
});

// The O(n) formula on sorted members against the definition's O(n^2) double sum, ties included.
Deno.test("sorted CRPS equals the double-sum definition", () => {
  const rng = new Rng(3);
  for (const n of [1, 2, 5, 40]) {
    const nPixels = 50;
    const members = new Float64Array(n * nPixels).map(() => Math.round(rng.normal() * 4) / 4);
    const truth = new Float64Array(nPixels).map(() => Math.round(rng.normal() * 4) / 4);
    const map = new Float64Array(nPixels);
    scoreField(members, truth, { nEns: n, nPixels }, { crpsMap: map });
    for (let p = 0; p < nPixels; p++) {
      let a = 0, b = 0;
      for (let i = 0; i < n; i++) {
        a += Math.abs(members[i * nPixels + p] - truth[p]);
        for (let j = 0; j < n; j++) b += Math.abs(members[i * nPixels + p] - members[j * nPixels + p]);
      }
      assertAlmostEquals(map[p], a / n - b / (2 * n * n), 1e-12, `n=${n} pixel ${p}`);
    }
  }
});

Deno.test("a one-member ensemble has crps = mae = |x - y| and no spread", () => {
  const members = [1, 4, -2, 0.5];
  const truth = [0, 2, -3, 3];
  const s = scoreField(members, truth, { nEns: 1, nPixels: 4 });
  const mae = (1 + 2 + 1 + 2.5) / 4;
  assertAlmostEquals(s.crps, mae, 1e-15);
  assertAlmostEquals(s.mae, mae, 1e-15);
  assertAlmostEquals(s.rmse, Math.sqrt((1 + 4 + 1 + 6.25) / 4), 1e-15);
  assertEquals(s.stdDev, 0);
  // Truth below the member at three pixels (rank 0), above it at one (rank 1).
  assertEquals(Array.from(s.rankHistogram), [3, 1]);
});

Deno.test("two members: hand-computed scores", () => {
  // members {0, 2}, truth 3: mean 1, |x - y| = 3, 1; |x_i - x_j| sum = 4.
  const s = scoreField([0, 2], [3], { nEns: 2, nPixels: 1 });
  assertAlmostEquals(s.rmse, 2, 1e-15);
  assertAlmostEquals(s.mae, 2, 1e-15);
  assertAlmostEquals(s.crps, 2 - 4 / 8, 1e-15);
  assertAlmostEquals(s.stdDev, 1, 1e-15);
  assertAlmostEquals(s.spread, Math.sqrt(1.5 * 2), 1e-15);
  assertEquals(Array.from(s.rankHistogram), [0, 0, 1]);
});

// Truth and members drawn from the same distribution around a random per-pixel centre.
function syntheticEnsemble(n: number, nPixels: number, memberScale: number, seed: number) {
  const rng = new Rng(seed);
  const centre = new Float64Array(nPixels).map(() => 3 * rng.normal());
  const truth = centre.map((c) => c + rng.normal());
  const members = new Float64Array(n * nPixels).map((_, k) =>
    centre[k % nPixels] + memberScale * rng.normal()
  );
  return { members, truth };
}

Deno.test("calibrated ensemble: spread-skill close to 1, flat rank histogram summing to the pixel count", () => {
  const n = 7, nPixels = 40000;
  const { members, truth } = syntheticEnsemble(n, nPixels, 1, 11);
  const s = scoreField(members, truth, { nEns: n, nPixels });
  // Relative standard error of the ratio is about 0.5 sqrt(2/P + 2/(P(n-1))) = 0.004 here.
  assertAlmostEquals(s.spreadSkill, 1, 0.02, "spread-skill");
  assertEquals(s.rankHistogram.reduce((a, b) => a + b, 0), nPixels);
  const expected = nPixels / (n + 1);
  const chi2 = s.rankHistogram.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
  assert(
    chi2 < 24.3,
    `rank histogram not flat: chi2 = ${chi2.toFixed(1)} with 7 degrees of freedom (p=0.001 at 24.3)`,
  );
  // Gaussian members with std 1: E[population std] = sqrt((n-1)/n) c4(n), c4(7) = sqrt(1/3) Γ(3.5)/Γ(3).
  const c4 = Math.sqrt(1 / 3) * (15 * Math.sqrt(Math.PI) / 8) / 2;
  assertAlmostEquals(s.stdDev, Math.sqrt((n - 1) / n) * c4, 0.01, "std_dev");
});

Deno.test("under-dispersive ensemble: spread-skill matches theory and the rank histogram is U-shaped", () => {
  const n = 5, nPixels = 40000, k = 0.5;
  const { members, truth } = syntheticEnsemble(n, nPixels, k, 12);
  const s = scoreField(members, truth, { nEns: n, nPixels });
  // E[spread^2] = (1 + 1/n) k^2, E[rmse^2] = 1 + k^2 / n.
  const theory = Math.sqrt((1 + 1 / n) * k * k / (1 + k * k / n));
  assertAlmostEquals(s.spreadSkill, theory, 0.02, "spread-skill");
  const h = s.rankHistogram;
  assert(h[0] > 2 * h[2] && h[n] > 2 * h[2], `expected U shape, got [${Array.from(h)}]`);
});

Deno.test("ties in the rank histogram are shared across the tied ranks", () => {
  // Every member and the truth are 0 (e.g. no precipitation): ranks uniform over 0..n.
  const n = 3, nPixels = 8000;
  const s = scoreField(new Float64Array(n * nPixels), new Float64Array(nPixels), { nEns: n, nPixels });
  for (const c of s.rankHistogram) assertAlmostEquals(c, nPixels / (n + 1), 150);
  assertEquals(s.crps, 0);
});

Deno.test("missing truth pixels: left out of the means, NaN in the CRPS map, rmse NaN", () => {
  const { members, truth } = syntheticEnsemble(4, 100, 1, 5);
  const full = scoreField(members, truth, { nEns: 4, nPixels: 100 });
  // Same fields with one extra pixel whose truth is NaN.
  const members2 = new Float64Array(4 * 101);
  for (let i = 0; i < 4; i++) members2.set(members.subarray(i * 100, (i + 1) * 100), i * 101);
  const truth2 = new Float64Array(101);
  truth2.set(truth);
  truth2[100] = NaN;
  const map = new Float64Array(101);
  const s = scoreField(members2, truth2, { nEns: 4, nPixels: 101 }, { crpsMap: map });
  assert(Number.isNaN(s.rmse) && Number.isNaN(map[100]), "rmse and crps map should be NaN");
  assertEquals(s.validPixels, 100);
  for (const k of ["crps", "stdDev", "mae"] as const) assertAlmostEquals(s[k], full[k], 1e-14, k);
});

Deno.test("summary over time and shape errors", () => {
  const a = scoreField([0, 2], [3], { nEns: 2, nPixels: 1 });
  const b = scoreField([1, 1], [0], { nEns: 2, nPixels: 1 });
  const sum = summarizeScores([a, b]);
  assertAlmostEquals(sum.means[0], (2 + 1) / 2, 1e-15);
  assertAlmostEquals(sum.spreadSkill, Math.sqrt((3 + 0) / 2) / Math.sqrt((4 + 1) / 2), 1e-15);
  assertEquals(Array.from(sum.rankHistogram), [1, 0, 1]);
  assertThrows(
    () =>
      computeScores(new Float32Array(10), new Float32Array(4), { nEns: 2, nTime: 1, nVar: 1, ny: 2, nx: 2 }),
    Error,
    "pred has 10 values",
  );
});
