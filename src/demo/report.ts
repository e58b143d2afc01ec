/**
 * An evaluation report of a generation file against the interpolation baselines, as
 * `deno task evaluate` writes it and examples/real-data.md shows it: the score table (ensemble,
 * regression mean, bilinear and bicubic, with the fine-scale power share), a sample map and the
 * 1-D spectra along x, as Markdown, JSON and PNG/SVG.
 *
 * The bicubic baseline needs the coarse input, which a generation file does not keep: it is read from
 * the HRRR-mini-layout data file the run used, matching each generated sample by its time and its
 * truth (several samples may share a time, as FMI radar windows do).
 */
import { join } from "node:path";
import { HrrrMiniDataset } from "../data/hrrr_mini.ts";
import { resizeCubic } from "../data/resample.ts";
import { GenerationReader } from "../io/generation_reader.ts";
import { type RowSpectrum, rowSpectrum } from "../metrics/fine_scale.ts";
import { type LineSeries, sampleMapChart, spectraChart } from "../plot/charts.ts";
import { writeChart } from "../plot/render.ts";
import {
  evaluateGeneration,
  formatScoreTable,
  type GenerationEvaluation,
  mapVariables,
  readGeneratedFile,
} from "./evaluate.ts";

/** Options of {@link writeEvaluationReport}. */
export interface ReportOptions {
  /** Directory the report is written to (created). */
  outDir: string;
  /** A generation file of the same samples written with `generation.inference_mode=regression`. */
  regressionPath?: string;
  /** The HRRR-mini-layout file the samples came from: adds the bicubic baseline. */
  dataPath?: string;
  /** Its statistics file (default: stats.json beside it). */
  statsPath?: string;
  /** Fine pixels per coarse cell (default: the data file's, when given). */
  upsampleFactor?: number;
  /** Score the first n members only. */
  members?: number;
  /** Time index of the sample map (default 0). */
  mapTime?: number;
}

/** What {@link writeEvaluationReport} computed and wrote. */
export interface EvaluationReport {
  evaluation: GenerationEvaluation;
  upsampleFactor?: number;
  /** Markdown table lines (also in scores.md). */
  table: string[];
  files: string[];
}

/** Bicubic upsampling of a data file's coarse inputs, for the samples of a generation file. */
export interface BicubicBaseline {
  factor: number;
  field: (name: string, t: number) => Float32Array | null;
}

/**
 * Matches every sample of `generatedPath` to a sample of the data file (same time, same truth) and
 * returns the bicubic upsampling of its coarse input, per output variable that is also an input.
 */
export async function bicubicBaseline(
  generatedPath: string,
  dataPath: string,
  statsPath = join(dataPath, "..", "stats.json"),
): Promise<BicubicBaseline> {
  const ds = await HrrrMiniDataset.open({ dataPath, statsPath, invariantVariables: [] });
  const reader = await GenerationReader.open(generatedPath);
  try {
    const factor = Number(ds.info().upsample_factor);
    const [H, W] = ds.imageShape();
    if (H !== reader.ny || W !== reader.nx) {
      throw new Error(`${dataPath}: samples are ${H}x${W}, ${generatedPath} holds ${reader.ny}x${reader.nx}`);
    }
    const h = H / factor, w = W / factor;
    const inNames = ds.inputChannels().map((c) => c.name);
    const outNames = ds.outputChannels().map((c) => c.name);
    const dsTimes = ds.time().map((d) => d.getTime());
    const dates = reader.time.dates;
    if (!dates) {
      throw new Error(`${generatedPath}: its times are not dates, so they cannot be matched to ${dataPath}`);
    }
    const fields = new Map<string, Float32Array[]>();
    for (const v of reader.variables.prediction) {
      const ci = inNames.indexOf(v.name), co = outNames.indexOf(v.name);
      if (ci < 0 || co < 0) continue;
      const perTime: Float32Array[] = [];
      for (let t = 0; t < reader.nTime; t++) {
        const truth = reader.readField("truth", v.name, t);
        const i = matchSample(ds, dsTimes, dates[t].getTime(), co, truth);
        if (i < 0) {
          throw new Error(
            `${dataPath}: no sample at ${
              dates[t].toISOString()
            } has the truth of ${generatedPath} (time index ${t})`,
          );
        }
        const coarse = ds.coarseInput(i).subarray(ci * h * w, (ci + 1) * h * w);
        perTime.push(resizeCubic(coarse, 1, h, w, H, W));
      }
      fields.set(v.name, perTime);
    }
    return { factor, field: (name, t) => fields.get(name)?.[t] ?? null };
  } finally {
    reader.close();
  }
}

function matchSample(
  ds: HrrrMiniDataset,
  times: number[],
  ms: number,
  channel: number,
  truth: Float32Array,
): number {
  const n = truth.length;
  for (let i = 0; i < times.length; i++) {
    if (times[i] !== ms) continue;
    const target = ds.rawTarget(i).subarray(channel * n, (channel + 1) * n);
    let worst = 0;
    for (let k = 0; k < n; k++) worst = Math.max(worst, Math.abs(target[k] - truth[k]));
    if (worst <= 1e-4 * (1 + Math.abs(truth[0]))) return i;
  }
  return -1;
}

/** Spectra along x of truth, members, regression mean and the baselines, one chart per variable. */
function spectraSeries(
  file: Awaited<ReturnType<typeof readGeneratedFile>>,
  name: string,
  extra: Record<string, Float32Array[]>,
): LineSeries[] {
  const v = file.variables.find((x) => x.name === name)!;
  const { height: h, width: w } = file;
  const line = (label: string, s: RowSpectrum): LineSeries => ({ name: label, x: s.wavenumber, y: s.power });
  const series = [
    line("truth", rowSpectrum([v.truth], h, w)),
    line("CorrDiff members", rowSpectrum([v.prediction], h, w)),
  ];
  for (const [label, fields] of Object.entries(extra)) {
    if (fields.length) series.push(line(label, rowSpectrum(fields, h, w)));
  }
  return series;
}

/**
 * Scores `generatedPath` against the baselines and writes `scores.md`, `scores.json`,
 * `map.{svg,png}` and `spectra_<variable>.{svg,png}` into `o.outDir`.
 */
export async function writeEvaluationReport(
  generatedPath: string,
  o: ReportOptions,
): Promise<EvaluationReport> {
  const bicubic = o.dataPath ? await bicubicBaseline(generatedPath, o.dataPath, o.statsPath) : null;
  const factor = o.upsampleFactor ?? bicubic?.factor;
  const evaluation = await evaluateGeneration(generatedPath, {
    regressionPath: o.regressionPath,
    members: o.members,
    upsampleFactor: factor,
    bicubic: bicubic?.field,
  });
  await Deno.mkdir(o.outDir, { recursive: true });
  const files: string[] = [];
  const table = formatScoreTable(evaluation, { markdown: true });
  const md = [
    `Scores of ${generatedPath} (${evaluation.nTime} samples, ${evaluation.nEnsemble} members)` +
    (factor
      ? `; fine-scale power: share of the truth's power along x above the coarse Nyquist (factor ${factor})`
      : ""),
    "",
    ...table,
    "",
  ].join("\n");
  await writeText(join(o.outDir, "scores.md"), md);
  const summary = evaluation.variables.map((v) => ({ name: v.name, units: v.units, ...v.summary }));
  await writeText(
    join(o.outDir, "scores.json"),
    JSON.stringify({ path: generatedPath, upsampleFactor: factor, summary }, null, 1),
  );
  files.push(join(o.outDir, "scores.md"), join(o.outDir, "scores.json"));

  const file = await readGeneratedFile(generatedPath);
  const t = o.mapTime ?? 0;
  const map = sampleMapChart(mapVariables(file, t, 2), {
    height: file.height,
    width: file.width,
    title: `${file.times[t] ?? `time ${t}`}`,
  });
  files.push(...Object.values(await writeChart(map, join(o.outDir, "map"))));
  const regression = o.regressionPath ? await readGeneratedFile(o.regressionPath) : null;
  for (const v of file.variables) {
    const plane = file.height * file.width;
    const planes = (data: ArrayLike<number> | undefined, n: number) =>
      data
        ? Array.from(
          { length: n },
          (_, i) => Float32Array.from({ length: plane }, (_, k) => data[i * plane + k]),
        )
        : [];
    const extra: Record<string, Float32Array[]> = {
      "regression mean": planes(regression?.variables.find((x) => x.name === v.name)?.prediction, file.time),
      bilinear: planes(v.input, file.time),
      bicubic: bicubic
        ? Array.from({ length: file.time }, (_, i) => bicubic.field(v.name, i)).filter((f) => f !== null)
        : [],
    };
    const spec = spectraChart(spectraSeries(file, v.name, extra), {
      title: `${v.name}: mean power along x (Hann window)` +
        (factor ? `; coarse Nyquist at ${(1 / (2 * factor)).toFixed(3)}` : ""),
      xTitle: "wavenumber (cycles per grid cell)",
      yTitle: "power",
    });
    files.push(...Object.values(await writeChart(spec, join(o.outDir, `spectra_${v.name}`))));
  }
  return { evaluation, upsampleFactor: factor, table, files };
}

async function writeText(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}
