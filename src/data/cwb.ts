/**
 * The CWB/Taiwan dataset (`datasets/cwb.py` `get_zarr_dataset`): a Zarr v2 store (consolidated or
 * not) with root arrays
 *
 * - `cwb` `(time, C_out, Y, X)` float32 targets with `cwb_center`, `cwb_scale`, `cwb_variable`,
 *   `cwb_pressure` `(C_out)` and `cwb_valid` `(time)`;
 * - `era5` `(time, C_in, Y, X)` float32 inputs (already on the CWB grid) with `era5_center`,
 *   `era5_scale`, `era5_variable`, `era5_pressure` `(C_in)` and `era5_valid` `(time, C_in)`;
 * - `time` `(time)` with a CF `units` attribute; `XLAT`, `XLONG` `(Y, X)`.
 *
 * A time is used when `cwb_valid` and every `era5_valid` channel are set, and then filtered by
 * year: all (`all_times`), every year but 2021 (`train`), or 2021 only. Items are read from the
 * store per sample (the full store is far too large to hold), normalised with `(x - center) /
 * scale` ("v1"; "v2" replaces the radar and 10 m wind constants), channel-selected, the target
 * optionally degraded by `ds_factor` (sub-sampled, then cubic-resized back: the reference's quirk),
 * and both cropped to `img_shape_x x img_shape_y`.
 */

import { FileSystemStore } from "@zarrita/storage";
import * as zarr from "zarrita";
import { NormalizedDataset } from "./base.ts";
import { decodeCfTimes } from "./cf.ts";
import { countNonFinite, firstLine, withFileErrors } from "../io/file_errors.ts";
import type { ChannelMetadata, DownscalingItem, Grid2D } from "./dataset.ts";
import { ChannelNormalization } from "./normalize.ts";
import type { DatasetOptions } from "./options.ts";
import { resizeCubic, subsample } from "./resample.ts";
import { strictZlibChunks, withChunkSizeCheck } from "./zarr_checks.ts";

strictZlibChunks();

/** Options of {@link CwbDataset.open} (config keys in snake_case). */
export interface CwbOptions {
  /** The Zarr store directory (`data_path`). */
  dataPath: string;
  /** `"v1"` (default): the store's constants; `"v2"`: fixed constants for radar and 10 m winds. */
  normalization?: "v1" | "v2";
  /** Use every valid time (`all_times`, default false). */
  allTimes?: boolean;
  /** Without `allTimes`: true (default) for the years other than 2021, false for 2021 only. */
  train?: boolean;
  /** Input channel indices (`in_channels`). */
  inChannels?: number[];
  /** Output channel indices (`out_channels`). */
  outChannels?: number[];
  /** Rows kept (`img_shape_x`, default 448). */
  imgShapeX?: number;
  /** Columns kept (`img_shape_y`, default 448). */
  imgShapeY?: number;
  /** Target degradation factor (`ds_factor`, default 1: none). */
  dsFactor?: number;
}

/** The reference's `ZarrDataset` defaults. */
const DEFAULT_IN_CHANNELS = [0, 1, 2, 3, 4, 9, 10, 11, 12, 17, 18, 19];
const DEFAULT_OUT_CHANNELS = [0, 17, 18, 19];

/** "v2" target constants by variable name: [center, scale]. */
const V2_TARGET_OVERRIDES: Record<string, [number, number]> = {
  maximum_radar_reflectivity: [25, 25],
  eastward_wind_10m: [0, 20],
  northward_wind_10m: [0, 20],
};

type Store = FileSystemStore;
type ZArray = zarr.Array<zarr.DataType, Store>;

/** The CWB Zarr reader. Build with {@link CwbDataset.open} or through `createDataset`. */
export class CwbDataset extends NormalizedDataset {
  readonly #path: string;
  readonly #cwb: ZArray;
  readonly #era5: ZArray;
  readonly #indices: number[];
  readonly #times: Date[];
  readonly #inChannels: number[];
  readonly #outChannels: number[];
  readonly #inputMeta: ChannelMetadata[];
  readonly #outputMeta: ChannelMetadata[];
  /** `era5_center` / `era5_scale` of the selected input channels. */
  protected readonly inputNorm: ChannelNormalization;
  /** `cwb_center` / `cwb_scale` of the selected output channels. */
  protected readonly outputNorm: ChannelNormalization;
  readonly #fullNorms: { input: ChannelNormalization; target: ChannelNormalization };
  readonly #grid: [number, number];
  readonly #shape: [number, number];
  readonly #dsFactor: number;
  readonly #train: boolean;
  readonly #lat: Grid2D;
  readonly #lon: Grid2D;

  private constructor(p: {
    path: string;
    cwb: ZArray;
    era5: ZArray;
    indices: number[];
    times: Date[];
    opts: Required<CwbOptions>;
    inputMeta: ChannelMetadata[];
    outputMeta: ChannelMetadata[];
    inputNorm: ChannelNormalization;
    targetNorm: ChannelNormalization;
    lat: Grid2D;
    lon: Grid2D;
  }) {
    super();
    this.#path = p.path;
    this.#cwb = p.cwb;
    this.#era5 = p.era5;
    this.#indices = p.indices;
    this.#times = p.times;
    this.#inChannels = p.opts.inChannels;
    this.#outChannels = p.opts.outChannels;
    this.#inputMeta = p.opts.inChannels.map((c) => p.inputMeta[c]);
    this.#outputMeta = p.opts.outChannels.map((c) => p.outputMeta[c]);
    this.inputNorm = p.inputNorm.select(p.opts.inChannels);
    this.outputNorm = p.targetNorm.select(p.opts.outChannels);
    this.#fullNorms = { input: p.inputNorm, target: p.targetNorm };
    this.#grid = [p.cwb.shape[2], p.cwb.shape[3]];
    this.#shape = [p.opts.imgShapeX, p.opts.imgShapeY];
    this.#dsFactor = p.opts.dsFactor;
    this.#train = p.opts.train;
    this.#lat = p.lat;
    this.#lon = p.lon;
  }

  /** Builds the dataset from config keys (see {@link CwbOptions}; `add_grid` and the unused paths are accepted). */
  static fromOptions(o: DatasetOptions): Promise<CwbDataset> {
    const normalization = o.string("normalization", "v1");
    if (normalization !== "v1" && normalization !== "v2") {
      throw new Error(`${o.where}: 'normalization' must be "v1" or "v2", got "${normalization}"`);
    }
    const opts: CwbOptions = {
      dataPath: o.path("data_path"),
      normalization,
      allTimes: o.boolean("all_times", false),
      train: o.boolean("train", true),
      inChannels: o.intList("in_channels", DEFAULT_IN_CHANNELS),
      outChannels: o.intList("out_channels", DEFAULT_OUT_CHANNELS),
      imgShapeX: o.integer("img_shape_x", 448, 1),
      imgShapeY: o.integer("img_shape_y", 448, 1),
      dsFactor: o.integer("ds_factor", 1, 1),
    };
    if (o.boolean("roll", false)) {
      throw new Error(`${o.where}: 'roll: true' (random rolling) is not supported`);
    }
    if (o.integer("n_history", 0) !== 0) {
      throw new Error(`${o.where}: 'n_history' other than 0 is not supported`);
    }
    // The reference accepts these but never uses them for CWB (its fields are read with normalize=False).
    o.ignore("add_grid", "min_path", "max_path", "global_means_path", "global_stds_path");
    o.rejectUnknown();
    return CwbDataset.open(opts);
  }

  /** Opens the store and reads its small arrays; throws naming the store and array at fault. */
  static async open(options: CwbOptions): Promise<CwbDataset> {
    const opts: Required<CwbOptions> = {
      normalization: "v1",
      allTimes: false,
      train: true,
      inChannels: DEFAULT_IN_CHANNELS,
      outChannels: DEFAULT_OUT_CHANNELS,
      imgShapeX: 448,
      imgShapeY: 448,
      dsFactor: 1,
      ...options,
    };
    const path = opts.dataPath;
    try {
      if (!(await Deno.stat(path)).isDirectory) throw new Error("not a directory");
    } catch (e) {
      throw new Error(`${path}: no Zarr store here (${(e as Error).message})`);
    }
    // Any failure the checks below do not anticipate (zarrita meeting a damaged chunk or document)
    // still names the store.
    return await withFileErrors(path, "Zarr store", () => CwbDataset.#read(path, opts));
  }

  static async #read(path: string, opts: Required<CwbOptions>): Promise<CwbDataset> {
    let store;
    try {
      store = await zarr.withMaybeConsolidatedMetadata(new FileSystemStore(path));
    } catch (e) {
      throw new Error(
        `${path}: damaged consolidated metadata (.zmetadata) in the Zarr store (${firstLine(e)})`,
      );
    }
    const root = zarr.root(store);
    const open = async (name: string): Promise<ZArray> => {
      try {
        const arr = await zarr.open.v2(root.resolve(name), { kind: "array" });
        return withChunkSizeCheck(arr) as unknown as ZArray;
      } catch (e) {
        throw new Error(`${path}: no readable array '${name}' in the Zarr store (${firstLine(e)})`);
      }
    };
    // The shape is checked before reading: a damaged .zarray can claim any size.
    const readAll = async (name: string, shape?: (arr: ZArray) => void) => {
      const arr = await open(name);
      shape?.(arr);
      try {
        return { arr, data: Array.from((await zarr.get(arr)).data as Iterable<unknown>) };
      } catch (e) {
        throw new Error(`${path}: cannot read array '${name}' of the Zarr store (${firstLine(e)})`);
      }
    };
    const cwb = await open("cwb"), era5 = await open("era5");
    if (cwb.shape.length !== 4 || era5.shape.length !== 4) {
      throw new Error(
        `${path}: 'cwb' [${cwb.shape}] and 'era5' [${era5.shape}] must be (time, channel, y, x)`,
      );
    }
    const [T, Cout, Y, X] = cwb.shape, Cin = era5.shape[1];
    if (era5.shape[0] !== T || era5.shape[2] !== Y || era5.shape[3] !== X) {
      throw new Error(`${path}: 'era5' [${era5.shape}] does not match 'cwb' [${cwb.shape}] in time, y and x`);
    }
    const cwbValidArr = await open("cwb_valid"), era5ValidArr = await open("era5_valid");
    if (cwbValidArr.shape.join() !== `${T}` || era5ValidArr.shape.join() !== `${T},${Cin}`) {
      throw new Error(
        `${path}: invalid dataset shape: cwb_valid [${cwbValidArr.shape}] must be [${T}], era5_valid [${era5ValidArr.shape}] must be [${T}, ${Cin}]`,
      );
    }
    const cwbValid = await readAll("cwb_valid"), era5Valid = await readAll("era5_valid");
    const timeArr = await readAll("time", (arr) => expectShape(path, "time", arr.shape, [T]));
    const units = timeArr.arr.attrs.units;
    if (typeof units !== "string") throw new Error(`${path}: array 'time' has no 'units' attribute`);
    const calendar = typeof timeArr.arr.attrs.calendar === "string" ? timeArr.arr.attrs.calendar : undefined;
    const allTimes = decodeCfTimes(
      timeArr.data as (number | bigint)[],
      units,
      calendar,
      `${path}: array 'time'`,
    );
    if (allTimes.length !== T) {
      throw new Error(`${path}: 'time' has ${allTimes.length} values, 'cwb' has ${T} times`);
    }

    const indices: number[] = [];
    for (let t = 0; t < T; t++) {
      let ok = Boolean(Number(cwbValid.data[t]));
      for (let c = 0; ok && c < Cin; c++) ok = Boolean(Number(era5Valid.data[t * Cin + c]));
      if (!ok) continue;
      const is2021 = allTimes[t].getUTCFullYear() === 2021;
      if (opts.allTimes || (opts.train ? !is2021 : is2021)) indices.push(t);
    }

    const vector = async (name: string, n: number) =>
      (await readAll(name, (arr) => expectShape(path, name, arr.shape, [n]))).data;
    const meta = async (prefix: string, n: number) => {
      const names = (await vector(`${prefix}_variable`, n)).map((s) => String(s).replace(/\0+$/, ""));
      const levels = (await vector(`${prefix}_pressure`, n)).map(Number);
      return names.map((name, c) => ({ name, level: pressureLabel(levels[c]), auxiliary: false }));
    };
    const inputMeta = await meta("era5", Cin), outputMeta = await meta("cwb", Cout);
    const inputNorm = new ChannelNormalization(
      (await vector("era5_center", Cin)).map(Number),
      (await vector("era5_scale", Cin)).map(Number),
      inputMeta.map((m) => m.name + m.level),
      `${path} (era5_center/era5_scale)`,
    );
    let center = (await vector("cwb_center", Cout)).map(Number);
    let scale = (await vector("cwb_scale", Cout)).map(Number);
    if (opts.normalization === "v2") {
      center = center.map((c, i) => V2_TARGET_OVERRIDES[outputMeta[i].name]?.[0] ?? c);
      scale = scale.map((s, i) => V2_TARGET_OVERRIDES[outputMeta[i].name]?.[1] ?? s);
    }
    const targetNorm = new ChannelNormalization(
      center,
      scale,
      outputMeta.map((m) => m.name + m.level),
      `${path} (cwb_center/cwb_scale, ${opts.normalization})`,
    );

    checkChannels(path, "in_channels", opts.inChannels, Cin);
    checkChannels(path, "out_channels", opts.outChannels, Cout);
    if (opts.imgShapeX > Y || opts.imgShapeY > X) {
      throw new Error(
        `${path}: img_shape_x x img_shape_y = ${opts.imgShapeX}x${opts.imgShapeY} exceeds the ${Y}x${X} grid`,
      );
    }
    const grid = async (name: string): Promise<Grid2D> => {
      const { data } = await readAll(name, (arr) => expectShape(path, name, arr.shape, [Y, X]));
      const full: Grid2D = { shape: [Y, X], data: Float64Array.from(data as number[]) };
      // The reference crops latitude/longitude only for evaluation, and [:img_shape_y, :img_shape_x].
      return opts.train ? full : cropGrid(full, opts.imgShapeY, opts.imgShapeX);
    };
    const lat = await grid("XLAT"), lon = await grid("XLONG");
    return new CwbDataset({
      path,
      cwb,
      era5,
      indices,
      times: indices.map((t) => allTimes[t]),
      opts,
      inputMeta,
      outputMeta,
      inputNorm,
      targetNorm,
      lat,
      lon,
    });
  }

  /** Number of samples: valid times left after the year filter. */
  get length(): number {
    return this.#indices.length;
  }

  /** `(img_shape_x, img_shape_y)`, as the reference returns it. */
  imageShape(): [number, number] {
    return [...this.#shape];
  }

  /** `XLONG`, the full grid when training, cropped for evaluation (as in the reference). */
  longitude(): Grid2D {
    return this.#lon;
  }

  /** `XLAT`, the full grid when training, cropped for evaluation. */
  latitude(): Grid2D {
    return this.#lat;
  }

  /** The selected `era5` channels. */
  inputChannels(): ChannelMetadata[] {
    return this.#inputMeta.map((m) => ({ ...m }));
  }

  /** The selected `cwb` channels. */
  outputChannels(): ChannelMetadata[] {
    return this.#outputMeta.map((m) => ({ ...m }));
  }

  /** The time of each sample. */
  time(): Date[] {
    return [...this.#times];
  }

  /** Sample `index` read from the store: normalised, the target optionally degraded, both cropped. */
  async item(index: number): Promise<DownscalingItem> {
    this.checkIndex(index, this.#path);
    const t = this.#indices[index];
    const [Y, X] = this.#grid;
    const [target, input] = await Promise.all([
      this.#readChannels(this.#cwb, t, this.#outChannels, "cwb"),
      this.#readChannels(this.#era5, t, this.#inChannels, "era5"),
    ]);
    let y = this.outputNorm.normalize(target, Y * X);
    let [yh, yw] = [Y, X];
    if (this.#dsFactor > 1) {
      const f = this.#dsFactor, C = this.#outChannels.length;
      const low = subsample(y, C, Y, X, f);
      [yh, yw] = [low.h * f, low.w * f];
      y = resizeCubic(low.data, C, low.h, low.w, yh, yw);
    }
    const x = this.inputNorm.normalize(input, Y * X);
    return {
      target: crop(y, this.#outChannels.length, yh, yw, ...this.#shape, this.#path),
      input: crop(x, this.#inChannels.length, Y, X, ...this.#shape, this.#path),
    };
  }

  /** The full (all-channel) normalisation constants, as the reference's `info()`. */
  override info(): Record<string, unknown> {
    const pair = (n: ChannelNormalization) => [[...n.mean], [...n.std]];
    return {
      target_normalization: pair(this.#fullNorms.target),
      input_normalization: pair(this.#fullNorms.input),
    };
  }

  /** The date of store time index `t`, for messages. */
  #timeOf(t: number): string {
    const k = this.#indices.indexOf(t);
    return k < 0 ? "unknown time" : this.#times[k].toISOString();
  }

  async #readChannels(arr: ZArray, t: number, channels: number[], name: string): Promise<Float32Array> {
    const [, C, Y, X] = arr.shape;
    let chunk;
    try {
      chunk = await zarr.get(arr, [t, null, null, null]);
    } catch (e) {
      throw new Error(`${this.#path}: cannot read '${name}' at time index ${t}: ${firstLine(e)}`);
    }
    const all = chunk.data as ArrayLike<number>;
    const plane = Y * X;
    const out = new Float32Array(channels.length * plane);
    channels.forEach((c, k) => {
      if (c >= C) throw new Error(`${this.#path}: channel ${c} of '${name}' out of range`);
      for (let i = 0; i < plane; i++) out[k * plane + i] = all[c * plane + i];
      // Caught here, where the array, time and channel can be named, rather than as NaN losses or members.
      const bad = countNonFinite(out.subarray(k * plane, (k + 1) * plane));
      if (bad) {
        const meta = (name === "cwb" ? this.#outputMeta : this.#inputMeta)[k];
        throw new Error(
          `${this.#path}: array '${name}' has ${bad} NaN/infinite value(s) at time index ${t} ` +
            `(${this.#timeOf(t)}), channel ${c} (${meta.name}${meta.level})`,
        );
      }
    });
    return out;
  }
}

function expectShape(path: string, name: string, shape: readonly number[], want: number[]): void {
  if (shape.join() !== want.join()) {
    throw new Error(`${path}: '${name}' has shape [${shape}], expected [${want.join(", ")}]`);
  }
}

/** Python's `str(float)` for pressure levels (`500.0`); NaN (surface fields) gives "". */
function pressureLabel(p: number): string {
  if (Number.isNaN(p)) return "";
  if (Number.isInteger(p) && Math.abs(p) < 1e16) return `${p}.0`;
  return String(p);
}

function checkChannels(path: string, key: string, channels: number[], n: number): void {
  const bad = channels.filter((c) => !Number.isInteger(c) || c < 0 || c >= n);
  if (bad.length) {
    throw new Error(`${path}: ${key} [${bad}] out of range; the store has ${n} channels (0..${n - 1})`);
  }
}

/** `x[:, :rows, :cols]`. */
function crop(
  x: Float32Array,
  C: number,
  h: number,
  w: number,
  rows: number,
  cols: number,
  where: string,
): Float32Array {
  if (rows > h || cols > w) throw new Error(`${where}: cannot crop ${h}x${w} to ${rows}x${cols}`);
  const out = new Float32Array(C * rows * cols);
  for (let k = 0; k < C; k++) {
    for (let r = 0; r < rows; r++) {
      out.set(x.subarray((k * h + r) * w, (k * h + r) * w + cols), (k * rows + r) * cols);
    }
  }
  return out;
}

function cropGrid(g: Grid2D, rows: number, cols: number): Grid2D {
  const [h, w] = g.shape;
  if (rows > h || cols > w) {
    throw new Error(`cannot crop the ${h}x${w} latitude/longitude grid to ${rows}x${cols}`);
  }
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) data.set(g.data.subarray(r * w, r * w + cols), r * cols);
  return { shape: [rows, cols], data };
}
