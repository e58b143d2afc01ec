/**
 * Evaluation of a generation file (what `deno task generate` writes), as plain data for the demo and
 * the notebooks: scores of the ensemble next to two deterministic baselines (the bilinear upsampled
 * input and, when given, the regression mean), the fields for spectra, and the rows of sample maps.
 *
 * Scores follow `deno task score` (src/metrics/scores.ts): per variable and time, CRPS of the
 * ensemble, MAE and RMSE of its mean, member spread and the spread-skill ratio, and the rank
 * histogram. A deterministic field is scored as a one-member ensemble, so its CRPS equals its MAE.
 */
import { GenerationReader } from "../io/generation_reader.ts";
import { type FieldScores, scoreField, summarizeScores } from "../metrics/scores.ts";
import { gridSpacingKm } from "../metrics/spectra.ts";
import { finePowerShare } from "../metrics/fine_scale.ts";
import {
  analyseSpectra,
  DEFAULT_ACF_THRESHOLD,
  type GeneratedFields,
  type ResidualKind,
  type SpectraAnalysis,
} from "../metrics/spectra_analysis.ts";
import type { SampleMapVariable } from "../plot/charts.ts";

/** Scores of one forecast (ensemble or deterministic), condensed over time. */
export interface ScoreLine {
  /** Mean CRPS over time (equal to the MAE for a deterministic field). */
  crps: number;
  /** Mean absolute error of the (ensemble) mean, averaged over time. */
  mae: number;
  /** Root-mean-square error of the (ensemble) mean, averaged over time. */
  rmse: number;
  /** Mean member standard deviation (0 for a deterministic field). */
  stdDev: number;
  /** Spread over RMSE (NaN for a deterministic field). */
  spreadSkill: number;
  /**
   * Share of the truth's power above the coarse grid's Nyquist wavenumber that the forecast keeps
   * (members for the ensemble; see src/metrics/fine_scale.ts). Only with `upsampleFactor`.
   */
  finePower?: number;
}

/** The forecasts compared: the CorrDiff ensemble and the deterministic baselines. */
export type ForecastName = "ensemble" | "regression" | "bilinear" | "bicubic";

/** Legend labels of {@link ForecastName}. */
export const FORECAST_LABELS: Record<ForecastName, string> = {
  ensemble: "CorrDiff ensemble",
  regression: "regression mean",
  bilinear: "bilinear input",
  bicubic: "bicubic input",
};

/** One output variable's evaluation. */
export interface VariableEvaluation {
  /** Variable name in the file. */
  name: string;
  /** Units from the file's attributes ("" when none). */
  units: string;
  /** Per forecast present, its scores at every time. */
  perTime: Partial<Record<ForecastName, FieldScores[]>>;
  /** Per forecast present, the scores condensed over time (means; spread-skill over all times). */
  summary: Partial<Record<ForecastName, ScoreLine>>;
  /** Rank histogram of the truth among the ensemble members, summed over time (length n + 1). */
  rankHistogram: Float64Array;
}

/** The evaluation of one generation file. */
export interface GenerationEvaluation {
  /** The generation file scored. */
  path: string;
  /** Ensemble members scored. */
  nEnsemble: number;
  /** Times scored. */
  nTime: number;
  /** Grid rows (fine y). */
  ny: number;
  /** Grid columns (fine x). */
  nx: number;
  /** Time labels (ISO-8601 for dated files). */
  times: string[];
  /** Every output variable's evaluation, in the file's order. */
  variables: VariableEvaluation[];
}

/** Options of {@link evaluateGeneration}. */
export interface EvaluateOptions {
  /** A generation file of the same times written with `generation.inference_mode=regression`. */
  regressionPath?: string;
  /** Score the first n members only (default: all). */
  members?: number;
  /** Fine pixels per coarse cell: adds each forecast's fine-scale power share. */
  upsampleFactor?: number;
  /**
   * The bicubic baseline of variable `name` at time index `t` of the file (null: none). The file holds
   * only the bilinear upsampling, so the caller reads the coarse field from the dataset.
   */
  bicubic?: (name: string, t: number) => Float32Array | null;
}

function line(perTime: FieldScores[], finePower?: number): ScoreLine {
  const s = summarizeScores(perTime);
  const [rmse, crps, stdDev, mae] = s.means;
  return {
    crps,
    mae,
    rmse,
    stdDev,
    spreadSkill: s.spreadSkill,
    ...(finePower === undefined ? {} : { finePower }),
  };
}

/**
 * Scores every output variable of a generation file at every time: the ensemble, the file's own
 * upsampled input of the same name (the bilinear baseline for hrrr_mini-style data), and the
 * regression mean of `regressionPath`.
 */
export async function evaluateGeneration(
  path: string,
  opts: EvaluateOptions = {},
): Promise<GenerationEvaluation> {
  const reader = await GenerationReader.open(path);
  const regression = opts.regressionPath ? await GenerationReader.open(opts.regressionPath) : null;
  try {
    const n = opts.members ?? reader.nEnsemble;
    if (!(Number.isInteger(n) && n >= 1 && n <= reader.nEnsemble)) {
      throw new Error(`${path}: ${n} members requested, the file has ${reader.nEnsemble}`);
    }
    if (
      regression &&
      (regression.nTime !== reader.nTime || regression.ny !== reader.ny || regression.nx !== reader.nx)
    ) {
      throw new Error(`${opts.regressionPath}: not the same times and grid as ${path}`);
    }
    const nPixels = reader.ny * reader.nx;
    const inputs = new Set(reader.variables.input.map((v) => v.name));
    const truthNames = new Set(reader.variables.truth.map((v) => v.name));
    const variables = reader.variables.prediction.map((v): VariableEvaluation => {
      if (!truthNames.has(v.name)) throw new Error(`${path}: prediction/${v.name} has no truth/${v.name}`);
      const perTime: VariableEvaluation["perTime"] = { ensemble: [] };
      const fields: Partial<Record<ForecastName, Float32Array[]>> = { ensemble: [] };
      const truths: Float32Array[] = [];
      const add = (k: ForecastName, field: Float32Array, truth: Float32Array, nEns: number) => {
        (perTime[k] ??= []).push(scoreField(field, truth, { nEns, nPixels }));
        if (opts.upsampleFactor) (fields[k] ??= []).push(field);
      };
      for (let t = 0; t < reader.nTime; t++) {
        const truth = reader.readField("truth", v.name, t);
        if (opts.upsampleFactor) truths.push(truth);
        add("ensemble", reader.readField("prediction", v.name, t, n), truth, n);
        if (regression) add("regression", regression.readField("prediction", v.name, t, 1), truth, 1);
        if (inputs.has(v.name)) add("bilinear", reader.readField("input", v.name, t), truth, 1);
        const cubic = opts.bicubic?.(v.name, t);
        if (cubic) add("bicubic", cubic, truth, 1);
      }
      const summary: VariableEvaluation["summary"] = {};
      const f = opts.upsampleFactor;
      for (const [k, s] of Object.entries(perTime) as [ForecastName, FieldScores[]][]) {
        summary[k] = line(s, f ? finePowerShare(fields[k]!, truths, reader.ny, reader.nx, f) : undefined);
      }
      return {
        name: v.name,
        units: typeof v.attrs.units === "string" ? v.attrs.units : "",
        perTime,
        summary,
        rankHistogram: summarizeScores(perTime.ensemble!).rankHistogram,
      };
    });
    return {
      path,
      nEnsemble: n,
      nTime: reader.nTime,
      ny: reader.ny,
      nx: reader.nx,
      times: reader.time.labels,
      variables,
    };
  } finally {
    reader.close();
    regression?.close();
  }
}

/**
 * The condensed scores as a table: a block per variable, a row per forecast; fixed-width text, or a
 * Markdown table with `markdown`. The fine-scale power column appears when it was computed.
 */
export function formatScoreTable(ev: GenerationEvaluation, o: { markdown?: boolean } = {}): string[] {
  const fmt = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(3) : "--");
  const withFine = ev.variables.some((v) => Object.values(v.summary).some((s) => s?.finePower !== undefined));
  const head = ["variable", "forecast", "CRPS", "MAE", "RMSE", "spread", "spread/skill"];
  if (withFine) head.push("fine-scale power");
  const rows: string[][] = [];
  for (const v of ev.variables) {
    for (const k of ["ensemble", "regression", "bilinear", "bicubic"] as ForecastName[]) {
      const s = v.summary[k];
      if (!s) continue;
      const deterministic = k !== "ensemble";
      const row = [
        v.units ? `${v.name} (${v.units})` : v.name,
        FORECAST_LABELS[k],
        fmt(s.crps),
        fmt(s.mae),
        fmt(s.rmse),
        deterministic ? "--" : fmt(s.stdDev),
        deterministic ? "--" : fmt(s.spreadSkill),
      ];
      if (withFine) row.push(Number.isFinite(s.finePower) ? `${(100 * s.finePower!).toFixed(1)}%` : "--");
      rows.push(row);
    }
  }
  if (o.markdown) {
    const md = (r: string[]) => `| ${r.join(" | ")} |`;
    return [md(head), md(head.map((_, i) => (i < 2 ? "---" : "---:"))), ...rows.map(md)];
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmtRow = (r: string[]) =>
    r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [fmtRow(head), ...rows.map(fmtRow)];
}

/**
 * Relative improvement of the ensemble over the bilinear baseline, per variable: 1 - ensemble/bilinear
 * for CRPS (against the baseline's CRPS, which is its MAE), MAE and RMSE. Positive = better.
 */
export function skillOverBilinear(
  ev: GenerationEvaluation,
): { name: string; crps: number; mae: number; rmse: number; regressionRmse: number | null }[] {
  return ev.variables.filter((v) => v.summary.bilinear).map((v) => {
    const e = v.summary.ensemble!, b = v.summary.bilinear!, r = v.summary.regression;
    return {
      name: v.name,
      crps: 1 - e.crps / b.crps,
      mae: 1 - e.mae / b.mae,
      rmse: 1 - e.rmse / b.rmse,
      regressionRmse: r ? 1 - r.rmse / b.rmse : null,
    };
  });
}

/** Every field of a generation file in memory, with its grid spacing. */
export interface GeneratedFile extends GeneratedFields {
  /** The generation file read. */
  path: string;
  /** Time labels (ISO-8601 for dated files). */
  times: string[];
  /** Grid spacing in km: from the file's lat/lon, else the `dx` given (or 1 km per pixel). */
  dx: number;
  /** Grid spacing along y, km. */
  dy: number;
  /** How the grid spacing was found, as text for reports. */
  spacing: string;
}

/**
 * Reads a generation file whole (fine for the small files of the demo and the notebooks; `deno task
 * spectra` does the same). `dx` (km) is used when the file has no usable lat/lon grid (the synthetic
 * data), and overrides it when given.
 */
export async function readGeneratedFile(path: string, dx?: number): Promise<GeneratedFile> {
  const reader = await GenerationReader.open(path);
  try {
    const inputs = new Set(reader.variables.input.map((v) => v.name));
    const variables = reader.variables.prediction.map((v) => ({
      name: v.name,
      units: typeof v.attrs.units === "string" ? v.attrs.units : undefined,
      prediction: reader.readVariable("prediction", v.name),
      truth: reader.readVariable("truth", v.name),
      input: inputs.has(v.name) ? reader.readVariable("input", v.name) : undefined,
    }));
    let spacing = { dx: dx ?? 1, dy: dx ?? 1, description: `${dx ?? 1} km per pixel (given)` };
    if (dx === undefined) {
      const lat = reader.lat(), lon = reader.lon();
      const finite = (a: Float32Array | null) => a !== null && a.every(Number.isFinite);
      if (finite(lat) && finite(lon)) {
        const s = gridSpacingKm(lat!, lon!, reader.ny, reader.nx);
        spacing = {
          dx: s.dx,
          dy: s.dy,
          description: `dx ${s.dx.toFixed(2)} km, dy ${s.dy.toFixed(2)} km (from lat/lon)`,
        };
      } else {
        spacing.description =
          "no lat/lon in the file: 1 km per pixel assumed, so lags and wavelengths are in pixels";
      }
    }
    return {
      path,
      ensemble: reader.nEnsemble,
      time: reader.nTime,
      height: reader.ny,
      width: reader.nx,
      variables,
      times: reader.time.labels,
      dx: spacing.dx,
      dy: spacing.dy,
      spacing: spacing.description,
    };
  } finally {
    reader.close();
  }
}

/** Spectra of truth, members, ensemble mean and input, and the residual ACF, of a read file. */
export function spectraOf(
  file: GeneratedFile,
  opts: { residual?: ResidualKind; threshold?: number; patchMultiple?: number } = {},
): SpectraAnalysis {
  return analyseSpectra(file, {
    dx: file.dx,
    dy: file.dy,
    threshold: opts.threshold ?? DEFAULT_ACF_THRESHOLD,
    residual: opts.residual ?? "truth-mean",
    patchMultiple: opts.patchMultiple,
  });
}

/**
 * The rows of a sample map at time index `t`: per variable its input, the first `members` members,
 * the ensemble mean and the truth.
 */
export function mapVariables(file: GeneratedFile, t: number, members = 2): SampleMapVariable[] {
  const { height: h, width: w, time: nt, ensemble: ne } = file;
  if (!(Number.isInteger(t) && t >= 0 && t < nt)) throw new Error(`time index ${t} outside 0..${nt - 1}`);
  const plane = h * w;
  const at = (data: ArrayLike<number>, m: number) =>
    Float32Array.from({ length: plane }, (_, i) => data[(m * nt + t) * plane + i]);
  return file.variables.map((v) => {
    const all = Array.from({ length: ne }, (_, m) => at(v.prediction, m));
    const mean = new Float32Array(plane);
    for (const m of all) m.forEach((x, i) => (mean[i] += x / ne));
    const shown = all.slice(0, Math.max(1, Math.min(members, ne)));
    return {
      name: v.name,
      units: v.units,
      input: v.input ? at(v.input, 0) : undefined,
      member: shown[0],
      members: shown,
      mean,
      truth: at(v.truth, 0),
    };
  });
}
