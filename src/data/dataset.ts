/**
 * The dataset interface that training and generation consume (the reference's
 * `datasets/base.py` `DownscalingDataset`), and the registry that builds a dataset from the
 * `dataset:` section of a config (`datasets/dataset.py`).
 *
 * Built-in types: `hrrr_mini` (NetCDF, HRRR-mini layout), `cwb` (the Taiwan Zarr store),
 * `synthetic` (generated, no download). Any other type of the form `path/to/file.ts::ClassName`
 * imports that module and constructs `ClassName` with the remaining keys as one options object.
 */

import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { CwbDataset } from "./cwb.ts";
import { HrrrMiniDataset } from "./hrrr_mini.ts";
import { DatasetOptions } from "./options.ts";
import { SyntheticDataset } from "./synthetic.ts";
import { selectTimeRange } from "./subset.ts";

/** Description of one channel (`ChannelMetadata`). Files name the channel `name + level`. */
export interface ChannelMetadata {
  /** Variable name, e.g. `t2m` or `temperature`. */
  name: string;
  /** Vertical level as text (`"500.0"`), `""` for surface fields. */
  level: string;
  /** True for conditioning-only channels (invariants such as elevation). */
  auxiliary: boolean;
  /** Physical units, when the source states them. */
  units?: string;
  /** Long descriptive name, when the source states it. */
  longName?: string;
}

/** Time of a sample: a UTC date, or a label for lead-time datasets (`"2021010100f06"`). */
export type SampleTime = Date | string;

/** A 2-D field (latitude or longitude), row-major. */
export interface Grid2D {
  /** `[rows, columns]`. */
  shape: [number, number];
  /** Values, row-major. */
  data: Float64Array;
}

/** One sample: normalised target and input, both on the `H x W` output grid. */
export interface DownscalingItem {
  /** `(C_out, H, W)`. */
  target: Float32Array;
  /** `(C_in, H, W)`: the up-sampled coarse fields followed by any invariants. */
  input: Float32Array;
  /** Lead-time label, only for lead-time datasets. */
  leadTime?: number;
}

/**
 * A paired coarse/fine dataset. Normalisation methods take `(N, C, plane)` arrays (one sample,
 * a batch, or patches), `plane` defaulting to `H * W`; they return new arrays.
 */
export interface DownscalingDataset {
  /** Number of samples. */
  readonly length: number;
  /** Longitude of the output grid, `H x W` (NaN where unknown, as in HRRR-mini). */
  longitude(): Grid2D;
  /** Latitude of the output grid, `H x W`. */
  latitude(): Grid2D;
  /** Input channels in the order of `item(i).input`. */
  inputChannels(): ChannelMetadata[];
  /** Output channels in the order of `item(i).target`. */
  outputChannels(): ChannelMetadata[];
  /** One time per sample, in sample order. */
  time(): SampleTime[];
  /** `[H, W]`, shared by input and output. */
  imageShape(): [number, number];
  /** Sample `index` in `[0, length)`: normalised, input already up-sampled to the output grid. */
  item(index: number): Promise<DownscalingItem>;
  /** Physical units to normalised, input channels. */
  normalizeInput(x: Float32Array, planeSize?: number): Float32Array;
  /** Normalised to physical units, input channels. */
  denormalizeInput(x: Float32Array, planeSize?: number): Float32Array;
  /** Physical units to normalised, output channels. */
  normalizeOutput(x: Float32Array, planeSize?: number): Float32Array;
  /** Normalised to physical units, output channels. */
  denormalizeOutput(x: Float32Array, planeSize?: number): Float32Array;
  /** Extra information (e.g. normalisation constants). */
  info?(): Record<string, unknown>;
  /**
   * Output channels that are class probabilities (the reference's `get_prob_channel_index()`): what
   * `lt_aware_ce_regression` trains with a cross entropy, and its network's `prob_channels`.
   */
  probChannels?(): number[];
  /** Releases open files. */
  close?(): void;
}

/** Where relative paths in a dataset config are resolved. */
export interface CreateDatasetOptions {
  /** Directory of the config file; relative paths and custom modules resolve against it (default: cwd). */
  baseDir?: string;
}

type BuiltinFactory = (options: DatasetOptions) => Promise<DownscalingDataset>;

const BUILTIN: Record<string, BuiltinFactory> = {
  hrrr_mini: (o) => HrrrMiniDataset.fromOptions(o),
  cwb: (o) => CwbDataset.fromOptions(o),
  synthetic: (o) => SyntheticDataset.fromOptions(o),
};

/** Names of the built-in dataset types. */
export const BUILTIN_DATASET_TYPES: readonly string[] = Object.keys(BUILTIN);

const REQUIRED_METHODS = [
  "longitude",
  "latitude",
  "inputChannels",
  "outputChannels",
  "time",
  "imageShape",
  "item",
  "normalizeInput",
  "denormalizeInput",
  "normalizeOutput",
  "denormalizeOutput",
] as const;

/**
 * Builds the dataset described by a config's `dataset:` section. `type` selects the
 * implementation; `validation` is skipped (see {@link createTrainValidDatasets}); `time_range:
 * [first, last]`, understood for every type, keeps the samples of that time window; every other
 * key is passed on as an option.
 */
export async function createDataset(
  cfg: Record<string, unknown>,
  opts: CreateDatasetOptions = {},
): Promise<DownscalingDataset> {
  const { time_range, ...others } = cfg;
  const ds = await createWholeDataset(others, opts);
  return time_range === undefined || time_range === null ? ds : selectTimeRange(ds, time_range);
}

async function createWholeDataset(
  cfg: Record<string, unknown>,
  opts: CreateDatasetOptions,
): Promise<DownscalingDataset> {
  const { type, validation: _validation, ...rest } = cfg;
  if (typeof type !== "string" || type === "") {
    throw new Error(
      `dataset: missing 'type' (one of ${BUILTIN_DATASET_TYPES.join(", ")}, or path/to/file.ts::Class)`,
    );
  }
  const builtin = BUILTIN[type];
  if (builtin) return await builtin(new DatasetOptions(rest, `dataset (${type})`, opts.baseDir));
  if (type.includes("::")) return await createCustomDataset(type, rest, opts);
  if (type === "gefs_hrrr") {
    throw new Error(
      "dataset: type 'gefs_hrrr' (the reference's GEFS-HRRR lead-time dataset) is not supported by this port yet",
    );
  }
  throw new Error(
    `dataset: unknown type '${type}' (built in: ${
      BUILTIN_DATASET_TYPES.join(", ")
    }; or path/to/file.ts::ClassName)`,
  );
}

/**
 * The training dataset and, when the config has a `validation` section, a validation dataset built
 * from the same section updated with the validation keys (`init_train_valid_datasets_from_config`).
 */
export async function createTrainValidDatasets(
  cfg: Record<string, unknown>,
  opts: CreateDatasetOptions = {},
): Promise<{ train: DownscalingDataset; valid: DownscalingDataset | null }> {
  const train = await createDataset(cfg, opts);
  const v = cfg.validation;
  if (v === undefined || v === null) return { train, valid: null };
  if (typeof v !== "object" || Array.isArray(v)) throw new Error(`dataset: 'validation' must be a mapping`);
  const { validation: _v, ...base } = cfg;
  return { train, valid: await createDataset({ ...base, ...(v as Record<string, unknown>) }, opts) };
}

/** A class usable as a custom dataset: constructed with the options, or through a static `open`. */
interface CustomDatasetClass {
  new (options: Record<string, unknown>, context: CreateDatasetOptions): DownscalingDataset;
  open?: (options: Record<string, unknown>, context: CreateDatasetOptions) => Promise<DownscalingDataset>;
}

async function createCustomDataset(
  type: string,
  options: Record<string, unknown>,
  opts: CreateDatasetOptions,
): Promise<DownscalingDataset> {
  const sep = type.lastIndexOf("::");
  const modulePath = type.slice(0, sep), className = type.slice(sep + 2);
  if (!modulePath || !className) {
    throw new Error(`dataset: custom type '${type}' is not path/to/file.ts::ClassName`);
  }
  const file = isAbsolute(modulePath) ? modulePath : resolve(opts.baseDir ?? Deno.cwd(), modulePath);
  try {
    await Deno.stat(file);
  } catch {
    throw new Error(`dataset: custom dataset module ${file} (from type '${type}') does not exist`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    throw new Error(`dataset: cannot import ${file}: ${(e as Error).message}`);
  }
  const cls = mod[className] as CustomDatasetClass | undefined;
  if (typeof cls !== "function") {
    const exported = Object.keys(mod).join(", ") || "nothing";
    throw new Error(`dataset: ${file} has no exported class '${className}' (it exports: ${exported})`);
  }
  const ds = typeof cls.open === "function" ? await cls.open(options, opts) : new cls(options, opts);
  const members = ds as unknown as Record<string, unknown>;
  const missing: string[] = typeof members.length === "number" ? [] : ["length"];
  missing.push(...REQUIRED_METHODS.filter((m) => typeof members[m] !== "function"));
  if (missing.length) {
    throw new Error(
      `dataset: ${file}::${className} does not implement DownscalingDataset (missing: ${
        missing.join(", ")
      }); ` +
        `extending DownscalingDatasetBase supplies the normalisation defaults`,
    );
  }
  return ds;
}
