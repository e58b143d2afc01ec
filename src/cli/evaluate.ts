/**
 * `deno task evaluate <generated.nc> [--regression REG.nc] [--data TRAIN.nc] [--out DIR] ...`
 *
 * Scores a generation file against the interpolation baselines (src/demo/report.ts): CRPS, MAE,
 * RMSE, spread-skill and fine-scale power of the ensemble, the regression mean, bilinear and bicubic;
 * writes DIR/scores.md, scores.json, a sample map and the spectra along x (SVG + PNG).
 */
import { parseArgs } from "node:util";
import { cliErrorLine } from "../io/file_errors.ts";
import { setHdf5Verbose } from "../io/hdf5.ts";
import { writeEvaluationReport } from "../demo/report.ts";

const USAGE = `usage: deno task evaluate <generated.nc> [options]

  --regression FILE  generation file of the same samples with generation.inference_mode=regression
  --data FILE        the HRRR-mini-layout file the samples came from: adds the bicubic baseline
  --stats FILE       its statistics (default: stats.json beside it)
  --factor N         upsampling factor for the fine-scale power (default: the data file's)
  --members N        score the first N members only (default: all)
  --map-time T       time index of the sample map (default 0)
  --out DIR          output directory (default: evaluation)
  --verbose          on errors, also print the HDF5 library's own error stack and the stack trace`;

/** Runs the command with `args` (without the program name); throws one-line errors. */
export async function main(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      regression: { type: "string" },
      data: { type: "string" },
      stats: { type: "string" },
      factor: { type: "string" },
      members: { type: "string" },
      "map-time": { type: "string" },
      out: { type: "string", default: "evaluation" },
      help: { type: "boolean", short: "h" },
      verbose: { type: "boolean", short: "v" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) throw new Error(`expected one generation file\n${USAGE}`);
  setHdf5Verbose(Boolean(values.verbose));
  const count = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const v = Number(text);
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`${flag} must be a non-negative integer, got "${text}"`);
    }
    return v;
  };
  const report = await writeEvaluationReport(positionals[0], {
    outDir: values.out!,
    regressionPath: values.regression,
    dataPath: values.data,
    statsPath: values.stats,
    upsampleFactor: count("--factor", values.factor),
    members: count("--members", values.members),
    mapTime: count("--map-time", values["map-time"]),
  });
  console.log(report.table.join("\n"));
  for (const f of report.files) console.log(`wrote ${f}`);
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(cliErrorLine("evaluate", e, Deno.args));
    Deno.exit(1);
  }
}
