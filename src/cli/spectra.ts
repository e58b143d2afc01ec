/**
 * `deno task spectra <generated.nc> [--out DIR] [--dx KM] [--dy KM] [--threshold X]
 *  [--residual KIND] [--sample-map T] [--member K]`
 *
 * Spectral evaluation of a generation file: writes DIR/spectra.nc, log-log spectra and residual
 * ACF charts (SVG + PNG) per variable, optionally a sample map, and prints the suggested minimum
 * patch size.
 */

import { parseArgs } from "node:util";
import { GenerationReader } from "../io/generation_reader.ts";
import { writeNetCDF4 } from "../io/netcdf_write.ts";
import { gridSpacingKm } from "../metrics/spectra.ts";
import {
  analyseSpectra,
  DEFAULT_ACF_THRESHOLD,
  type GeneratedVariable,
  RESIDUAL_KINDS,
  type ResidualKind,
} from "../metrics/spectra_analysis.ts";
import { spectraDataset, spectraSummary } from "../metrics/spectra_report.ts";
import { sampleMapChart, type SampleMapVariable } from "../plot/charts.ts";
import { writeChart } from "../plot/render.ts";
import { spectraCharts } from "../plot/spectra_charts.ts";
import { cliErrorLine } from "../io/file_errors.ts";
import { setHdf5Verbose } from "../io/hdf5.ts";
import { acquireLock } from "../util/lock.ts";

const USAGE = `usage: deno task spectra <generated.nc> [options]

  --out DIR          output directory (default: spectra)
  --dx KM            grid spacing along x in km (default: from the file's lat/lon, haversine)
  --dy KM            grid spacing along y in km (default: --dx, else from lat/lon)
  --threshold X      ACF level defining the correlation length (default ${DEFAULT_ACF_THRESHOLD})
  --residual KIND    ${RESIDUAL_KINDS.join(" | ")} (default truth-mean)
  --sample-map T     also draw the sample map of time index T
  --member K         ensemble member shown in the sample map (default 0)
  --verbose          on errors, also print the HDF5 library's own error stack and the stack trace

The correlation length is where the residual's ACF first drops below the threshold. The reference
advises patches larger than the lag where the ACF reaches about 0; 0.1 is that "about 0" made
robust (the exact zero crossing of a mean-removed ACF depends on the domain size). 1/e gives the
e-folding length, a smaller, less conservative patch. The suggested patch is square and a multiple
of 32 pixels, as the reference's set_patch_shape requires.`;

/** Runs the command with `args` (without the program name); throws one-line errors. */
export async function main(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: "string", default: "spectra" },
      dx: { type: "string" },
      dy: { type: "string" },
      threshold: { type: "string", default: String(DEFAULT_ACF_THRESHOLD) },
      residual: { type: "string", default: "truth-mean" },
      "sample-map": { type: "string" },
      member: { type: "string", default: "0" },
      help: { type: "boolean", short: "h" },
      verbose: { type: "boolean", short: "v" },
    },
  });
  if (values.help) return console.log(USAGE);
  setHdf5Verbose(values.verbose ?? false);
  if (positionals.length !== 1) throw new Error(`expected one generated file\n${USAGE}`);
  const threshold = number("--threshold", values.threshold);
  if (!(threshold > 0 && threshold < 1)) throw new Error(`--threshold must lie in (0, 1), got ${threshold}`);
  const residual = values.residual as ResidualKind;
  if (!RESIDUAL_KINDS.includes(residual)) {
    throw new Error(`--residual must be one of ${RESIDUAL_KINDS.join(", ")}`);
  }

  const reader = await GenerationReader.open(positionals[0]);
  try {
    const { ny, nx, nEnsemble, nTime } = reader;
    const spacing = resolveSpacing(reader, values.dx, values.dy);
    console.log(`${reader.path}: ${nEnsemble} members, ${nTime} times, ${ny}x${nx}; ${spacing.description}`);
    const inputs = new Set(reader.variables.input.map((v) => v.name));
    const variables: GeneratedVariable[] = reader.variables.prediction.map((v) => ({
      name: v.name,
      units: typeof v.attrs.units === "string" ? v.attrs.units : undefined,
      prediction: reader.readVariable("prediction", v.name),
      truth: reader.readVariable("truth", v.name),
      input: inputs.has(v.name) ? reader.readVariable("input", v.name) : undefined,
    }));
    const analysis = analyseSpectra(
      { ensemble: nEnsemble, time: nTime, height: ny, width: nx, variables },
      { dx: spacing.dx, dy: spacing.dy, threshold, residual },
    );
    // Taken once there is something to write (a bad input leaves no directory behind): a second
    // spectra run into the same directory refuses instead of mixing its files with ours.
    using _lock = acquireLock(values.out, { purpose: "spectra", createParent: true });
    await Deno.mkdir(values.out, { recursive: true });
    const ncPath = `${values.out}/spectra.nc`;
    await writeNetCDF4(
      ncPath,
      spectraDataset(analysis, { source: reader.path, spacing: spacing.description }),
    );
    const written = [ncPath];
    for (const chart of spectraCharts(analysis)) {
      const paths = await writeChart(chart.spec, `${values.out}/${chart.name}`);
      written.push(paths.svg, paths.png);
    }
    if (values["sample-map"] !== undefined) {
      const t = integer("--sample-map", values["sample-map"], nTime);
      const member = integer("--member", values.member, nEnsemble);
      const maps = variables.map((v) => sampleMapVariable(v, t, member, nEnsemble, nTime, ny * nx));
      const spec = sampleMapChart(maps, {
        height: ny,
        width: nx,
        memberIndex: member,
        title: `${reader.time.labels[t]} (time index ${t})`,
      });
      const paths = await writeChart(spec, `${values.out}/sample_map_t${t}`);
      written.push(paths.svg, paths.png);
    }
    console.log(spectraSummary(analysis, ny, nx));
    console.log(`wrote ${written.join(", ")}`);
  } finally {
    reader.close();
  }
}

/** Grid spacing in km: the flags win; otherwise the haversine between neighbouring lat/lon points. */
function resolveSpacing(reader: GenerationReader, dxFlag?: string, dyFlag?: string) {
  if (dxFlag !== undefined) {
    const dx = number("--dx", dxFlag);
    const dy = dyFlag === undefined ? dx : number("--dy", dyFlag);
    return { dx, dy, description: `dx ${dx} km, dy ${dy} km (flags)` };
  }
  const lat = reader.lat(), lon = reader.lon();
  if (!lat || !lon || lat.some((v) => !Number.isFinite(v)) || lon.some((v) => !Number.isFinite(v))) {
    throw new Error(
      `${reader.path}: no complete lat/lon grid to measure the spacing; pass --dx KM (and --dy KM)`,
    );
  }
  const s = gridSpacingKm(lat, lon, reader.ny, reader.nx);
  const dy = dyFlag === undefined ? s.dy : number("--dy", dyFlag);
  const fmt = (v: number) => v.toFixed(3);
  return {
    dx: s.dx,
    dy,
    description: `dx ${fmt(s.dx)} km (${fmt(s.dxRange[0])}-${fmt(s.dxRange[1])}), dy ${
      fmt(dy)
    } km (from lat/lon)`,
  };
}

function sampleMapVariable(
  v: GeneratedVariable,
  t: number,
  member: number,
  members: number,
  times: number,
  field: number,
): SampleMapVariable {
  const at = (data: ArrayLike<number>, m: number) => {
    const start = (m * times + t) * field;
    return Float64Array.from({ length: field }, (_, i) => data[start + i]);
  };
  const mean = new Float64Array(field);
  for (let m = 0; m < members; m++) at(v.prediction, m).forEach((x, i) => (mean[i] += x / members));
  return {
    name: v.name,
    units: v.units,
    input: v.input ? at(v.input, 0) : undefined,
    member: at(v.prediction, member),
    mean,
    truth: at(v.truth, 0),
  };
}

function number(flag: string, text: string): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v) || v <= 0) {
    throw new Error(`${flag} must be a positive number, got "${text}"`);
  }
  return v;
}

function integer(flag: string, text: string, limit: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0 || v >= limit) {
    throw new Error(`${flag} must be an integer in 0..${limit - 1}, got "${text}"`);
  }
  return v;
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(cliErrorLine("spectra", e, Deno.args));
    Deno.exit(1);
  }
}
