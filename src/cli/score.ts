/**
 * `deno task score <generated.nc> <scores.nc> [--n-ensemble N] [--plots DIR]`
 *
 * Scores a generation file like the reference's `score_samples.py`: for every output variable and
 * time, rmse, crps, std_dev and mae over the grid, written as one float64 variable per channel with
 * dims (metric, time). Also written: the spread-skill ratio per time (group `spread_skill`) and the
 * rank histogram (group `rank_histogram`), which the reference lacks. The reference README's
 * `path=... output=...` form is accepted too.
 */
import { parseArgs } from "node:util";
import { GenerationReader } from "../io/generation_reader.ts";
import { type NcGroupSpec, type NcVarSpec, writeNetCDF4 } from "../io/netcdf_write.ts";
import {
  type FieldScores,
  metricValues,
  SCORE_METRICS,
  scoreField,
  summarizeScores,
} from "../metrics/scores.ts";
import { writeChart } from "../plot/render.ts";
import { cliErrorLine } from "../io/file_errors.ts";
import { setHdf5Verbose } from "../io/hdf5.ts";
import { acquireLock } from "../util/lock.ts";

const USAGE = `usage: deno task score <generated.nc> <scores.nc> [--n-ensemble N] [--plots DIR] [--verbose]
       deno task score path=<generated.nc> output=<scores.nc> [n_ensemble=N]

  --n-ensemble N  score the first N members only (default: all)
  --plots DIR     also draw the scores against time and the rank histograms (SVG and PNG) into DIR
  --verbose       on errors, also print the HDF5 library's own error stack and the program's stack trace`;

/** Per output variable, its scores at every time. */
interface ScoredRun {
  reader: GenerationReader;
  nEnsemble: number;
  variables: { name: string; attrs: Record<string, unknown>; perTime: FieldScores[] }[];
}

/** Runs the command with `args` (without the program name); returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let opts;
  try {
    opts = parseCommandLine(args);
  } catch (e) {
    console.error(`score: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  setHdf5Verbose(opts.verbose);
  // A second score run writing the same file refuses instead of racing this one.
  using _lock = acquireLock(opts.output, { purpose: "scoring" });
  const reader = await GenerationReader.open(opts.input);
  try {
    const run = scoreRun(reader, opts.nEnsemble);
    await writeNetCDF4(opts.output, scoresDataset(run));
    console.log(scoresTable(run));
    console.log(`wrote ${opts.output}`);
    if (opts.plots) {
      await Deno.mkdir(opts.plots, { recursive: true });
      for (const [name, spec] of Object.entries(scoresCharts(run))) {
        const paths = await writeChart(spec, `${opts.plots}/${name}`);
        console.log(`wrote ${paths.svg} and ${paths.png}`);
      }
    }
  } finally {
    reader.close();
  }
  return 0;
}

function parseCommandLine(args: string[]) {
  // The reference README's key=value form, mapped onto the flags.
  const keyed: Record<string, string> = {};
  const rest = args.filter((a) => {
    const m = a.match(/^(path|output|n_ensemble|n-ensemble|plots)=(.*)$/);
    if (m) keyed[m[1].replace("-", "_")] = m[2];
    return !m;
  });
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      "n-ensemble": { type: "string" },
      plots: { type: "string" },
      help: { type: "boolean", short: "h" },
      verbose: { type: "boolean", short: "v" },
    },
  });
  const files = [keyed.path, keyed.output].filter((x) => x !== undefined);
  const [input, output] = files.length === 2 ? files : positionals;
  const verbose = values.verbose ?? false;
  if (values.help) return { help: true, input: "", output: "", nEnsemble: -1, plots: undefined, verbose };
  if (
    files.length === 1 || (files.length === 0 && positionals.length !== 2) ||
    (files.length === 2 && positionals.length > 0)
  ) {
    throw new Error("expected an input generation file and an output scores file");
  }
  const nText = values["n-ensemble"] ?? keyed.n_ensemble ?? "-1";
  const nEnsemble = Number(nText);
  if (!Number.isInteger(nEnsemble) || nEnsemble === 0 || nEnsemble < -1) {
    throw new Error(`--n-ensemble must be a positive integer (or -1 for all), got "${nText}"`);
  }
  return { help: false, input, output, nEnsemble, plots: values.plots ?? keyed.plots, verbose };
}

/** Scores every prediction variable of the file at every time, one time step in memory at a time. */
function scoreRun(reader: GenerationReader, requested: number): ScoredRun {
  const nEnsemble = requested === -1 ? reader.nEnsemble : requested;
  if (nEnsemble > reader.nEnsemble) {
    throw new Error(`${reader.path}: --n-ensemble ${nEnsemble} but the file has ${reader.nEnsemble} members`);
  }
  const truthNames = new Set(reader.variables.truth.map((v) => v.name));
  const variables = reader.variables.prediction.map((v) => {
    if (!truthNames.has(v.name)) {
      throw new Error(`${reader.path}: prediction/${v.name} has no truth/${v.name} to score against`);
    }
    return { name: v.name, attrs: v.attrs as Record<string, unknown>, perTime: [] as FieldScores[] };
  });
  const nPixels = reader.ny * reader.nx;
  let lastReport = performance.now();
  for (let t = 0; t < reader.nTime; t++) {
    for (const v of variables) {
      const members = reader.readField("prediction", v.name, t, nEnsemble);
      const truth = reader.readField("truth", v.name, t);
      v.perTime.push(scoreField(members, truth, { nEns: nEnsemble, nPixels }));
    }
    if (performance.now() - lastReport > 2000 || (t === reader.nTime - 1 && reader.nTime > 20)) {
      console.error(`scored ${t + 1}/${reader.nTime} times (${reader.time.labels[t]})`);
      lastReport = performance.now();
    }
  }
  return { reader, nEnsemble, variables };
}

/** The scores file: the reference's layout plus the spread-skill and rank-histogram groups. */
function scoresDataset(run: ScoredRun): NcGroupSpec {
  const { reader, nEnsemble, variables } = run;
  const nTime = reader.nTime;
  const text = (v: unknown, fallback: string) => (typeof v === "string" ? v : fallback);
  const cf = reader.time.cf;
  const time: NcVarSpec = cf
    ? {
      name: "time",
      dims: ["time"],
      data: cf.values.every(Number.isInteger)
        ? BigInt64Array.from(cf.values.map(BigInt))
        : Float64Array.from(cf.values),
      attrs: { units: cf.units, calendar: cf.calendar ?? "standard", standard_name: "time" },
    }
    : { name: "time", dims: ["time"], data: reader.time.labels, attrs: { long_name: "time" } };
  const perVariable = (
    dims: string[],
    values: (s: FieldScores[]) => Float64Array,
    what: string,
    units?: boolean,
  ) =>
    variables.map((v): NcVarSpec => ({
      name: v.name,
      dims,
      data: values(v.perTime),
      attrs: {
        long_name: `${what} of ${text(v.attrs.long_name, v.name)}`,
        ...(units ? { units: text(v.attrs.units, "") } : {}),
      },
    }));
  return {
    attrs: {
      Conventions: "CF-1.8",
      title: "CorrDiff ensemble scores",
      source: reader.path,
      n_ensemble: nEnsemble,
      history: `${new Date().toISOString()} scored by corrdiff-ts`,
    },
    dims: { metric: SCORE_METRICS.length, time: nTime },
    vars: [
      { name: "metric", dims: ["metric"], data: [...SCORE_METRICS], attrs: { long_name: "score" } },
      time,
      ...perVariable(
        ["metric", "time"],
        (s) => {
          const out = new Float64Array(SCORE_METRICS.length * nTime);
          s.forEach((f, t) => metricValues(f).forEach((x, m) => out[m * nTime + t] = x));
          return out;
        },
        "ensemble scores (rmse and mae of the ensemble mean, crps, member std_dev)",
        true,
      ),
    ],
    groups: {
      spread_skill: {
        vars: perVariable(
          ["time"],
          (s) => Float64Array.from(s, (f) => f.spreadSkill),
          "spread-skill ratio sqrt(1+1/n) spread / rmse",
        ),
      },
      rank_histogram: {
        dims: { rank: nEnsemble + 1 },
        vars: perVariable(
          ["rank"],
          (s) => summarizeScores(s).rankHistogram,
          "count of pixels by rank of the truth among the members",
        ),
      },
    },
  };
}

function scoresTable(run: ScoredRun): string {
  const head = ["variable", ...SCORE_METRICS, "spread/skill", "units"];
  const rows = run.variables.map((v) => {
    const s = summarizeScores(v.perTime);
    return [v.name, ...s.means.map(fmt), fmt(s.spreadSkill), String(v.attrs.units ?? "")];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [
    `${run.reader.path}: ${run.nEnsemble} members, ${run.reader.nTime} times, ${run.reader.ny}x${run.reader.nx} (means over time)`,
    line(head),
    ...rows.map(line),
  ].join("\n");
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(4) : String(x);
}

/** Vega-Lite specs: each metric against time (a row per variable) and the rank histograms. */
function scoresCharts(run: ScoredRun): Record<string, object> {
  const { reader, variables, nEnsemble } = run;
  const dated = reader.time.dates !== null;
  const metricRows = variables.flatMap((v) =>
    v.perTime.flatMap((s, t) =>
      [...metricValues(s), s.spreadSkill].map((value, m) => ({
        variable: v.name,
        metric: m < SCORE_METRICS.length ? SCORE_METRICS[m] : "spread/skill",
        time: reader.time.labels[t],
        value: Number.isFinite(value) ? value : null,
      }))
    )
  );
  const rankRows = variables.flatMap((v) => {
    const h = summarizeScores(v.perTime).rankHistogram;
    const total = h.reduce((a, b) => a + b, 0);
    return Array.from(h, (c, rank) => ({ variable: v.name, rank, frequency: total > 0 ? c / total : 0 }));
  });
  const schema = "https://vega.github.io/schema/vega-lite/v6.json";
  return {
    scores_vs_time: {
      $schema: schema,
      title: `Ensemble scores (${nEnsemble} members)`,
      data: { values: metricRows },
      facet: {
        row: { field: "variable", type: "nominal", title: null, sort: variables.map((v) => v.name) },
        column: { field: "metric", type: "nominal", title: null, sort: [...SCORE_METRICS, "spread/skill"] },
      },
      resolve: { scale: { y: "independent" } },
      spec: {
        width: 220,
        height: 140,
        mark: { type: "line", point: reader.nTime < 50 },
        encoding: {
          x: { field: "time", type: dated ? "temporal" : "ordinal", title: "time" },
          y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
        },
      },
    },
    rank_histogram: {
      $schema: schema,
      title: `Rank histogram of the truth among ${nEnsemble} members (flat = calibrated)`,
      data: { values: rankRows },
      facet: {
        column: { field: "variable", type: "nominal", title: null, sort: variables.map((v) => v.name) },
      },
      spec: {
        width: 240,
        height: 160,
        layer: [
          {
            mark: "bar",
            encoding: {
              x: { field: "rank", type: "ordinal", title: "rank" },
              y: { field: "frequency", type: "quantitative", title: "relative frequency" },
            },
          },
          { mark: { type: "rule", strokeDash: [4, 3] }, encoding: { y: { datum: 1 / (nEnsemble + 1) } } },
        ],
      },
    },
  };
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(cliErrorLine("score", e, Deno.args));
    Deno.exit(1);
  }
}
