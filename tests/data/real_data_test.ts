/**
 * The hrrr_mini reader on the real training sets in shared/data, checked against the figures of
 * their README: sample counts, shapes, times, statistics and the bilinear/bicubic baselines. Those
 * tests run only where shared/data is present (otherwise they are ignored, saying so); what they
 * check about the file layout (netCDF-C files, minute times, windows at `coord`, the zero placeholder
 * invariant) is also checked on a small netCDF-C file written here, which always runs.
 */

import { createDataset, HrrrMiniDataset, resizeCubic } from "../../src/data/mod.ts";
import { openNetCDF } from "../../src/io/netcdf_read.ts";
import { assert, assertAlmostEquals, assertEquals } from "../helpers/assert.ts";
import { sharedDataTest } from "../helpers/shared.ts";
import { NCC, NCC_T, nccElev, nccInput, nccOutput, writeNetcdfCFixture } from "./netcdf_c_fixture.ts";

/** Pooled RMSE of a prediction of the (single-channel) target, over every sample and pixel. */
function baselineRmse(ds: HrrrMiniDataset, predict: (t: number) => Float32Array): number {
  let se = 0, n = 0;
  for (let t = 0; t < ds.length; t++) {
    const p = predict(t), y = ds.rawTarget(t);
    for (let i = 0; i < y.length; i++) se += (p[i] - y[i]) ** 2;
    n += y.length;
  }
  return Math.sqrt(se / n);
}

function meanStd(values: ArrayLike<number>): [number, number] {
  let s = 0, ss = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  const m = s / values.length;
  for (let i = 0; i < values.length; i++) ss += (values[i] - m) ** 2;
  return [m, Math.sqrt(ss / values.length)];
}

Deno.test(
  sharedDataTest(
    "era5-uk-t2m: 528 hourly samples at 32x48, statistics and the 0.533 K bilinear baseline",
    "era5-uk-t2m",
    async (dir) => {
      const ds = await createDataset({
        type: "hrrr_mini",
        data_path: `${dir}/train.nc`,
        stats_path: `${dir}/stats.json`,
        input_variables: ["t2m"],
        output_variables: ["t2m"],
        invariant_variables: ["elev_mean", "lsm_mean"],
      }) as HrrrMiniDataset;
      assertEquals(ds.length, 528);
      assertEquals(ds.imageShape(), [32, 48]);
      assertEquals(ds.upsampleFactor, 4);
      assertEquals(ds.inputChannels().map((c) => `${c.name}:${c.auxiliary}`), [
        "t2m:false",
        "elev_mean:true",
        "lsm_mean:true",
      ]);
      assertEquals(
        ds.outputChannels().map((c) => `${c.name} [${c.units}]`),
        ["t2m [K]"],
      );
      const times = ds.time();
      assertEquals([times[0].toISOString(), times[527].toISOString()], [
        "2019-03-01T00:00:00.000Z",
        "2019-03-22T23:00:00.000Z",
      ]);
      assert(times.every((t, i) => i === 0 || +t - +times[i - 1] === 3_600_000), "hourly");

      // README: output 280.614 +- 2.316 K, input 280.614 +- 2.230 K, computed on this file.
      const out = new Float64Array(528 * 32 * 48), inp = new Float64Array(528 * 8 * 12);
      for (let t = 0; t < 528; t++) {
        out.set(ds.rawTarget(t), t * 32 * 48);
        inp.set(ds.coarseInput(t), t * 96);
      }
      const [mo, so] = meanStd(out), [mi, si] = meanStd(inp);
      assertAlmostEquals(mo, 280.614, 5e-4);
      assertAlmostEquals(so, 2.316, 5e-4);
      assertAlmostEquals(mi, 280.614, 5e-4);
      assertAlmostEquals(si, 2.230, 5e-4);

      // Normalised items use stats.json: the pooled normalised target has mean 0 and std 1.
      const norm = new Float64Array(528 * 32 * 48);
      for (let t = 0; t < 528; t++) norm.set((await ds.item(t)).target, t * 32 * 48);
      const [mn, sn] = meanStd(norm);
      assertAlmostEquals(mn, 0, 1e-4);
      assertAlmostEquals(sn, 1, 1e-4);

      const item = await ds.item(100);
      assertEquals(item.input.length, 3 * 32 * 48);
      const lsm = ds.denormalizeInput(item.input).subarray(2 * 32 * 48);
      assert(lsm.every((v) => v > -1e-5 && v < 1 + 1e-5), "land fraction in [0, 1]");

      // The README's bilinear baseline is the reader's own up-sampling (its first input channel).
      const bilinear = baselineRmse(ds, (t) => ds.rawItem(t).input.subarray(0, 32 * 48));
      assertAlmostEquals(bilinear, 0.533, 5e-4);
      const bicubic = baselineRmse(ds, (t) => resizeCubic(ds.coarseInput(t), 1, 8, 12, 32, 48));
      assertAlmostEquals(bicubic, 0.491, 5e-4);
    },
  ),
);

Deno.test(
  sharedDataTest(
    "fmi-radar: 480 samples at 128x128 (x8), windows at coord, 5.17 dB bilinear baseline",
    "fmi-radar",
    async (dir) => {
      const data_path = `${dir}/train.nc`, stats_path = `${dir}/stats.json`;
      const ds = await createDataset({
        type: "hrrr_mini",
        data_path,
        stats_path,
        invariant_variables: [],
      }) as HrrrMiniDataset;
      assertEquals(ds.length, 480);
      assertEquals(ds.imageShape(), [128, 128]);
      assertEquals(ds.upsampleFactor, 8);
      assertEquals(ds.inputChannels().map((c) => c.name), ["refc"]);
      assertEquals((await ds.item(0)).input.length, 128 * 128);
      const times = ds.time();
      assertEquals([times[0].toISOString(), times[479].toISOString()], [
        "2016-09-28T14:45:00.000Z",
        "2016-09-28T18:00:00.000Z",
      ]);
      assertEquals(+times[12] - +times[11], 5 * 60_000, "frame k // 12: five minutes apart");

      const f = await openNetCDF(data_path);
      const offsets = JSON.parse(f.attrs.window_offsets_ij as string) as [number, number][];
      f.close();
      for (const k of [0, 5, 11, 12, 479]) {
        assertEquals(ds.windowOffset(k), offsets[k % 12]);
      }

      let above = 0, floor = 0, n = 0;
      for (let t = 0; t < ds.length; t++) {
        for (const v of ds.rawTarget(t)) {
          if (v > 10) above++;
          if (v === -10) floor++;
          n++;
        }
      }
      assertAlmostEquals(above / n, 0.535, 5e-4);
      assertAlmostEquals(floor / n, 0.274, 5e-4);

      const bilinear = baselineRmse(ds, (t) => ds.rawItem(t).input);
      assertAlmostEquals(bilinear, 5.17, 5e-3);
      assertAlmostEquals(
        baselineRmse(ds, (t) => resizeCubic(ds.coarseInput(t), 1, 16, 16, 128, 128)),
        5.12,
        5e-3,
      );

      // The reference reader's workaround: the all-zero placeholder invariant, std 1, normalises to 0.
      const withZero = await createDataset({
        type: "hrrr_mini",
        data_path,
        stats_path,
        invariant_variables: ["zero"],
      });
      const x = (await withZero.item(17)).input;
      assert(x.subarray(128 * 128).every((v) => v === 0), "zero channel");
    },
  ),
);

// The layout the two tests above rely on, on a small netCDF-C file: minute times, sample k = frame
// k // windows at window k % windows, windows into a larger invariant grid at `coord`, zlib chunks,
// and the all-zero placeholder invariant (std 1) that normalises to 0.
Deno.test("hrrr_mini on a netCDF-C file in the real sets' layout (fixture): times, windows, values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { dataPath, statsPath } = await writeNetcdfCFixture(dir);
    const ds = await createDataset({
      type: "hrrr_mini",
      data_path: dataPath,
      stats_path: statsPath,
      invariant_variables: ["elev", "zero"],
    }) as HrrrMiniDataset;
    const { h, w, f } = NCC, H = h * f, W = w * f, nw = NCC.offsets.length;
    assertEquals(ds.length, NCC_T);
    assertEquals(ds.imageShape(), [H, W]);
    assertEquals(ds.upsampleFactor, f);
    assertEquals(ds.inputChannels().map((c) => `${c.name}:${c.auxiliary}`), [
      "refc:false",
      "elev:true",
      "zero:true",
    ]);
    assertEquals(ds.outputChannels().map((c) => `${c.name} [${c.units}]`), ["refc [dBZ]"]);
    const times = ds.time();
    assertEquals([times[0], times[nw - 1], times[nw]].map((d) => d.toISOString()), [
      "2016-09-28T14:45:00.000Z",
      "2016-09-28T14:45:00.000Z",
      "2016-09-28T14:50:00.000Z",
    ]);

    const f0 = await openNetCDF(dataPath);
    const offsets = JSON.parse(f0.attrs.window_offsets_ij as string) as [number, number][];
    f0.close();
    for (let t = 0; t < NCC_T; t++) {
      const [i0, j0] = offsets[t % nw];
      assertEquals(ds.windowOffset(t), [i0, j0]);
      const coarse = ds.coarseInput(t), target = ds.rawTarget(t), input = ds.rawItem(t).input;
      for (let r = 0; r < h; r++) {
        for (let c = 0; c < w; c++) assertEquals(coarse[r * w + c], Math.fround(nccInput(t, r, c)));
      }
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          assertEquals(target[y * W + x], Math.fround(nccOutput(t, y, x)));
          assertEquals(input[H * W + y * W + x], nccElev(i0 + y, j0 + x), `elev window at sample ${t}`);
        }
      }
    }

    // Normalised items use stats.json; the zero placeholder (mean 0, std 1) stays 0.
    const item = await ds.item(4);
    assert(item.input.subarray(2 * H * W).every((v) => v === 0), "zero channel");
    const [i4, j4] = NCC.offsets[4 % nw];
    assertAlmostEquals(item.input[H * W], (nccElev(i4, j4) - 5000) / 1000, 1e-6);
    assertAlmostEquals(item.target[0], (nccOutput(4, 0, 0) - 8) / 16, 1e-6);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
