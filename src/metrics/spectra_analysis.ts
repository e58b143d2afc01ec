/**
 * The spectral evaluation of a generated file: per output variable and series (all members,
 * ensemble mean, truth, input), the 1-D spectrum along x, the isotropic spectrum and the ACF;
 * and the correlation length of a residual field, which sets the smallest sensible patch size.
 *
 * Works on plain arrays (see {@link GeneratedFields}), so it does not depend on a file reader.
 */

import {
  autocorrelation,
  averagePowerSpectrum,
  correlationLength,
  radialPowerSpectrum,
  suggestPatchSize,
  swapLastAxes,
} from "./spectra.ts";

/** One output variable of a generated file, flat row-major arrays. */
export interface GeneratedVariable {
  /** Variable name in the file. */
  name: string;
  /** Physical units, when the file states them. */
  units?: string;
  /** (time, y, x). */
  truth: ArrayLike<number>;
  /** (ensemble, time, y, x). */
  prediction: ArrayLike<number>;
  /** The upsampled input of the same name, (time, y, x), when there is one. */
  input?: ArrayLike<number>;
}

/** What the analysis needs from a generated file. */
export interface GeneratedFields {
  /** Ensemble members. */
  ensemble: number;
  /** Times. */
  time: number;
  /** Grid rows (y). */
  height: number;
  /** Grid columns (x). */
  width: number;
  /** The output variables to analyse. */
  variables: GeneratedVariable[];
}

/**
 * The residual whose correlation length is measured:
 * - `truth-mean`: truth minus the ensemble mean, the structure the mean misses; the mean stands in
 *   for the regression output the reference's README uses (it is not in the file);
 * - `truth-input`: truth minus the upsampled input, for variables that have an input;
 * - `member-mean`: each member minus the ensemble mean, the structure the generator adds.
 */
export type ResidualKind = "truth-mean" | "truth-input" | "member-mean";

/** The residual kinds, for argument checking. */
export const RESIDUAL_KINDS: readonly ResidualKind[] = ["truth-mean", "truth-input", "member-mean"];

/** Options of {@link analyseSpectra}; spacings in km. */
export interface SpectraOptions {
  /** Grid spacing along x (columns), km. */
  dx: number;
  /** Grid spacing along y (rows), km. */
  dy: number;
  /** The ACF level that defines the correlation length. */
  threshold: number;
  /** The residual whose ACF gives the correlation length. */
  residual: ResidualKind;
  /** Patch sides are rounded up to a multiple of this (default 32). */
  patchMultiple?: number;
}

/** Default ACF threshold; see the CLI's help for why 0.1 rather than 1/e. */
export const DEFAULT_ACF_THRESHOLD = 0.1;

/** Spectra of one series of one variable. */
export interface SeriesSpectra {
  /** "prediction" (all members), "ensemble_mean", "truth" or "input". */
  series: string;
  /** 1-D periodogram along x, averaged over everything else. */
  spectrum: Float64Array;
  /** Isotropic spectrum on {@link VariableSpectra.wavenumbers}. */
  radial: Float64Array;
  /** ACF along x, 1 at lag 0, on {@link VariableSpectra.lagX}. */
  acf: Float64Array;
}

/** Spectra and residual correlation of one variable. */
export interface VariableSpectra {
  /** Variable name. */
  name: string;
  /** Physical units, when known. */
  units?: string;
  /** Frequencies of the 1-D spectra, cycles per km. */
  freqs: Float64Array;
  /** Wavenumbers of the isotropic spectra, cycles per km. */
  wavenumbers: Float64Array;
  /** Lag distances along x and y, km. */
  lagX: Float64Array;
  /** Lag distances along y, km. */
  lagY: Float64Array;
  /** Spectra of each series: prediction, ensemble_mean, truth, then input when there is one. */
  series: SeriesSpectra[];
  /** ACF of the residual along x and y. */
  residualAcfX: Float64Array;
  /** ACF of the residual along y. */
  residualAcfY: Float64Array;
  /** Lags (pixels) where the residual ACF first drops below the threshold; undefined: never. */
  correlationPixels: { x?: number; y?: number };
}

/** The whole analysis. */
export interface SpectraAnalysis {
  /** The options the analysis ran with. */
  options: SpectraOptions;
  /** Per-variable results, in the file's order. */
  variables: VariableSpectra[];
  /** Smallest square patch side (pixels) spanning every variable's correlation length. */
  patch: { size: number; wholeImage: boolean };
}

/** Runs the spectral evaluation over every variable. */
export function analyseSpectra(fields: GeneratedFields, options: SpectraOptions): SpectraAnalysis {
  const { ensemble: e, time: t, height: h, width: w } = fields;
  if (fields.variables.length === 0) throw new Error("spectra: the file has no output variables");
  const variables = fields.variables.map((v) => analyseVariable(v, e, t, h, w, options));
  const lengths = variables.flatMap((v) => [v.correlationPixels.x, v.correlationPixels.y]);
  return { options, variables, patch: suggestPatchSize(lengths, [h, w], options.patchMultiple ?? 32) };
}

function analyseVariable(
  v: GeneratedVariable,
  e: number,
  t: number,
  h: number,
  w: number,
  options: SpectraOptions,
): VariableSpectra {
  const { dx, dy } = options;
  const plane = t * h * w;
  checkField(v.name, "prediction", v.prediction, e * plane);
  checkField(v.name, "truth", v.truth, plane);
  if (v.input) checkField(v.name, "input", v.input, plane);
  const mean = ensembleMean(v.prediction, e, plane);
  const named: [string, ArrayLike<number>, number[]][] = [
    ["prediction", v.prediction, [e, t, h, w]],
    ["ensemble_mean", mean, [t, h, w]],
    ["truth", v.truth, [t, h, w]],
  ];
  if (v.input) named.push(["input", v.input, [t, h, w]]);
  const computed = named.map(([series, data, shape]) => ({
    series,
    periodogram: averagePowerSpectrum(data, shape, dx),
    isotropic: radialPowerSpectrum(data, shape, dy, dx),
  }));
  const series = computed.map(({ series, periodogram, isotropic }) => ({
    series,
    spectrum: periodogram.spectrum,
    radial: isotropic.spectrum,
    acf: autocorrelation(periodogram.spectrum, w),
  }));
  const { data: residual, count } = residualField(v, mean, e, t, options.residual);
  const residualAcfX = autocorrelation(averagePowerSpectrum(residual, [count, h, w], dx).spectrum, w);
  const residualAcfY = autocorrelation(
    averagePowerSpectrum(swapLastAxes(residual, [count, h, w]), [count, w, h], dy).spectrum,
    h,
  );
  return {
    name: v.name,
    units: v.units,
    freqs: computed[0].periodogram.freqs,
    wavenumbers: computed[0].isotropic.wavenumbers,
    lagX: Float64Array.from(residualAcfX, (_, j) => j * dx),
    lagY: Float64Array.from(residualAcfY, (_, j) => j * dy),
    series,
    residualAcfX,
    residualAcfY,
    correlationPixels: {
      x: correlationLength(residualAcfX, options.threshold),
      y: correlationLength(residualAcfY, options.threshold),
    },
  };
}

function checkField(variable: string, group: string, data: ArrayLike<number>, expected: number): void {
  if (data.length !== expected) {
    throw new Error(`spectra: ${group}/${variable} has ${data.length} values, expected ${expected}`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(
        `spectra: ${group}/${variable} has a non-finite value at flat index ${i} (unwritten cells?)`,
      );
    }
  }
}

function ensembleMean(prediction: ArrayLike<number>, e: number, plane: number): Float64Array {
  const mean = new Float64Array(plane);
  for (let m = 0; m < e; m++) for (let i = 0; i < plane; i++) mean[i] += prediction[m * plane + i];
  for (let i = 0; i < plane; i++) mean[i] /= e;
  return mean;
}

/** The residual as `count` (y, x) slices. */
function residualField(
  v: GeneratedVariable,
  mean: Float64Array,
  e: number,
  t: number,
  kind: ResidualKind,
): { data: Float64Array; count: number } {
  if (kind === "truth-mean") return { data: Float64Array.from(mean, (m, i) => v.truth[i] - m), count: t };
  if (kind === "truth-input") {
    const input = v.input;
    if (!input) throw new Error(`spectra: residual truth-input needs input/${v.name}, which the file lacks`);
    return { data: Float64Array.from(mean, (_, i) => v.truth[i] - input[i]), count: t };
  }
  if (e < 2) throw new Error(`spectra: residual member-mean needs at least 2 members, the file has ${e}`);
  const plane = mean.length;
  const data = new Float64Array(e * plane);
  for (let m = 0; m < e; m++) {
    for (let i = 0; i < plane; i++) data[m * plane + i] = v.prediction[m * plane + i] - mean[i];
  }
  return { data, count: e * t };
}
