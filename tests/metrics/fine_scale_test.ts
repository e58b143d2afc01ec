/**
 * Fine-scale power (src/metrics/fine_scale.ts) on fields whose spectra are known: whole-period
 * sinusoids along x put their (Hann-windowed) power at k and k +- 1 only, so the share above the
 * coarse Nyquist is exact (up to the float32 rounding of the fields, ~1e-6).
 */
import { assertAlmostEquals, assertEquals, assertThrows } from "../helpers/assert.ts";
import { finePowerShare, powerAboveCoarseNyquist, rowSpectrum } from "../../src/metrics/fine_scale.ts";

const H = 4, W = 48;

function waves(parts: [k: number, amplitude: number][], phase = 0): Float32Array {
  const f = new Float32Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      f[y * W + x] = 280 +
        parts.reduce((a, [k, amp]) => a + amp * Math.sin((2 * Math.PI * k * x) / W + phase + y), 0);
    }
  }
  return f;
}

Deno.test("rowSpectrum: a whole-period sinusoid's power sits at k and k +- 1, the mean is removed", () => {
  const s = rowSpectrum([waves([[10, 2]])], H, W);
  assertEquals(s.power.length, W / 2 + 1);
  assertAlmostEquals(s.wavenumber[10], 10 / W, 1e-15);
  const total = s.power.reduce((a, b) => a + b, 0);
  assertAlmostEquals((s.power[9] + s.power[10] + s.power[11]) / total, 1, 1e-6);
  // Periodic Hann = 1/2 - (e^{i..} + e^{-i..})/4: side lobes of half the centre's amplitude, 1/4 of its power.
  assertAlmostEquals(s.power[9] / s.power[10], 1 / 4, 1e-6);
  assertAlmostEquals(s.power[0] / total, 0, 1e-6);
});

Deno.test("finePowerShare: exact shares of mixed waves, 1 for the truth itself", () => {
  // Factor 4 on 48 columns: the coarse Nyquist is k = 6; k = 2 (with its side lobes) is below, k = 12 above.
  const truth = [waves([[2, 3], [12, 1]]), waves([[2, 1], [12, 1]], 0.7)];
  const smooth = [waves([[2, 3]]), waves([[2, 1]], 0.7)];
  const half = [waves([[2, 3], [12, 0.5]]), waves([[2, 1], [12, 0.5]], 0.7)];
  assertAlmostEquals(finePowerShare(truth, truth, H, W, 4), 1, 1e-12);
  assertAlmostEquals(finePowerShare(smooth, truth, H, W, 4), 0, 1e-5);
  assertAlmostEquals(finePowerShare(half, truth, H, W, 4), 0.25, 1e-5);
  // Several members count as more rows, not more power.
  assertAlmostEquals(finePowerShare([...half, ...half], truth, H, W, 4), 0.25, 1e-5);
});

Deno.test("powerAboveCoarseNyquist: strictly above 1/(2 factor); bad grids and factors are refused", () => {
  const s = rowSpectrum([waves([[6, 1]])], H, W);
  // k = 6 is the Nyquist itself (not counted); its side lobe at 7 is.
  assertAlmostEquals(powerAboveCoarseNyquist(s, 4) / s.power[7], 1, 1e-5);
  assertThrows(() => powerAboveCoarseNyquist(s, 0), Error, "at least 1");
  assertThrows(() => rowSpectrum([new Float32Array(10)], H, W), Error, "whole 4x48 planes");
});
