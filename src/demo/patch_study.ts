/**
 * The exploratory power-spectrum analysis of the reference for choosing the patch size of patched
 * diffusion training: spectra (1-D along x and isotropic) and autocorrelations of a dataset's target
 * fields and of the residual left after the regression step, the distance at which the residual's
 * autocorrelation has fallen near zero, and the smallest patch that spans it.
 *
 * The residual is what the diffusion model learns, so a patch must be wider than the distance over
 * which the residual stays correlated; otherwise each patch sees only part of a coherent structure.
 *
 * Works on plain (time, y, x) arrays in physical units, from a generation file or straight from a
 * dataset ({@link fieldsFromDataset}), with or without a regression mean.
 */
import { channelName } from "../data/base.ts";
import type { DownscalingDataset } from "../data/dataset.ts";
import { loadRegressionModel } from "../generate/models.ts";
import { regressionMean } from "../generate/sampling.ts";
import { initRuntime } from "../gpu/runtime.ts";
import {
  autocorrelation,
  averagePowerSpectrum,
  correlationLength,
  gridSpacingKm,
  radialPowerSpectrum,
  suggestPatchSize,
  swapLastAxes,
} from "../metrics/spectra.ts";
import { DEFAULT_ACF_THRESHOLD } from "../metrics/spectra_analysis.ts";
import { acfChart, type LineSeries, spectraChart } from "../plot/charts.ts";
import type { GeneratedFile } from "./evaluate.ts";

/** One variable's fields, (time, y, x) row-major, physical units. */
export interface StudyVariable {
  /** Variable name, as in titles and chart file names. */
  name: string;
  /** Physical units, when known (used in axis titles). */
  units?: string;
  /** The target field (time, y, x). */
  truth: ArrayLike<number>;
  /** The upsampled coarse input of the same variable, when there is one. */
  input?: ArrayLike<number>;
  /** The regression mean, when a regression model was run. */
  mean?: ArrayLike<number>;
}

/** Fields of one dataset to study. */
export interface StudyFields {
  /** A name for titles ("synthetic", "ERA5 UK t2m"). */
  label: string;
  /** Number of times. */
  time: number;
  /** Grid height, pixels. */
  height: number;
  /** Grid width, pixels. */
  width: number;
  /** Grid spacing, km, and how it was found. */
  dx: number;
  /** Grid spacing along y, km. */
  dy: number;
  /** How the grid spacing was found, as text for the report. */
  spacing: string;
  /** The variables studied. */
  variables: StudyVariable[];
}

/** Spectra and autocorrelations of one series (a field or a residual). */
export interface StudySeries {
  /** "truth", "regression mean", "bilinear input", "truth − regression mean", "truth − bilinear input". */
  name: string;
  /** Whether the series is a residual (truth minus a mean or input) rather than a field. */
  residual: boolean;
  /** 1-D periodogram along x, on {@link StudyVariableResult.freqs}. */
  spectrum: Float64Array;
  /** Isotropic spectrum on {@link StudyVariableResult.wavenumbers}. */
  radial: Float64Array;
  /** Autocorrelation along x and y (lag 0 = 1). */
  acfX: Float64Array;
  /** Autocorrelation along y (lag 0 = 1). */
  acfY: Float64Array;
  /** Lags (pixels) where the ACF first falls below the threshold; undefined: not within the domain. */
  lengthX?: number;
  /** As `lengthX`, along y. */
  lengthY?: number;
}

/** The study of one variable. */
export interface StudyVariableResult {
  /** Variable name. */
  name: string;
  /** Physical units, when known. */
  units?: string;
  /** Frequencies of the 1-D spectra along x, 1/km. */
  freqs: Float64Array;
  /** Wavenumbers of the isotropic spectra, 1/km. */
  wavenumbers: Float64Array;
  /** Lag distances, km. */
  lagX: Float64Array;
  /** Lag distances along y, km. */
  lagY: Float64Array;
  /** Truth, means, inputs and residuals, in the order computed. */
  series: StudySeries[];
}

/** The whole study of a dataset. */
export interface PatchStudy {
  /** The fields studied. */
  fields: StudyFields;
  /** Autocorrelation taken as "near zero". */
  threshold: number;
  /** The residual that sets the patch: the regression residual when there is a mean, else truth − input. */
  residual: string;
  /** The study of each variable. */
  variables: StudyVariableResult[];
  /** Smallest square patch (a multiple of `multiple` pixels) spanning the residual's correlation length. */
  patch: { size: number; wholeImage: boolean; multiple: number };
}

function series(
  name: string,
  residual: boolean,
  data: ArrayLike<number>,
  f: StudyFields,
  threshold: number,
): StudySeries {
  const { time: t, height: h, width: w, dx, dy } = f;
  const px = averagePowerSpectrum(data, [t, h, w], dx);
  const py = averagePowerSpectrum(swapLastAxes(data, [t, h, w]), [t, w, h], dy);
  const acfX = autocorrelation(px.spectrum, w), acfY = autocorrelation(py.spectrum, h);
  return {
    name,
    residual,
    spectrum: px.spectrum,
    radial: radialPowerSpectrum(data, [t, h, w], dy, dx).spectrum,
    acfX,
    acfY,
    lengthX: correlationLength(acfX, threshold),
    lengthY: correlationLength(acfY, threshold),
  };
}

const diff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Float64Array.from({ length: a.length }, (_, i) => a[i] - b[i]);

/**
 * Runs the study. `threshold` is the autocorrelation taken as "near zero" (default 0.1, as
 * `deno task spectra`); patches are multiples of `multiple` pixels (default 32, as the reference's
 * patching requires), capped at the domain.
 */
export function patchStudy(f: StudyFields, opts: { threshold?: number; multiple?: number } = {}): PatchStudy {
  const threshold = opts.threshold ?? DEFAULT_ACF_THRESHOLD, multiple = opts.multiple ?? 32;
  const n = f.time * f.height * f.width;
  const hasMean = f.variables.some((v) => v.mean);
  const residualName = hasMean ? "truth − regression mean" : "truth − bilinear input";
  const variables = f.variables.map((v): StudyVariableResult => {
    for (const [k, d] of [["truth", v.truth], ["input", v.input], ["mean", v.mean]] as const) {
      if (d && d.length !== n) {
        throw new Error(`patch study: ${v.name} ${k} has ${d.length} values, expected ${n}`);
      }
    }
    const all = [series("truth", false, v.truth, f, threshold)];
    if (v.mean) all.push(series("regression mean", false, v.mean, f, threshold));
    if (v.input) all.push(series("bilinear input", false, v.input, f, threshold));
    if (v.mean) all.push(series("truth − regression mean", true, diff(v.truth, v.mean), f, threshold));
    if (v.input) all.push(series("truth − bilinear input", true, diff(v.truth, v.input), f, threshold));
    const px = averagePowerSpectrum(v.truth, [f.time, f.height, f.width], f.dx);
    const radial = radialPowerSpectrum(v.truth, [f.time, f.height, f.width], f.dy, f.dx);
    return {
      name: v.name,
      units: v.units,
      freqs: px.freqs,
      wavenumbers: radial.wavenumbers,
      lagX: Float64Array.from(all[0].acfX, (_, j) => j * f.dx),
      lagY: Float64Array.from(all[0].acfY, (_, j) => j * f.dy),
      series: all,
    };
  });
  const lengths = variables.flatMap((v) => {
    const r = v.series.find((s) => s.name === residualName);
    return r ? [r.lengthX, r.lengthY] : [];
  });
  const patch = suggestPatchSize(lengths, [f.height, f.width], multiple);
  return { fields: f, threshold, residual: residualName, variables, patch: { ...patch, multiple } };
}

/** The study's fields from a generation file: truth, input and the ensemble mean (a regression-only run's mean). */
export function fieldsFromGeneration(file: GeneratedFile, label: string): StudyFields {
  const plane = file.time * file.height * file.width;
  return {
    label,
    time: file.time,
    height: file.height,
    width: file.width,
    dx: file.dx,
    dy: file.dy,
    spacing: file.spacing,
    variables: file.variables.map((v) => {
      const mean = new Float64Array(plane);
      for (let m = 0; m < file.ensemble; m++) {
        for (let i = 0; i < plane; i++) mean[i] += v.prediction[m * plane + i] / file.ensemble;
      }
      return { name: v.name, units: v.units, truth: v.truth, input: v.input, mean };
    }),
  };
}

/** Options of {@link fieldsFromDataset}. */
export interface DatasetFieldsOptions {
  /** Times read, spread evenly over the dataset (default 32). */
  count?: number;
  /** Grid spacing in km along x and y (default: from the dataset's lat/lon, else 1 km: lags in pixels). */
  dx?: number;
  /** Grid spacing in km along y (default: `dx`, or from the dataset's lat/lon). */
  dy?: number;
  /** A regression checkpoint (file or checkpoint directory) whose mean is computed at each time. */
  regressionCheckpoint?: string;
}

/**
 * The study's fields straight from a dataset: the targets, their upsampled inputs and, with a
 * regression checkpoint, its mean, at `count` times spread evenly over the dataset, in physical
 * units. The grid spacing comes from the dataset's lat/lon when it has them.
 */
export async function fieldsFromDataset(
  ds: DownscalingDataset,
  label: string,
  opts: DatasetFieldsOptions = {},
): Promise<StudyFields> {
  const [h, w] = ds.imageShape();
  const n = Math.min(opts.count ?? 32, ds.length);
  const idx = Array.from({ length: n }, (_, k) => Math.floor((k * ds.length) / n));
  const outs = ds.outputChannels(), ins = ds.inputChannels();
  const inIndex = outs.map((c) => ins.findIndex((i) => i.name === c.name && !i.auxiliary));
  const plane = h * w;
  const truth = outs.map(() => new Float32Array(n * plane));
  const input = outs.map((_, c) => (inIndex[c] >= 0 ? new Float32Array(n * plane) : undefined));
  const mean = opts.regressionCheckpoint ? outs.map(() => new Float32Array(n * plane)) : undefined;
  const r = await initRuntime();
  const net = opts.regressionCheckpoint
    ? await loadRegressionModel(opts.regressionCheckpoint, {
      inputNames: ins.map(channelName),
      outputNames: outs.map(channelName),
      H: h,
      W: w,
    })
    : null;
  try {
    for (let k = 0; k < n; k++) {
      const item = await ds.item(idx[k]);
      const target = ds.denormalizeOutput(item.target), inp = ds.denormalizeInput(item.input);
      let mu: Float32Array | null = null;
      if (net) {
        const y = r.scope(() => regressionMean(net, r.upload(item.input, [1, ins.length, h, w])));
        mu = ds.denormalizeOutput(await y.read());
        y.release();
      }
      outs.forEach((_, c) => {
        const at = (a: Float32Array, j: number) => a.subarray(j * plane, (j + 1) * plane);
        truth[c].set(at(target, c), k * plane);
        if (input[c]) input[c]!.set(at(inp, inIndex[c]), k * plane);
        if (mu) mean![c].set(at(mu, c), k * plane);
      });
    }
  } finally {
    net?.ps.dispose();
  }
  let spacing = {
    dx: opts.dx ?? 1,
    dy: opts.dy ?? opts.dx ?? 1,
    text: opts.dx === undefined
      ? "no lat/lon: 1 km per pixel assumed, lags in pixels"
      : `dx ${opts.dx} km, dy ${opts.dy ?? opts.dx} km (given)`,
  };
  const lat = ds.latitude().data, lon = ds.longitude().data;
  if (
    opts.dx === undefined && lat.length === plane && lat.every(Number.isFinite) && lon.every(Number.isFinite)
  ) {
    const s = gridSpacingKm(Float32Array.from(lat), Float32Array.from(lon), h, w);
    spacing = {
      dx: s.dx,
      dy: s.dy,
      text: `dx ${s.dx.toFixed(2)} km, dy ${s.dy.toFixed(2)} km (from lat/lon)`,
    };
  }
  return {
    label,
    time: n,
    height: h,
    width: w,
    dx: spacing.dx,
    dy: spacing.dy,
    spacing: spacing.text,
    variables: outs.map((c, k) => ({
      name: c.name,
      units: c.units,
      truth: truth[k],
      input: input[k],
      mean: mean?.[k],
    })),
  };
}

function squared(units?: string): string {
  if (!units) return "1";
  return /^[A-Za-z%]+$/.test(units) ? `${units}²` : `(${units})²`;
}

/**
 * Per variable: the isotropic and 1-D spectra of the fields and residuals (log-log), and the
 * autocorrelation along x and y of the truth and of the residuals, with the threshold drawn.
 */
export function patchStudyCharts(study: PatchStudy): { name: string; spec: object }[] {
  const f = study.fields;
  return study.variables.flatMap((v) => {
    const heading = `${f.label}: ${v.units ? `${v.name} (${v.units})` : v.name}`;
    const yTitle = `Power spectral density (${squared(v.units)} km)`;
    const line = (
      x: ArrayLike<number>,
      pick: (s: StudySeries) => ArrayLike<number>,
      keep: (s: StudySeries) => boolean,
    ) => v.series.filter(keep).map((s): LineSeries => ({ name: s.name, x, y: pick(s) }));
    const acf: LineSeries[] = v.series.filter((s) => s.name === "truth" || s.residual).flatMap((s) => [
      { name: `${s.name}, along x`, x: v.lagX, y: s.acfX },
      { name: `${s.name}, along y`, x: v.lagY, y: s.acfY },
    ]);
    return [
      {
        name: `${v.name}_radial_spectra`,
        spec: spectraChart(line(v.wavenumbers, (s) => s.radial, () => true), {
          title: `${heading}: isotropic spectra`,
          xTitle: "Wavenumber (1/km)",
          yTitle,
        }),
      },
      {
        name: `${v.name}_spectra`,
        spec: spectraChart(line(v.freqs, (s) => s.spectrum, () => true), {
          title: `${heading}: 1-D spectra along x`,
          xTitle: "Frequency (1/km)",
          yTitle,
        }),
      },
      {
        name: `${v.name}_acf`,
        spec: acfChart(acf, {
          title: `${heading}: autocorrelation (dashed: ${study.threshold})`,
          threshold: study.threshold,
        }),
      },
    ];
  });
}

/** The findings as text: correlation lengths (pixels and km) of every series, and the patch size. */
export function formatPatchStudy(study: PatchStudy): string[] {
  const f = study.fields;
  const len = (l: number | undefined, d: number) =>
    l === undefined ? "beyond the domain" : `${l.toFixed(1)} px = ${(l * d).toFixed(1)} km`;
  const lines = [
    `${f.label}: ${f.time} times of ${f.height}x${f.width}; ${f.spacing}; autocorrelation threshold ${study.threshold}`,
  ];
  for (const v of study.variables) {
    for (const s of v.series.filter((s) => s.name === "truth" || s.residual)) {
      lines.push(
        `  ${v.name}, ${s.name}: falls below ${study.threshold} at ${len(s.lengthX, f.dx)} along x, ${
          len(s.lengthY, f.dy)
        } along y`,
      );
    }
  }
  const p = study.patch;
  lines.push(
    p.wholeImage
      ? `suggested patch: the whole ${f.height}x${f.width} domain (the ${study.residual} residual stays correlated over ` +
        `more than a ${p.multiple}-pixel multiple short of it): train without patches`
      : `suggested patch: ${p.size}x${p.size} pixels (the smallest multiple of ${p.multiple} spanning the ${study.residual} correlation length)`,
  );
  return lines;
}
