/**
 * The generation output file: what `generate` writes and `score` reads.
 *
 * Layout (the reference's `generate.py` NetCDFWriter, readable by its `score_samples.py`):
 * - root: dimensions `time`, `ensemble`, `y`, `x`; variables `lat`, `lon` (y, x) and the CF `time`
 *   coordinate (int64 with `units` "<unit> since <date>" and `calendar`);
 * - group `input`: one float32 variable per input channel, (time, y, x), the low-resolution input
 *   upsampled to the output grid;
 * - group `truth`: one float32 variable per output channel, (time, y, x);
 * - group `prediction`: one float32 variable per output channel, (ensemble, time, y, x).
 * All fields are in physical units. Beyond the reference, every variable carries `units` and
 * `long_name`, the file says `Conventions = "CF-1.8"`, and the resolved configuration is kept in the
 * global attribute `cfg` (YAML text), where the reference keeps `str(cfg)`.
 */
import type { Attribute, Dataset, File as H5File, Group } from "h5wasm/node";
import { stringify as toYaml } from "yaml";
import { decodeCfTimes } from "../data/cf.ts";
import { firstLine } from "./file_errors.ts";
import { h5Guard, h5wasm, openHdf5 } from "./hdf5.ts";
import {
  DIM_WITHOUT_VARIABLE,
  h5Ready,
  type NcAttrInput,
  type NcLayout,
  NetCDF4Writer,
} from "./netcdf_write.ts";

/** An input or output channel as stored in the file. */
export interface GenerationVariable {
  /** Variable name in the file (the channel name). */
  name: string;
  /** Physical units (`units` attribute). */
  units: string;
  /** Descriptive name (`long_name` attribute). */
  longName: string;
  /** CF standard name (`standard_name` attribute), written when given. */
  standardName?: string;
}

/** CF-encoded times: `values` in `units` ("hours since 1990-01-01 00:00:00") and `calendar`. */
export interface CfTimes {
  /** Time values, one per time, in `units`. */
  values: number[];
  /** CF units, "<unit> since <date>". */
  units: string;
  /** CF calendar ("standard" when absent). */
  calendar?: string;
}

/** Options of {@link GenerationWriter.create}. */
export interface GenerationWriterOptions {
  /** Final path of the file. */
  path: string;
  /** Output grid rows. */
  ny: number;
  /** Output grid columns. */
  nx: number;
  /** Latitude and longitude of the output grid, (y, x) row-major; NaN where unknown. */
  lat: Float32Array;
  /** Longitude of the output grid, (y, x) row-major; NaN where unknown. */
  lon: Float32Array;
  /** Input channels, written to group `input`. */
  inputVariables: GenerationVariable[];
  /** Output channels, written to groups `truth` and `prediction`. */
  outputVariables: GenerationVariable[];
  /** Ensemble members per time. */
  nEnsemble: number;
  /** The generated times, in output order: dates (encoded in the coarsest exact unit) or CF values. */
  times: Date[] | CfTimes;
  /** The resolved run configuration: an object (stored as YAML) or text. */
  config?: unknown;
  /** Extra global attributes (title, source, history...). */
  attrs?: Record<string, NcAttrInput>;
  /** zlib level for the fields (0: none, the reference's choice and the fastest). */
  deflate?: number;
}

const REFERENCE_EPOCH = Date.UTC(1990, 0, 1);
const REFERENCE_EPOCH_TEXT = "1990-01-01 00:00:00";

/**
 * Writes a generation file time by time and member by member, straight to disk (one chunk per 2-D
 * field, so memory stays at one field whatever the file size). Nothing appears at `path` until
 * {@link GenerationWriter.close}; an interrupted run leaves any previous file there untouched.
 */
export class GenerationWriter {
  private readonly written = new Set<string>();
  private readonly field: number;

  private constructor(private readonly nc: NetCDF4Writer, private readonly opts: GenerationWriterOptions) {
    this.field = opts.ny * opts.nx;
  }

  /** Lays out the file under a temporary name and writes lat, lon and time. */
  static async create(opts: GenerationWriterOptions): Promise<GenerationWriter> {
    const { path, ny, nx, nEnsemble } = opts;
    for (const [k, v] of Object.entries({ ny, nx, nEnsemble })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`generation file ${path}: ${k} must be a positive integer, got ${v}`);
      }
    }
    for (const [k, v] of Object.entries({ lat: opts.lat, lon: opts.lon })) {
      if (v.length !== ny * nx) {
        throw new Error(`generation file ${path}: ${k} has ${v.length} values, grid is ${ny}x${nx}`);
      }
    }
    const cf = Array.isArray(opts.times) ? encodeCfTimes(opts.times) : opts.times;
    const allInt = cf.values.every(Number.isInteger);
    const timeData = allInt ? BigInt64Array.from(cf.values.map(BigInt)) : Float64Array.from(cf.values);
    const fieldVar = (dims: string[]) => (v: GenerationVariable) => ({
      name: v.name,
      dims,
      dtype: "f4" as const,
      attrs: {
        units: v.units,
        long_name: v.longName,
        ...(v.standardName ? { standard_name: v.standardName } : {}),
      },
    });
    const config: Record<string, NcAttrInput> = opts.config === undefined
      ? {}
      : { cfg: typeof opts.config === "string" ? opts.config : toYaml(opts.config) };
    const layout: NcLayout = {
      attrs: {
        Conventions: "CF-1.8",
        title: "CorrDiff generation output",
        history: `${new Date().toISOString()} written by corrdiff-ts`,
        ...opts.attrs,
        ...config,
      },
      dims: { time: cf.values.length, ensemble: nEnsemble, y: ny, x: nx },
      vars: [
        { name: "lat", dims: ["y", "x"], data: opts.lat, attrs: latLonAttrs("latitude", "degrees_north") },
        { name: "lon", dims: ["y", "x"], data: opts.lon, attrs: latLonAttrs("longitude", "degrees_east") },
        {
          name: "time",
          dims: ["time"],
          data: timeData,
          attrs: {
            units: cf.units,
            calendar: cf.calendar ?? "standard",
            standard_name: "time",
            long_name: "time",
          },
        },
      ],
      groups: {
        input: { vars: opts.inputVariables.map(fieldVar(["time", "y", "x"])) },
        truth: { vars: opts.outputVariables.map(fieldVar(["time", "y", "x"])) },
        prediction: { vars: opts.outputVariables.map(fieldVar(["ensemble", "time", "y", "x"])) },
      },
    };
    const nc = await NetCDF4Writer.create(path, layout, { deflate: opts.deflate });
    return new GenerationWriter(nc, opts);
  }

  /** Writes the input channels of time index `t`: `fields` is (input channel, y, x). */
  writeInput(t: number, fields: Float32Array): void {
    this.writeFields("input", this.opts.inputVariables, [], t, fields);
  }

  /** Writes the true output channels of time index `t`: `fields` is (output channel, y, x). */
  writeTruth(t: number, fields: Float32Array): void {
    this.writeFields("truth", this.opts.outputVariables, [], t, fields);
  }

  /** Writes ensemble member `member` at time index `t`: `fields` is (output channel, y, x). */
  writePrediction(member: number, t: number, fields: Float32Array): void {
    if (!Number.isInteger(member) || member < 0 || member >= this.opts.nEnsemble) {
      throw new Error(
        `generation file ${this.opts.path}: member ${member} outside 0..${this.opts.nEnsemble - 1}`,
      );
    }
    this.writeFields("prediction", this.opts.outputVariables, [member], t, fields);
  }

  /** Finishes the file and moves it into place; fails (keeping the old file) if a field was never written. */
  async close(): Promise<void> {
    const { inputVariables, outputVariables, nEnsemble } = this.opts;
    const nTime = this.timeCount();
    const missing: string[] = [];
    for (let t = 0; t < nTime && missing.length < 3; t++) {
      if (inputVariables.length > 0 && !this.written.has(`input/${t}`)) missing.push(`input at time ${t}`);
      if (outputVariables.length > 0 && !this.written.has(`truth/${t}`)) missing.push(`truth at time ${t}`);
      for (let e = 0; e < nEnsemble && outputVariables.length > 0; e++) {
        if (!this.written.has(`prediction/${e}/${t}`)) missing.push(`prediction member ${e} at time ${t}`);
      }
    }
    if (missing.length > 0) {
      await this.nc.abort();
      throw new Error(
        `generation file ${this.opts.path}: never written: ${missing.slice(0, 3).join(", ")}...`,
      );
    }
    await this.nc.close();
  }

  /** Discards the unfinished file. */
  abort(): Promise<void> {
    return this.nc.abort();
  }

  /** Number of times the file holds. */
  private timeCount(): number {
    return Array.isArray(this.opts.times) ? this.opts.times.length : this.opts.times.values.length;
  }

  /** Writes one (channel, y, x) block of `group` at time `t` (after the `lead` indices) and records it. */
  private writeFields(
    group: string,
    vars: GenerationVariable[],
    lead: number[],
    t: number,
    fields: Float32Array,
  ) {
    const { path, ny, nx } = this.opts;
    if (!Number.isInteger(t) || t < 0 || t >= this.timeCount()) {
      throw new Error(`generation file ${path}: time index ${t} outside 0..${this.timeCount() - 1}`);
    }
    if (fields.length !== vars.length * this.field) {
      throw new Error(
        `generation file ${path}: ${group} fields have ${fields.length} values, ` +
          `expected (${vars.length} channels, ${ny}, ${nx})`,
      );
    }
    vars.forEach((v, c) => {
      const start = [...lead, t, 0, 0];
      const count = [...lead.map(() => 1), 1, ny, nx];
      this.nc.writeSlab(
        `${group}/${v.name}`,
        start,
        count,
        fields.subarray(c * this.field, (c + 1) * this.field),
      );
    });
    this.written.add([group, ...lead, t].join("/"));
  }
}

function latLonAttrs(name: string, units: string): Record<string, NcAttrInput> {
  return { standard_name: name, long_name: name, units };
}

/** Encodes dates as CF time since 1990-01-01 in the coarsest of hours, minutes, seconds that is exact. */
export function encodeCfTimes(dates: Date[]): CfTimes {
  const ms = dates.map((d, i) => {
    const v = d.getTime() - REFERENCE_EPOCH;
    if (!Number.isFinite(v)) throw new Error(`time ${i} is not a valid date`);
    return v;
  });
  for (const [unit, step] of [["hours", 3600e3], ["minutes", 60e3], ["seconds", 1e3]] as const) {
    if (ms.every((v) => v % step === 0)) {
      return {
        values: ms.map((v) => v / step),
        units: `${unit} since ${REFERENCE_EPOCH_TEXT}`,
        calendar: "standard",
      };
    }
  }
  return { values: ms, units: `milliseconds since ${REFERENCE_EPOCH_TEXT}`, calendar: "standard" };
}

/**
 * Decodes CF times to dates, or returns null when the units or calendar are not a Gregorian
 * "<unit> since <date>" (e.g. a 360-day calendar), which only CF-aware tools can place.
 */
export function decodeCfTimesOrNull(cf: CfTimes): Date[] | null {
  try {
    const dates = decodeCfTimes(cf.values, cf.units, cf.calendar, "time");
    // A value beyond the range of Date (+-275,000 years) cannot be placed either.
    return dates.every((d) => Number.isFinite(d.getTime())) ? dates : null;
  } catch {
    return null;
  }
}

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
