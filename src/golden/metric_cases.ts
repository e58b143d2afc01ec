/**
 * Golden cases of the evaluation code: ensemble scores (score_samples.py) and the power-spectrum
 * helpers (inference/power_spectra.py). Registered on import; shapes come from the golden tensors.
 */
import { registerHandler } from "./handlers.ts";
import type { CaseContext, Outputs } from "./runner.ts";
import { computeScores } from "../metrics/scores.ts";
import {
  averagePowerSpectrum,
  computePowerSpectrum,
  haversine,
  powerSpectraToAcf,
} from "../metrics/spectra.ts";

function runScores(ctx: CaseContext): Promise<Outputs> {
  const g = ctx.golden;
  const pred = g.tensor(ctx.file, "pred"), truth = g.f32(ctx.file, "truth");
  const [nEns, nTime, nVar, ny, nx] = pred.shape;
  const s = computeScores(pred.data as Float32Array, truth, { nEns, nTime, nVar, ny, nx });
  return Promise.resolve(
    new Map<string, ArrayLike<number>>([["metrics", s.metrics], ["crps_map", s.crpsMap]]),
  );
}

function runSpectra(ctx: CaseContext): Promise<Outputs> {
  const g = ctx.golden;
  const data = g.tensor(ctx.file, "data");
  const d = g.f32(ctx.file, "d")[0];
  const cps = computePowerSpectrum(data.data as Float32Array, data.shape, d);
  const aps = averagePowerSpectrum(data.data as Float32Array, data.shape, d);
  const [lat1, lon1, lat2, lon2] = ["lat1", "lon1", "lat2", "lon2"].map((k) =>
    g.f32(ctx.file, `haversine.${k}`)
  );
  const meters = Float64Array.from(lat1, (_, i) => haversine(lat1[i], lon1[i], lat2[i], lon2[i]));
  return Promise.resolve(
    new Map<string, ArrayLike<number>>([
      ["compute_power_spectrum.freqs", cps.freqs],
      ["compute_power_spectrum.power", cps.power],
      ["average_power_spectrum.freqs", aps.freqs],
      ["average_power_spectrum.spectrum", aps.spectrum],
      ["power_spectra_to_acf.acf", powerSpectraToAcf(aps.freqs, aps.spectrum)],
      ["haversine.meters", meters],
    ]),
  );
}

registerHandler((ctx) => {
  const ins = ctx.spec.inputs ?? [];
  if (ins.includes("pred") && ins.includes("truth") && ctx.spec.outputs.includes("metrics")) return runScores;
  if (ins.includes("data") && ctx.spec.outputs.some((o) => o.startsWith("average_power_spectrum"))) {
    return runSpectra;
  }
  return null;
});
