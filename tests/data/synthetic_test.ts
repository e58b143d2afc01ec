import {
  createDataset,
  gaussianRandomField,
  HrrrMiniDataset,
  powerLaw,
  SyntheticDataset,
  writeSyntheticAsHrrrMini,
} from "../../src/data/mod.ts";
import { averagePowerSpectrum, radialPowerSpectrum } from "../../src/metrics/spectra.ts";
import { Rng } from "../../src/util/rng.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../helpers/assert.ts";
import { maxAbsDiff } from "./fixtures.ts";

/** Least-squares slope of log(e) against log(k) over `kMin <= k <= kMax`. */
function logLogSlope(k: ArrayLike<number>, e: ArrayLike<number>, kMin: number, kMax: number): number {
  let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < k.length; i++) {
    if (!(k[i] >= kMin && k[i] <= kMax && e[i] > 0)) continue;
    const x = Math.log(k[i]), y = Math.log(e[i]);
    n++, sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

Deno.test("Gaussian random fields have the requested energy-spectrum slope", () => {
  const H = 96, W = 128, n = 6;
  for (const slope of [3, 5 / 3]) {
    const rng = new Rng(11 + Math.round(slope * 3));
    const data = new Float64Array(n * H * W);
    for (let i = 0; i < n; i++) data.set(gaussianRandomField(rng, H, W, powerLaw(slope)), i * H * W);
    const r = radialPowerSpectrum(data, [n, H, W], 1, 1);
    assertAlmostEquals(
      logLogSlope(r.wavenumbers, r.spectrum, 1 / 48, 0.4),
      -slope,
      0.15,
      `radial, slope ${slope}`,
    );
    // Rows see the 2-D spectrum cut at the Nyquist wavenumber across them, which steepens the highest
    // frequencies: fit the 1-D periodogram below half the Nyquist frequency.
    const a = averagePowerSpectrum(data, [n, H, W], 1);
    assertAlmostEquals(logLogSlope(a.freqs, a.spectrum, 1 / 48, 0.25), -slope, 0.2, `rows, slope ${slope}`);
  }
});

Deno.test("synthetic: spectra of the fine fields lie between k^-3 and k^-5/3", () => {
  const ds = SyntheticDataset.create({ seed: 5, numSamples: 12, imageShape: [64, 96], statsSamples: 2 });
  const [H, W] = ds.imageShape(), n = ds.length;
  for (const [c, v] of ds.outputVariables.entries()) {
    const data = new Float64Array(n * H * W);
    for (let i = 0; i < n; i++) data.set(ds.sample(i).fine.subarray(c * H * W, (c + 1) * H * W), i * H * W);
    const radial = radialPowerSpectrum(data, [n, H, W], 1, 1);
    const slope = logLogSlope(radial.wavenumbers, radial.spectrum, 1 / 32, 0.5);
    assert(slope >= -3.2 && slope <= -1.5, `${v}: radially averaged spectrum slope ${slope.toFixed(2)}`);
    const rows = averagePowerSpectrum(data, [n, H, W], 1);
    const rowSlope = logLogSlope(rows.freqs, rows.spectrum, 1 / 32, 0.5);
    assert(rowSlope >= -3.2 && rowSlope <= -1.5, `${v}: row periodogram slope ${rowSlope.toFixed(2)}`);
  }
});

Deno.test("synthetic: deterministic by seed, different seeds differ, plausible physics", async () => {
  const a = SyntheticDataset.create({ seed: 3, numSamples: 16, imageShape: [48, 48], upsampleFactor: 4 });
  const b = SyntheticDataset.create({ seed: 3, numSamples: 16, imageShape: [48, 48], upsampleFactor: 4 });
  const c = SyntheticDataset.create({ seed: 4, numSamples: 16, imageShape: [48, 48], upsampleFactor: 4 });
  const [ia, ib, ic] = [await a.item(7), await b.item(7), await c.item(7)];
  assertEquals(maxAbsDiff(ia.input, ib.input) + maxAbsDiff(ia.target, ib.target), 0);
  assert(maxAbsDiff(ia.target, ic.target) > 0.5, "another seed gives another sample");
  assert(
    maxAbsDiff(a.invariantField("elev_mean"), c.invariantField("elev_mean")) > 100,
    "and another terrain",
  );
  assert(maxAbsDiff(ia.target, (await a.item(8)).target) > 0.5, "samples differ");
  assertEquals(ia.input.length, 5 * 48 * 48);
  assertEquals(a.inputChannels().map((ch) => `${ch.name}:${ch.auxiliary}:${ch.units}`), [
    "t2m:false:K",
    "u10:false:m s-1",
    "v10:false:m s-1",
    "elev_mean:true:m",
    "lsm_mean:true:1",
  ]);

  // Within each sample, land temperature falls with elevation at about the lapse rate (-6.5 K/km).
  const elev = a.invariantField("elev_mean"), land = a.invariantField("lsm_mean");
  let sxy = 0, sxx = 0, landSpeed = 0, seaSpeed = 0, nLand = 0;
  const P = 48 * 48;
  for (let i = 0; i < a.length; i++) {
    const f = a.fineFields(i);
    let me = 0, mt = 0, n = 0;
    for (let p = 0; p < P; p++) if (land[p]) me += elev[p], mt += f.t2m[p], n++;
    me /= n, mt /= n;
    for (let p = 0; p < P; p++) {
      const speed = Math.hypot(f.u10[p], f.v10[p]);
      if (land[p]) {
        sxy += (elev[p] - me) * (f.t2m[p] - mt), sxx += (elev[p] - me) ** 2;
        landSpeed += speed, nLand++;
      } else seaSpeed += speed;
    }
  }
  const lapse = sxy / sxx;
  assert(lapse > -8e-3 && lapse < -5e-3, `fitted lapse rate ${lapse * 1000} K/km`);
  assert(
    landSpeed / nLand < 0.85 * (seaSpeed / (a.length * P - nLand)),
    "surface drag slows the wind over land",
  );
  assert(nLand / (a.length * P) > 0.2 && nLand / (a.length * P) < 0.7, "land and sea both present");

  // The coarse input is a block mean: its mean follows the fine field's.
  const s = a.sample(2), fineMean = s.fine.subarray(0, P).reduce((x, y) => x + y) / P;
  const coarseMean = s.coarse.subarray(0, P / 16).reduce((x, y) => x + y) / (P / 16);
  assertAlmostEquals(coarseMean, fineMean, 0.2);
});

Deno.test("synthetic: statistics normalise the generated set to mean 0, std 1", async () => {
  const ds = SyntheticDataset.create({
    seed: 1,
    numSamples: 8,
    imageShape: [32, 32],
    upsampleFactor: 2,
    statsSamples: 8,
  });
  const [H, W] = ds.imageShape();
  for (const [c] of ds.outputVariables.entries()) {
    let s = 0, ss = 0, n = 0;
    for (let i = 0; i < ds.length; i++) {
      for (const v of (await ds.item(i)).target.subarray(c * H * W, (c + 1) * H * W)) {
        s += v, ss += v * v, n++;
      }
    }
    assertAlmostEquals(s / n, 0, 1e-4);
    assertAlmostEquals(Math.sqrt(ss / n - (s / n) ** 2), 1, 1e-4);
  }
  const stats = ds.stats();
  assert(stats.output.t2m.mean > 270 && stats.output.t2m.mean < 300, "t2m near 285 K");
  assert(stats.input.t2m.std < stats.output.t2m.std, "the coarse field is smoother");
});

Deno.test("synthetic: written as an HRRR-mini file, the hrrr_mini reader serves identical items", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ds = await createDataset({
      type: "synthetic",
      seed: 9,
      num_samples: 5,
      image_shape: [24, 32],
      upsample_factor: 4,
      output_variables: ["t2m", "u10"],
      input_variables: ["v10", "t2m"],
      invariant_variables: ["lsm_mean"],
    }) as SyntheticDataset;
    const files = await writeSyntheticAsHrrrMini(`${dir}/train.nc`, ds);
    assertEquals(files.statsPath, `${dir}/stats.json`);
    const back = await HrrrMiniDataset.open({
      ...files,
      inputVariables: ds.inputVariables,
      outputVariables: ds.outputVariables,
      invariantVariables: ds.invariantVariables,
    });
    assertEquals(back.length, 5);
    assertEquals(back.imageShape(), [24, 32]);
    assertEquals(back.time().map(Number), ds.time().map(Number));
    assertEquals(back.inputChannels(), ds.inputChannels());
    for (let t = 0; t < 5; t++) {
      const [x, y] = [await ds.item(t), await back.item(t)];
      assertEquals(maxAbsDiff(x.input, y.input), 0, `input ${t}`);
      assertEquals(maxAbsDiff(x.target, y.target), 0, `target ${t}`);
    }
    // Without explicit variables the reader takes the groups in file order.
    const defaults = await HrrrMiniDataset.open({ ...files, invariantVariables: null });
    assertEquals(defaults.inputChannels().map((c) => c.name), ["v10", "t2m", "lsm_mean"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("synthetic: aliases keep the requested channel names; bad options name the key", async () => {
  const named = await createDataset({
    type: "synthetic",
    num_samples: 3,
    input_variables: ["u10m", "v10m"],
    output_variables: ["u10m", "v10m"],
    invariant_variables: ["orography"],
  }) as SyntheticDataset;
  assertEquals(named.inputChannels().map((c) => `${c.name}:${c.units}`), [
    "u10m:m s-1",
    "v10m:m s-1",
    "orography:m",
  ]);
  const plain = SyntheticDataset.create({
    numSamples: 3,
    outputVariables: ["u10"],
    invariantVariables: ["elev_mean"],
  });
  assertEquals(maxAbsDiff(named.sample(2).fine.subarray(0, 64 * 64), plain.sample(2).fine), 0);
  assertEquals(maxAbsDiff(named.invariantField("orography"), plain.invariantField("elev_mean")), 0);
  assertEquals(named.time()[1].toISOString(), "2000-01-01T01:00:00.000Z");

  await assertRejects(
    () => createDataset({ type: "synthetic", image_shape: [30, 32] }),
    undefined,
    "image_shape [30,32] must be multiples of upsample_factor 4",
  );
  await assertRejects(
    () => createDataset({ type: "synthetic", upsample_factor: 2.5 }),
    undefined,
    "'upsample_factor' must be an integer >= 1, got 2.5",
  );
  await assertRejects(
    () => createDataset({ type: "synthetic", output_variables: ["t2m", "rain"] }),
    undefined,
    "output_variables has unknown name(s) rain",
  );
  await assertRejects(
    () => createDataset({ type: "synthetic", sead: 1 }),
    undefined,
    "unknown option(s) 'sead'",
  );
});

Deno.test("synthetic: with lead_time_steps, items carry lead time k mod N and the coarse inputs drift 1 unit a step", async () => {
  const opts = { numSamples: 6, imageShape: [16, 16] as [number, number], statsSamples: 6 };
  const plain = SyntheticDataset.create(opts);
  const lead = SyntheticDataset.create({ ...opts, leadTimeSteps: 4 });
  const n = 16 * 16, fields = lead.inputVariables.length;
  for (let k = 0; k < 6; k++) {
    assertEquals((await lead.item(k)).leadTime, k % 4);
    assertEquals((await plain.item(k)).leadTime, undefined);
    const a = plain.rawItem(k), b = lead.rawItem(k);
    assertEquals([...b.target], [...a.target]);
    for (let i = 0; i < a.input.length; i++) {
      // the fields drift; the invariants after them do not
      assertAlmostEquals(b.input[i] - a.input[i], i < fields * n ? k % 4 : 0, 1e-4);
    }
  }
  await assertRejects(
    () => createDataset({ type: "synthetic", lead_time_steps: -1 }),
    Error,
    "'lead_time_steps' must be an integer >= 0, got -1",
  );
});
