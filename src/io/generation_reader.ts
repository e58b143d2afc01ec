/**
 * Reading the generation output file (layout: src/io/generation_file.ts, which writes it): piecewise
 * with {@link GenerationReader}, or whole with {@link readGenerationFile}.
 */
import type { Attribute, Dataset, File as H5File, Group } from "h5wasm/node";
import { firstLine } from "./file_errors.ts";
import { h5Guard, h5wasm, openHdf5 } from "./hdf5.ts";
import { DIM_WITHOUT_VARIABLE, h5Ready, type NcAttrInput } from "./netcdf_write.ts";
import { type CfTimes, decodeCfTimesOrNull } from "./generation_file.ts";

/** A field variable of a generation file: its name, shape and attributes (without netCDF internals). */
export interface GenerationVariableInfo {
  /** Variable name. */
  name: string;
  /** Stored shape: (time, y, x), or (ensemble, time, y, x) for predictions. */
  shape: number[];
  /** The variable's attributes (units, long_name, ...), bookkeeping ones left out. */
  attrs: Record<string, NcAttrInput>;
}

/** The time axis of a generation file: CF values (or string labels for lead-time datasets). */
export interface GenerationTimeAxis {
  /** CF values, or null when the file stores times as strings. */
  cf: CfTimes | null;
  /** Decoded dates, or null when they cannot be decoded (non-Gregorian calendar, string labels). */
  dates: Date[] | null;
  /** A label per time: ISO-8601 for dates, else the stored string or number. */
  labels: string[];
}

/** Everything in a generation file, read into memory (see {@link GenerationReader} to read piecewise). */
export interface GenerationData {
  /** Grid rows. */
  ny: number;
  /** Grid columns. */
  nx: number;
  /** Ensemble members. */
  nEnsemble: number;
  /** Latitude (y, x), or null if the file has none. */
  lat: Float32Array | null;
  /** Longitude (y, x), or null if the file has none. */
  lon: Float32Array | null;
  /** The time coordinate. */
  time: GenerationTimeAxis;
  /** Global attributes (`cfg`, `Conventions`, ...). */
  attrs: Record<string, NcAttrInput>;
  /** Per variable name: (time, y, x) fields and their attributes. */
  input: Map<string, { data: Float32Array; attrs: Record<string, NcAttrInput> }>;
  /** Per variable name: (time, y, x) fields and their attributes. */
  truth: Map<string, { data: Float32Array; attrs: Record<string, NcAttrInput> }>;
  /** Per variable name: (ensemble, time, y, x) fields and their attributes. */
  prediction: Map<string, { data: Float32Array; attrs: Record<string, NcAttrInput> }>;
}

const FIELD_GROUPS: readonly FieldGroup[] = ["input", "truth", "prediction"];
/** The three field groups of a generation file. */
export type FieldGroup = "input" | "truth" | "prediction";

// HDF5 and netCDF bookkeeping attributes, not user metadata.
const HIDDEN_ATTRS = new Set([
  "CLASS",
  "NAME",
  "DIMENSION_LIST",
  "REFERENCE_LIST",
  "_Netcdf4Dimid",
  "_Netcdf4Coordinates",
  "_NCProperties",
  "_nc3_strict",
  "_SuperblockVersion",
  "_IsNetcdf4",
  // Applied on reading (fill to NaN, unpacking), so no longer describing the returned values.
  "_FillValue",
  "scale_factor",
  "add_offset",
]);
// netCDF's default fill for float (what unwritten cells of a netCDF-C file hold).
const NC_FILL_FLOAT = 9.969209968386869e36;

/**
 * Reads a generation file (ours or the reference's, as netCDF4-python writes it) one field at a
 * time, so scoring a long run needs memory for one time step only.
 */
export class GenerationReader {
  /** Field variables per group, in file order. */
  readonly variables: Record<FieldGroup, GenerationVariableInfo[]>;
  /** Grid rows and columns. */
  readonly ny: number;
  /** Grid columns. */
  readonly nx: number;
  /** Times and members, from the prediction variables' shape. */
  readonly nTime: number;
  /** Ensemble members, from the prediction variables' shape. */
  readonly nEnsemble: number;
  /** The time coordinate. */
  readonly time: GenerationTimeAxis;
  /** Global attributes (`cfg`, `Conventions`, ...). */
  readonly attrs: Record<string, NcAttrInput>;

  private constructor(readonly path: string, private file: H5File | null) {
    const f = file!;
    this.attrs = readAttrs(f);
    this.variables = { input: [], truth: [], prediction: [] };
    for (const g of FIELD_GROUPS) {
      const group = f.get(g);
      if (!(group instanceof h5wasm.Group)) continue;
      for (const name of group.keys()) {
        const ds = group.get(name);
        if (ds instanceof h5wasm.Dataset && !isDimensionOnly(ds)) {
          this.variables[g].push({ name, shape: ds.shape ?? [], attrs: readAttrs(ds) });
        }
      }
    }
    const pred = this.variables.prediction[0];
    if (!pred) throw new Error(`${path}: no variables in group "prediction"; not a generation file`);
    if (pred.shape.length !== 4) {
      throw new Error(
        `${path}: prediction/${pred.name} has shape [${pred.shape}], expected (ensemble, time, y, x)`,
      );
    }
    [this.nEnsemble, this.nTime, this.ny, this.nx] = pred.shape;
    for (const g of FIELD_GROUPS) {
      for (const v of this.variables[g]) {
        const want = g === "prediction"
          ? [this.nEnsemble, this.nTime, this.ny, this.nx]
          : [this.nTime, this.ny, this.nx];
        if (v.shape.join() !== want.join()) {
          throw new Error(
            `${path}: ${g}/${v.name} has shape [${v.shape}], expected [${want}] like prediction/${pred.name}`,
          );
        }
      }
    }
    this.time = readTimeAxis(f, path, this.nTime);
  }

  /** Opens a generation file for reading; any problem is one line naming the file. */
  static async open(path: string): Promise<GenerationReader> {
    await h5Ready();
    const magic = new Uint8Array(8);
    let got: number | null;
    try {
      using f = Deno.openSync(path);
      got = f.readSync(magic);
    } catch (e) {
      throw new Error(`cannot open generation file ${path}: ${firstLine(e)}`);
    }
    // Recognise the format first: for anything else HDF5 would only say that it found no superblock.
    if (!got) throw new Error(`${path} is empty; a generation file is NetCDF4`);
    if (new TextDecoder().decode(magic.subarray(1, 4)) !== "HDF") {
      const what = new TextDecoder().decode(magic.subarray(0, 3)) === "CDF"
        ? "a NetCDF3 (classic) file"
        : "not HDF5";
      throw new Error(`${path} is ${what}; a generation file is NetCDF4`);
    }
    const file = openHdf5(path);
    try {
      return h5Guard(path, () => new GenerationReader(path, file), "reading the generation file layout");
    } catch (e) {
      try {
        h5Guard(path, () => file.close());
      } catch { /* the first error is the one to report */ }
      throw e;
    }
  }

  /** Latitude (y, x), or null if the file has none. */
  lat(): Float32Array | null {
    return this.readRootGrid("lat");
  }

  /** Longitude (y, x), or null if the file has none. */
  lon(): Float32Array | null {
    return this.readRootGrid("lon");
  }

  /** Reads `group/name` at time index `t`: (y, x), or (members, y, x) for predictions (first `members` only). */
  readField(group: FieldGroup, name: string, t: number, members = this.nEnsemble): Float32Array {
    if (!Number.isInteger(t) || t < 0 || t >= this.nTime) {
      throw new Error(`${this.path}: time index ${t} outside 0..${this.nTime - 1}`);
    }
    if (members < 1 || members > this.nEnsemble) {
      throw new Error(`${this.path}: ${members} members requested, file has ${this.nEnsemble}`);
    }
    const ranges: [number, number][] = group === "prediction" ? [[0, members], [t, t + 1]] : [[t, t + 1]];
    return this.readSlice(`${group}/${name}`, ranges, ` at time index ${t}`);
  }

  /** Reads a whole variable of a field group (all times and members). */
  readVariable(group: FieldGroup, name: string): Float32Array {
    return this.readSlice(`${group}/${name}`, []);
  }

  /** Releases the file. */
  close(): void {
    const file = this.file;
    this.file = null;
    if (file) h5Guard(this.path, () => file.close());
  }

  /** Reads root variable `name` (lat or lon), checked to be (y, x); null if absent. */
  private readRootGrid(name: string): Float32Array | null {
    const ds = h5Guard(this.path, () => this.openFile().get(name), `looking up ${name}`);
    if (!(ds instanceof h5wasm.Dataset)) return null;
    if ((ds.shape ?? []).join() !== [this.ny, this.nx].join()) {
      throw new Error(
        `${this.path}: ${name} has shape [${ds.shape}], expected (y, x) = [${this.ny}, ${this.nx}]`,
      );
    }
    return this.readSlice(name, []);
  }

  /** Reads variable `path` (all of it, or `ranges` per leading dimension), fill values to NaN, unpacked. */
  private readSlice(path: string, ranges: [number, number][], where = ""): Float32Array {
    return h5Guard(this.path, () => {
      const ds = this.openFile().get(path);
      if (!(ds instanceof h5wasm.Dataset)) throw new Error(`${this.path}: no variable ${path}`);
      const raw = ranges.length === 0 ? ds.value : ds.slice(ranges);
      if (!(raw instanceof Float32Array || raw instanceof Float64Array)) {
        throw new Error(`${this.path}: ${path} is not a floating-point variable`);
      }
      return unpack(raw, readAttrsRaw(ds));
    }, `reading ${path}${where}`);
  }

  /** The open file; throws once the reader is closed. */
  private openFile(): H5File {
    if (!this.file) throw new Error(`${this.path}: reader already closed`);
    return this.file;
  }
}

/** Reads a whole generation file into memory. */
export async function readGenerationFile(path: string): Promise<GenerationData> {
  const r = await GenerationReader.open(path);
  try {
    const group = (g: FieldGroup) =>
      new Map(r.variables[g].map((v) => [v.name, { data: r.readVariable(g, v.name), attrs: v.attrs }]));
    return {
      ny: r.ny,
      nx: r.nx,
      nEnsemble: r.nEnsemble,
      lat: r.lat(),
      lon: r.lon(),
      time: r.time,
      attrs: r.attrs,
      input: group("input"),
      truth: group("truth"),
      prediction: group("prediction"),
    };
  } finally {
    r.close();
  }
}

// Applies netCDF's masking and packing conventions as netCDF4-python does: fill values become NaN,
// then scale_factor/add_offset unpack.
function unpack(raw: Float32Array | Float64Array, attrs: Record<string, unknown>): Float32Array {
  const out = raw instanceof Float32Array ? raw : Float32Array.from(raw);
  const fill = firstNumber(attrs._FillValue);
  const fillF32 = fill === undefined ? Math.fround(NC_FILL_FLOAT) : Math.fround(fill);
  const scale = firstNumber(attrs.scale_factor) ?? 1;
  const offset = firstNumber(attrs.add_offset) ?? 0;
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    out[i] = v === fillF32 ? NaN : v * scale + offset;
  }
  return out;
}

function firstNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<number>).length > 0) {
    return Number((v as unknown as ArrayLike<number>)[0]);
  }
  if (Array.isArray(v) && v.length > 0) return Number(v[0]);
  return undefined;
}

function isDimensionOnly(ds: Dataset): boolean {
  const name = ds.attrs.NAME;
  if (!name) return false;
  const v = name.value;
  return typeof v === "string" && v.startsWith(DIM_WITHOUT_VARIABLE);
}

function readAttrsRaw(obj: Group | Dataset): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, a] of Object.entries(obj.attrs)) {
    if (k === "_FillValue" || k === "scale_factor" || k === "add_offset") out[k] = (a as Attribute).value;
  }
  return out;
}

/** The user attributes of a group or variable, as strings, numbers or number arrays. */
function readAttrs(obj: Group | Dataset): Record<string, NcAttrInput> {
  const out: Record<string, NcAttrInput> = {};
  for (const [k, a] of Object.entries(obj.attrs)) {
    if (HIDDEN_ATTRS.has(k)) continue;
    const v = normaliseAttr((a as Attribute).value);
    if (v !== null) out[k] = v;
  }
  return out;
}

function normaliseAttr(v: unknown): NcAttrInput | null {
  if (typeof v === "string") return v.replace(/\0+$/, "");
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    const arr = Array.from(v as ArrayLike<unknown>);
    if (arr.every((x) => typeof x === "string")) return (arr as string[]).join("\n");
    const nums = arr.map((x) => Number(x));
    return nums.length === 1 ? nums[0] : nums;
  }
  return null;
}

function readTimeAxis(f: H5File, path: string, nTime: number): GenerationTimeAxis {
  const ds = f.get("time");
  if (!(ds instanceof h5wasm.Dataset) || isDimensionOnly(ds)) {
    const labels = Array.from({ length: nTime }, (_, i) => String(i));
    return { cf: null, dates: null, labels };
  }
  const raw = ds.value;
  const values = Array.from(raw as ArrayLike<unknown>);
  if (values.length < nTime) {
    throw new Error(`${path}: time has ${values.length} values, prediction has ${nTime} times`);
  }
  if (values.every((v) => typeof v === "string")) {
    return { cf: null, dates: null, labels: (values as string[]).slice(0, nTime) };
  }
  const attrs = readAttrs(ds);
  const units = typeof attrs.units === "string" ? attrs.units : "";
  const calendar = typeof attrs.calendar === "string" ? attrs.calendar : "standard";
  const cf: CfTimes = { values: values.slice(0, nTime).map(Number), units, calendar };
  const dates = decodeCfTimesOrNull(cf);
  const labels = dates ? dates.map((d) => d.toISOString()) : cf.values.map(String);
  return { cf, dates, labels };
}
