/**
 * Writes a {@link SyntheticDataset} as an HRRR-mini NetCDF4 file plus its statistics JSON, so that
 * the `hrrr_mini` reader serves the very same items (the coarse fields, outputs and invariants are
 * stored as float32, the statistics are the dataset's own).
 */

import { dirname, join } from "node:path";
import { type NcLayout, NetCDF4Writer } from "../io/netcdf_write.ts";
import { type SyntheticDataset, type SyntheticVariableInfo, syntheticVariableInfo } from "./synthetic.ts";

/** Where the files went. */
export interface SyntheticFiles {
  /** The HRRR-mini NetCDF4 data file. */
  dataPath: string;
  /** The statistics JSON file. */
  statsPath: string;
}

/** Options of {@link writeSyntheticAsHrrrMini}. */
export interface WriteSyntheticOptions {
  /** The statistics JSON (default: `stats.json` next to the data file). */
  statsPath?: string;
  /** zlib level for the fields (default 4, as the real-data files; 0: none). */
  deflate?: number;
}

/**
 * Writes `dataset` to `dataPath` (NetCDF4, groups `input`/`output`/`invariant`, root `time` and
 * `coord`) and its statistics to `statsPath`. Samples are generated and written one at a time.
 * Both files are written under temporary names and renamed into place.
 */
export async function writeSyntheticAsHrrrMini(
  dataPath: string,
  dataset: SyntheticDataset,
  opts: WriteSyntheticOptions = {},
): Promise<SyntheticFiles> {
  const statsPath = opts.statsPath ?? join(dirname(dataPath), "stats.json");
  const N = dataset.length, f = dataset.upsampleFactor;
  const [H, W] = dataset.imageShape(), h = H / f, w = W / f;
  const hours = BigInt64Array.from(dataset.time(), (t) => BigInt(Math.round(t.getTime() / 3_600_000)));
  const layout: NcLayout = {
    attrs: {
      Conventions: "CF-1.8",
      title: `corrdiff-webgpu synthetic downscaling set (seed ${dataset.seed}), HRRR-mini layout`,
      summary:
        `${N} synthetic samples: Gaussian random fields with a Nastrom-Gage spectrum, terrain lapse rate, ` +
        `land-sea contrast and a front; input = Gaussian-blurred ${f}x${f} block mean of the output`,
      source: "corrdiff-webgpu src/data/synthetic.ts",
      upsample_factor: f,
    },
    dims: { time: N, ij: 2 },
    vars: [
      {
        name: "time",
        dims: ["time"],
        data: hours,
        attrs: { standard_name: "time", units: "hours since 1970-01-01 00:00:00", calendar: "standard" },
      },
      { name: "coord", dims: ["time", "ij"], data: new BigInt64Array(2 * N), attrs: { units: "1" } },
    ],
    groups: {
      input: {
        dims: { time: N, y_lr: h, x_lr: w },
        vars: dataset.inputVariables.map((v) =>
          declared(v, ["time", "y_lr", "x_lr"], syntheticVariableInfo(v))
        ),
      },
      output: {
        dims: { time: N, y: H, x: W },
        vars: dataset.outputVariables.map((v) => declared(v, ["time", "y", "x"], syntheticVariableInfo(v))),
      },
      invariant: {
        dims: { y_inv: H, x_inv: W },
        vars: dataset.invariantVariables.map((v) => ({
          name: v,
          dims: ["y_inv", "x_inv"],
          data: dataset.invariantField(v),
          attrs: cfAttrs(syntheticVariableInfo(v)),
        })),
      },
    },
  };
  const writer = await NetCDF4Writer.create(dataPath, layout, { deflate: opts.deflate ?? 4 });
  try {
    for (let t = 0; t < N; t++) {
      const { fine, coarse } = dataset.sample(t);
      dataset.inputVariables.forEach((v, c) =>
        writer.writeSlab(`input/${v}`, [t, 0, 0], [1, h, w], coarse.slice(c * h * w, (c + 1) * h * w))
      );
      dataset.outputVariables.forEach((v, c) =>
        writer.writeSlab(`output/${v}`, [t, 0, 0], [1, H, W], fine.slice(c * H * W, (c + 1) * H * W))
      );
    }
  } catch (e) {
    await writer.abort();
    throw e;
  }
  await writer.close();
  await writeTextAtomic(statsPath, JSON.stringify(dataset.stats(), null, 2) + "\n");
  return { dataPath, statsPath };
}

function declared(name: string, dims: string[], info: SyntheticVariableInfo) {
  return { name, dims, dtype: "f4" as const, attrs: cfAttrs(info) };
}

function cfAttrs(info: SyntheticVariableInfo): Record<string, string> {
  return { standard_name: info.standardName, units: info.units, long_name: info.longName };
}

async function writeTextAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
}
