/**
 * Ensemble verification scores, as the reference's `score_samples.py` computes them, plus the
 * calibration diagnostics it lacks (spread-skill ratio, rank histogram).
 *
 * For one field (a variable at one time) with members x_1..x_n and truth y at every pixel:
 * - `rmse`    = sqrt(mean over pixels of (mean_i x_i - y)^2), the RMSE of the ensemble mean;
 * - `crps`    = mean over pixels of the empirical (non-"fair") ensemble CRPS
 *               (1/n) sum_i |x_i - y| - 1/(2 n^2) sum_ij |x_i - x_j|   (properscoring's crps_ensemble);
 * - `std_dev` = mean over pixels of the population (ddof = 0) standard deviation of the members;
 * - `mae`     = mean over pixels of |mean_i x_i - y| (the CRPS of the ensemble mean as one member).
 * Pixels where the truth or any member is NaN are left out of every mean, except that they make
 * `rmse` NaN, as the reference's `skipna=False` does.
 */
import { Rng } from "../util/rng.ts";

/** The reference's metric order along the `metric` axis. */
export const SCORE_METRICS = ["rmse", "crps", "std_dev", "mae"] as const;
/** One of {@link SCORE_METRICS}. */
export type ScoreMetric = typeof SCORE_METRICS[number];

/** Scores of one field (one variable at one time). */
export interface FieldScores {
  /** RMSE of the ensemble mean (NaN if any pixel is missing). */
  rmse: number;
  /** Mean empirical ensemble CRPS over the valid pixels. */
  crps: number;
  /** Mean population standard deviation of the members over the valid pixels (`std_dev`). */
  stdDev: number;
  /** Mean absolute error of the ensemble mean over the valid pixels. */
  mae: number;
  /** sqrt((1 + 1/n) * mean over pixels of the unbiased member variance): the spread expected to match `rmse`. */
  spread: number;
  /** `spread / rmse`: 1 for a calibrated ensemble, below 1 when it is under-dispersive. */
  spreadSkill: number;
  /** How many pixels the truth ranks 0..n among the n members (ties shared at random), length n + 1. */
  rankHistogram: Float64Array;
  /** Pixels that entered the scores (truth and every member finite). */
  validPixels: number;
}

/** Where one field's data lie in larger arrays (defaults: members back to back, offsets 0). */
export interface FieldLayout {
  /** Ensemble members n. */
  nEns: number;
  /** Pixels of one field. */
  nPixels: number;
  /** Distance between consecutive members in `members` (default `nPixels`). */
  memberStride?: number;
  /** Index of member 0's first pixel in `members` (default 0). */
  memberOffset?: number;
  /** Index of the first pixel in `truth` (default 0). */
  truthOffset?: number;
}

/** Options of the score functions. */
export interface ScoreOptions {
  /** Where to write the per-pixel CRPS (NaN at left-out pixels), from index `crpsOffset`. */
  crpsMap?: Float32Array | Float64Array;
  /** Index in `crpsMap` of the field's first pixel (default 0). */
  crpsOffset?: number;
  /** Breaks ties in the rank histogram reproducibly (default: a fixed seed). */
  rng?: Rng;
}

const TIE_SEED = 0x5c0e5;

/** Scores one field: `members` holds the n member fields, `truth` the observed field. */
export function scoreField(
  members: ArrayLike<number>,
  truth: ArrayLike<number>,
  layout: FieldLayout,
  opts: ScoreOptions = {},
): FieldScores {
  const { nEns: n, nPixels } = layout;
  const stride = layout.memberStride ?? nPixels;
  const m0 = layout.memberOffset ?? 0;
  const t0 = layout.truthOffset ?? 0;
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`scores: ensemble size must be >= 1, got ${n}`);
  if (m0 + (n - 1) * stride + nPixels > members.length || t0 + nPixels > truth.length) {
    throw new Error(
      `scores: ${n} members of ${nPixels} pixels (stride ${stride}) do not fit arrays of ` +
        `${members.length} (members) and ${truth.length} (truth) values`,
    );
  }
  const rng = opts.rng ?? new Rng(TIE_SEED);
  const sorted = new Float64Array(n);
  const rankHistogram = new Float64Array(n + 1);
  let sse = 0, sumCrps = 0, sumStd = 0, sumAbs = 0, sumVar = 0, valid = 0;
  let anyMissing = false;
  for (let p = 0; p < nPixels; p++) {
    const y = truth[t0 + p];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const x = members[m0 + i * stride + p];
      sorted[i] = x;
      sum += x;
    }
    if (Number.isNaN(y) || Number.isNaN(sum)) {
      anyMissing = true;
      if (opts.crpsMap) opts.crpsMap[(opts.crpsOffset ?? 0) + p] = NaN;
      continue;
    }
    const mean = sum / n;
    let ss = 0, absErr = 0;
    for (let i = 0; i < n; i++) {
      ss += (sorted[i] - mean) ** 2;
      absErr += Math.abs(sorted[i] - y);
    }
    sortSmall(sorted);
    const crps = absErr / n - giniMeanDifferenceHalf(sorted);
    if (opts.crpsMap) opts.crpsMap[(opts.crpsOffset ?? 0) + p] = crps;
    rankHistogram[rankOf(sorted, y, rng)] += 1;
    sse += (mean - y) ** 2;
    sumCrps += crps;
    sumStd += Math.sqrt(ss / n);
    sumAbs += Math.abs(mean - y);
    sumVar += n > 1 ? ss / (n - 1) : NaN;
    valid++;
  }
  const rmse = anyMissing || valid === 0 ? NaN : Math.sqrt(sse / valid);
  const spread = Math.sqrt((1 + 1 / n) * sumVar / valid);
  return {
    rmse,
    crps: sumCrps / valid,
    stdDev: sumStd / valid,
    mae: sumAbs / valid,
    spread,
    spreadSkill: spread / rmse,
    rankHistogram,
    validPixels: valid,
  };
}

/**
 * 1/(2 n^2) sum_ij |x_i - x_j| for sorted x, in O(n): sum_ij |x_i - x_j| = 2 sum_k (2k - n + 1) x_k
 * with k counted from 0.
 */
function giniMeanDifferenceHalf(sorted: Float64Array): number {
  const n = sorted.length;
  let s = 0;
  for (let k = 0; k < n; k++) s += (2 * k - n + 1) * sorted[k];
  return s / (n * n);
}

// Ensembles are small (tens of members), where insertion sort beats the native sort's call cost.
function sortSmall(a: Float64Array): void {
  if (a.length > 32) {
    a.sort();
    return;
  }
  for (let i = 1; i < a.length; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

// Rank of y among sorted members; with k members equal to y, each of the k + 1 tied ranks is
// equally likely (otherwise exact ties, common for bounded fields like precipitation, pile up at one end).
function rankOf(sorted: Float64Array, y: number, rng: Rng): number {
  let below = 0, equal = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i] < y) below++;
    else if (sorted[i] === y) equal++;
    else break;
  }
  return equal === 0 ? below : below + Math.min(equal, Math.floor(rng.uniform() * (equal + 1)));
}

/** Sizes of the arrays given to {@link computeScores}. */
export interface ScoreDims {
  /** Ensemble members. */
  nEns: number;
  /** Times. */
  nTime: number;
  /** Variables. */
  nVar: number;
  /** Grid rows. */
  ny: number;
  /** Grid columns. */
  nx: number;
}

/** Scores of a whole (time, variable) set of fields. */
export interface EnsembleScores {
  /** (metric, time, var) in {@link SCORE_METRICS} order: the reference's score array. */
  metrics: Float64Array;
  /** Per-pixel CRPS, (time, var, y, x). */
  crpsMap: Float32Array;
  /** Corrected ensemble spread, (time, var); see {@link FieldScores.spread}. */
  spread: Float64Array;
  /** Spread over RMSE, (time, var). */
  spreadSkill: Float64Array;
  /** Rank histogram counts summed over time, (var, nEns + 1). */
  rankHistogram: Float64Array;
}

/**
 * Scores an ensemble: `pred` is (ensemble, time, var, y, x) and `truth` (time, var, y, x), both
 * row-major. This is the entry point the golden `scores` case checks.
 */
export function computeScores(pred: Float32Array, truth: Float32Array, dims: ScoreDims): EnsembleScores {
  const { nEns, nTime, nVar, ny, nx } = dims;
  const nPixels = ny * nx;
  const fields = nTime * nVar;
  if (pred.length !== nEns * fields * nPixels) {
    throw new Error(
      `scores: pred has ${pred.length} values, (ensemble, time, var, y, x) = ` +
        `[${nEns}, ${nTime}, ${nVar}, ${ny}, ${nx}] needs ${nEns * fields * nPixels}`,
    );
  }
  if (truth.length !== fields * nPixels) {
    throw new Error(
      `scores: truth has ${truth.length} values, (time, var, y, x) = [${nTime}, ${nVar}, ${ny}, ${nx}] ` +
        `needs ${fields * nPixels}`,
    );
  }
  const metrics = new Float64Array(SCORE_METRICS.length * fields);
  const crpsMap = new Float32Array(fields * nPixels);
  const spread = new Float64Array(fields);
  const spreadSkill = new Float64Array(fields);
  const rankHistogram = new Float64Array(nVar * (nEns + 1));
  const rng = new Rng(TIE_SEED);
  for (let f = 0; f < fields; f++) {
    const s = scoreField(pred, truth, {
      nEns,
      nPixels,
      memberStride: fields * nPixels,
      memberOffset: f * nPixels,
      truthOffset: f * nPixels,
    }, { crpsMap, crpsOffset: f * nPixels, rng });
    metricValues(s).forEach((v, m) => metrics[m * fields + f] = v);
    spread[f] = s.spread;
    spreadSkill[f] = s.spreadSkill;
    const v = f % nVar;
    for (let r = 0; r <= nEns; r++) rankHistogram[v * (nEns + 1) + r] += s.rankHistogram[r];
  }
  return { metrics, crpsMap, spread, spreadSkill, rankHistogram };
}

/** A field's scores in {@link SCORE_METRICS} order. */
export function metricValues(s: FieldScores): number[] {
  return [s.rmse, s.crps, s.stdDev, s.mae];
}

/** Scores of one variable over all times, condensed for a report. */
export interface ScoreSummary {
  /** Mean over time of each metric, in {@link SCORE_METRICS} order. */
  means: number[];
  /** sqrt(mean spread^2) / sqrt(mean rmse^2) over all times: the whole run's spread-skill ratio. */
  spreadSkill: number;
  /** Rank histogram summed over time. */
  rankHistogram: Float64Array;
}

/** Condenses one variable's per-time scores. */
export function summarizeScores(perTime: FieldScores[]): ScoreSummary {
  if (perTime.length === 0) throw new Error("scores: nothing to summarise (no times)");
  const t = perTime.length;
  const means = SCORE_METRICS.map((_, m) => perTime.reduce((a, s) => a + metricValues(s)[m], 0) / t);
  const meanSq = (f: (s: FieldScores) => number) => perTime.reduce((a, s) => a + f(s) ** 2, 0) / t;
  const rankHistogram = new Float64Array(perTime[0].rankHistogram.length);
  for (const s of perTime) s.rankHistogram.forEach((c, r) => rankHistogram[r] += c);
  return { means, spreadSkill: Math.sqrt(meanSq((s) => s.spread) / meanSq((s) => s.rmse)), rankHistogram };
}
