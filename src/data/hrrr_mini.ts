/**
 * The HRRR-mini dataset (`datasets/hrrrmini.py` `HRRRMiniDataset`): one NetCDF file holding
 *
 * - group `input`: coarse fields `(time, h, w)`, one variable per channel;
 * - group `output`: fine fields `(time, H, W)` with `H = f h`, `W = f w` for an integer factor `f`;
 * - group `invariant`: static 2-D fields `(Y, X)` on a grid containing every output window;
 * - root `time` (CF-encoded) and `coord` `(time, 2)`: the `(row, column)` offset of each sample's
 *   window in the invariant grid;
 *
 * plus a statistics JSON (see `stats.ts`). Sample `t` is the coarse input up-sampled bilinearly
 * with linear extrapolation at the edges, followed by the invariants cut out at `coord[t]`, all
 * normalised; the target is the normalised output.
 *
 * NetCDF3 has no groups, so there the groups are spelt as name prefixes: `input_t2m`,
 * `output_t2m`, `invariant_elev_mean` (root `time` and `coord` as in NetCDF4).
 *
 * Everything is read into memory once at open, as the reference does; items only copy, up-sample
 * and normalise. Unlike the reference, `invariant_variables: []` is allowed (no invariant channel),
 * and bad data (NaN, a non-integer factor, windows outside the invariant grid) are rejected at open.
 */

import { channel, nanGrid, RawItemDataset } from "./base.ts";
import { decodeCfTimes, unpackCf } from "./cf.ts";
import type { ChannelMetadata, Grid2D } from "./dataset.ts";
import { type NcFile, openNetCDF } from "../io/netcdf_read.ts";
import { ChannelNormalization } from "./normalize.ts";
import type { DatasetOptions } from "./options.ts";
import { cropWindow, upsampleBilinearExtrapolate } from "./resample.ts";
import { concatNormalizations, normalizationFor, readStatsJson, type StatsTable } from "./stats.ts";
import { withFileErrors } from "../io/file_errors.ts";

/** Options of {@link HrrrMiniDataset.open} (the config keys in snake_case). */
export interface HrrrMiniOptions {
  /** The NetCDF file (`data_path`). */
  dataPath: string;
  /** The statistics JSON (`stats_path`). */
  statsPath: string;
  /** Input variables (`input_variables`); `null`/absent: all of group `input`, in file order. */
  inputVariables?: string[] | null;
  /** Output variables (`output_variables`); `null`/absent: all of group `output`. */
  outputVariables?: string[] | null;
  /** Invariants (`invariant_variables`); absent: `["elev_mean", "lsm_mean"]`, `null`: all, `[]`: none. */
  invariantVariables?: string[] | null;
}

/** A group's fields, read once: one flat array per variable. */
interface GroupData {
  names: string[];
  /** Shape of every variable of the group (they must agree). */
  shape: number[];
  fields: Float32Array[];
  channels: ChannelMetadata[];
}

/** The HRRR-mini reader. Build with {@link HrrrMiniDataset.open} or through `createDataset`. */
export class HrrrMiniDataset extends RawItemDataset {
  /** Output width over input width. */
  readonly upsampleFactor: number;
  readonly #input: GroupData;
  readonly #output: GroupData;
  readonly #invariant: GroupData;
  readonly #times: Date[];
  readonly #coords: Int32Array;
  /** Normalisation of the inputs and invariants, from the statistics file. */
  protected readonly inputNorm: ChannelNormalization;
  /** Normalisation of the outputs, from the statistics file. */
  protected readonly outputNorm: ChannelNormalization;
  readonly #source: string;

  private constructor(parts: {
    input: GroupData;
    output: GroupData;
    invariant: GroupData;
    times: Date[];
    coords: Int32Array;
    inputNorm: ChannelNormalization;
    outputNorm: ChannelNormalization;
    factor: number;
    source: string;
  }) {
    super();
    this.#input = parts.input;
    this.#output = parts.output;
    this.#invariant = parts.invariant;
    this.#times = parts.times;
    this.#coords = parts.coords;
    this.inputNorm = parts.inputNorm;
    this.outputNorm = parts.outputNorm;
    this.upsampleFactor = parts.factor;
    this.#source = parts.source;
  }

  /** Builds the dataset from config keys (`data_path`, `stats_path`, `*_variables`). */
  static fromOptions(o: DatasetOptions): Promise<HrrrMiniDataset> {
    const opts: HrrrMiniOptions = {
      dataPath: o.path("data_path"),
      statsPath: o.path("stats_path"),
      inputVariables: o.stringList("input_variables", null),
      outputVariables: o.stringList("output_variables", null),
      invariantVariables: o.stringList("invariant_variables", ["elev_mean", "lsm_mean"]),
    };
    o.rejectUnknown();
    return HrrrMiniDataset.open(opts);
  }

  /** Reads the file and the statistics; throws naming the file and variable at fault. */
  static async open(opts: HrrrMiniOptions): Promise<HrrrMiniDataset> {
    const path = opts.dataPath;
    const stats = await readStatsJson(opts.statsPath);
    const file = await openNetCDF(path);
    // Failures the checks below do not anticipate (values no layout check foresaw) still name the file.
    return withFileErrors(
      path,
      "HRRR-mini NetCDF file",
      () => HrrrMiniDataset.#read(file, stats, opts),
      [opts.statsPath],
    );
  }

  static #read(file: NcFile, stats: StatsTable, opts: HrrrMiniOptions): HrrrMiniDataset {
    const path = file.path;
    try {
      const input = readGroup(file, "input", opts.inputVariables ?? null, 3);
      const output = readGroup(file, "output", opts.outputVariables ?? null, 3);
      const invariantNames = opts.invariantVariables === undefined
        ? ["elev_mean", "lsm_mean"]
        : opts.invariantVariables;
      const invariant = readGroup(file, "invariant", invariantNames, 2, true);
      if (input.names.length === 0) throw new Error(`${path}: no input variables selected`);
      if (output.names.length === 0) throw new Error(`${path}: no output variables selected`);
      const [T, h, w] = input.shape, [To, H, W] = output.shape;
      if (To !== T) throw new Error(`${path}: input has ${T} times but output has ${To}`);
      const factor = upsampleFactor(path, [h, w], [H, W]);
      const times = readTimes(file, T);
      const coords = readCoords(file, T, [H, W], invariant);
      const statsSource = opts.statsPath;
      const inputNorm = concatNormalizations([
        normalizationFor(stats, "input", input.names, statsSource),
        normalizationFor(stats, "invariant", invariant.names, statsSource),
      ], statsSource);
      const outputNorm = normalizationFor(stats, "output", output.names, statsSource);
      return new HrrrMiniDataset({
        input,
        output,
        invariant,
        times,
        coords,
        inputNorm,
        outputNorm,
        factor,
        source: path,
      });
    } finally {
      file.close();
    }
  }

  /** Number of samples (times). */
  get length(): number {
    return this.#times.length;
  }

  /** `[H, W]` of the output grid. */
  imageShape(): [number, number] {
    return [this.#output.shape[1], this.#output.shape[2]];
  }

  /** All NaN, as in the reference: the layout carries no coordinates. */
  longitude(): Grid2D {
    return nanGrid(this.imageShape());
  }

  /** All NaN, as in the reference. */
  latitude(): Grid2D {
    return nanGrid(this.imageShape());
  }

  /** The input variables, then the invariants. */
  inputChannels(): ChannelMetadata[] {
    return [...this.#input.channels, ...this.#invariant.channels];
  }

  /** The output variables. */
  outputChannels(): ChannelMetadata[] {
    return [...this.#output.channels];
  }

  /** The time of each sample. */
  time(): Date[] {
    return [...this.#times];
  }

  /** The `(row, column)` offset of sample `t`'s window in the invariant grid (`coord[t]`). */
  windowOffset(t: number): [number, number] {
    this.checkIndex(t, this.#source);
    return [this.#coords[2 * t], this.#coords[2 * t + 1]];
  }

  /** The coarse input of sample `t`, `(C_in, h, w)`, in physical units (before up-sampling). */
  coarseInput(t: number): Float32Array {
    this.checkIndex(t, this.#source);
    return stackSample(this.#input, t);
  }

  /** The target of sample `t`, `(C_out, H, W)`, in physical units. */
  rawTarget(t: number): Float32Array {
    this.checkIndex(t, this.#source);
    return stackSample(this.#output, t);
  }

  /** Sample `t` un-normalised: up-sampled input with invariants `(C_in + C_inv, H, W)` and target. */
  rawItem(t: number): { input: Float32Array; target: Float32Array } {
    const [, h, w] = this.#input.shape;
    const input = composeHrrrMiniInput(
      this.coarseInput(t),
      [this.#input.names.length, h, w],
      this.upsampleFactor,
      this.#invariant.fields,
      this.#invariant.shape,
      this.windowOffset(t),
    );
    return { input, target: this.rawTarget(t) };
  }

  /** Input and target normalisation (mean, std per channel) and the upsampling factor. */
  override info(): Record<string, unknown> {
    return {
      input_normalization: { mean: [...this.inputNorm.mean], std: [...this.inputNorm.std] },
      target_normalization: { mean: [...this.outputNorm.mean], std: [...this.outputNorm.std] },
      upsample_factor: this.upsampleFactor,
    };
  }
}

/**
 * The HRRR-mini input of one sample: the coarse `(C, h, w)` fields up-sampled by `factor` (bilinear,
 * extrapolated at the edges), followed by each invariant `(Y, X)` cut out at the window `(i, j)`.
 */
export function composeHrrrMiniInput(
  coarse: Float32Array,
  [C, h, w]: [number, number, number],
  factor: number,
  invariants: Float32Array[],
  [Y, X]: number[],
  [i, j]: [number, number],
): Float32Array {
  const H = h * factor, W = w * factor;
  const input = new Float32Array((C + invariants.length) * H * W);
  input.set(upsampleBilinearExtrapolate(coarse, C, h, w, factor));
  invariants.forEach((f, k) => {
    input.set(cropWindow(f, 1, Y, X, i, j, H, W), (C + k) * H * W);
  });
  return input;
}

/** `(C, ...)` for sample `t` from per-variable `(T, ...)` arrays. */
function stackSample(g: GroupData, t: number): Float32Array {
  const n = g.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(g.fields.length * n);
  g.fields.forEach((f, c) => out.set(f.subarray(t * n, (t + 1) * n), c * n));
  return out;
}

/** The variable paths of a group: a real group, or the `group_` name prefix in a NetCDF3 file. */
function groupVariablePaths(file: NcFile, group: string): Map<string, string> {
  const out = new Map<string, string>();
  if (file.hasGroup(group)) {
    for (const name of file.group(group).variables) {
      const v = file.variable(`${group}/${name}`);
      // xarray lists coordinate variables (1-D, named like their dimension) as coordinates, not data.
      if (!(v.dims.length === 1 && v.dims[0] === name)) out.set(name, v.path);
    }
    return out;
  }
  if (file.format !== "netcdf4") {
    for (const name of file.group("").variables) {
      if (name.startsWith(`${group}_`)) out.set(name.slice(group.length + 1), name);
    }
    if (out.size > 0) return out;
  }
  throw new Error(
    file.format === "netcdf4"
      ? `${file.path}: no group '${group}' (groups: ${file.group("").groups.join(", ") || "none"})`
      : `${file.path}: no variables '${group}_*' (a NetCDF3 file spells group '${group}' as that prefix)`,
  );
}

function readGroup(
  file: NcFile,
  group: string,
  requested: string[] | null,
  rank: number,
  auxiliary = false,
): GroupData {
  const available = requested !== null && requested.length === 0 && !file.hasGroup(group)
    ? new Map<string, string>()
    : groupVariablePaths(file, group);
  const names = requested ?? [...available.keys()];
  const fields: Float32Array[] = [], channels: ChannelMetadata[] = [];
  let shape: number[] = [];
  let first = "";
  for (const name of names) {
    const path = available.get(name);
    if (path === undefined) {
      throw new Error(
        `${file.path}: no variable '${name}' in group '${group}' (it has: ${
          [...available.keys()].join(", ") || "none"
        })`,
      );
    }
    const v = file.variable(path);
    if (v.shape.length !== rank) {
      const expected = rank === 3 ? "(time, y, x)" : "(y, x)";
      throw new Error(
        `${file.path}: variable '${path}' has dims (${
          v.dims.join(", ")
        }) shape [${v.shape}]; expected ${rank} dims ${expected}`,
      );
    }
    if (first === "") [shape, first] = [v.shape, path];
    else if (v.shape.join() !== shape.join()) {
      throw new Error(
        `${file.path}: variable '${path}' has shape [${v.shape}] but '${first}' has [${shape}]`,
      );
    }
    fields.push(readFinite(file, path));
    const units = typeof v.attrs.units === "string" ? v.attrs.units : undefined;
    const longName = typeof v.attrs.long_name === "string" ? v.attrs.long_name : undefined;
    channels.push(channel(name, { auxiliary, units, longName }));
  }
  return { names, shape, fields, channels };
}

/** Reads a numeric variable as float32 (unpacked as xarray would), rejecting NaN and infinities. */
function readFinite(file: NcFile, path: string): Float32Array {
  const v = file.variable(path);
  const where = `${file.path}: variable '${path}'`;
  const unpacked = unpackCf(file.read(path), v.attrs, where);
  const data = unpacked instanceof Float32Array ? unpacked : Float32Array.from(unpacked);
  let bad = 0, firstBad = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (firstBad < 0) firstBad = i;
      bad++;
    }
  }
  if (bad > 0) {
    const index = unravel(firstBad, v.shape).map((k, d) => `${v.dims[d]}=${k}`).join(", ");
    throw new Error(`${where} has ${bad} NaN/infinite value(s), the first at [${index}] (${data[firstBad]})`);
  }
  return data;
}

function unravel(flat: number, shape: number[]): number[] {
  const idx = new Array(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

function upsampleFactor(path: string, [h, w]: number[], [H, W]: number[]): number {
  const f = W / w;
  if (!Number.isInteger(f) || f < 1) {
    throw new Error(
      `${path}: output width ${W} / input width ${w} = ${f} is not an integer upsampling factor`,
    );
  }
  if (H !== f * h) {
    throw new Error(
      `${path}: output ${H}x${W} is not input ${h}x${w} times the factor ${f} (width) in height`,
    );
  }
  if (h < 2 || w < 2) {
    throw new Error(`${path}: input ${h}x${w} is too small for bilinear extrapolation (>= 2x2)`);
  }
  return f;
}

function readTimes(file: NcFile, T: number): Date[] {
  const v = file.variable("time");
  const where = `${file.path}: variable 'time'`;
  if (v.shape.length !== 1 || v.shape[0] !== T) {
    throw new Error(`${where} has shape [${v.shape}], expected [${T}]`);
  }
  const units = v.attrs.units;
  if (typeof units !== "string") {
    throw new Error(`${where} has no 'units' attribute (CF '<unit> since <date>')`);
  }
  const raw = file.read("time");
  if (Array.isArray(raw)) throw new Error(`${where} holds text, expected numbers`);
  const cal = typeof v.attrs.calendar === "string" ? v.attrs.calendar : undefined;
  return decodeCfTimes(raw, units, cal, where);
}

function readCoords(file: NcFile, T: number, [H, W]: number[], inv: GroupData): Int32Array {
  const v = file.variable("coord");
  const where = `${file.path}: variable 'coord'`;
  if (v.shape.length !== 2 || v.shape[0] !== T || v.shape[1] !== 2) {
    throw new Error(`${where} has shape [${v.shape}], expected [${T}, 2] (row, column per sample)`);
  }
  const raw = file.read("coord");
  if (Array.isArray(raw) || raw instanceof Float32Array || raw instanceof Float64Array) {
    throw new Error(`${where} must hold integers, found ${v.dtype}`);
  }
  const coords = Int32Array.from(raw as ArrayLike<number | bigint>, Number);
  if (inv.names.length === 0) return coords;
  const [Y, X] = inv.shape;
  for (let t = 0; t < T; t++) {
    const i = coords[2 * t], j = coords[2 * t + 1];
    if (i < 0 || j < 0 || i + H > Y || j + W > X) {
      throw new Error(
        `${where}: sample ${t} window ${H}x${W} at (${i}, ${j}) leaves the ${Y}x${X} invariant grid`,
      );
    }
  }
  return coords;
}
