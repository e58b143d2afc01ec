/**
 * NetCDF4 writing on top of h5wasm (HDF5 compiled to WebAssembly).
 *
 * A NetCDF4 file is an HDF5 file that follows a few conventions, all of which are applied here so
 * that `ncdump`, netCDF4-python and xarray read the result as netCDF rather than as raw HDF5:
 * - groups and the file track creation order (netCDF lists dimensions, variables and attributes in
 *   that order);
 * - every dimension is an HDF5 dimension scale; a coordinate variable (1-D, named like its
 *   dimension) is itself the scale, and a dimension without one is a placeholder dataset whose scale
 *   name starts with netCDF's "This is a netCDF dimension but not a netCDF variable" marker;
 * - variables attach the scales of their dimensions, looked up in their own group and then in the
 *   enclosing groups, as netCDF scopes dimensions;
 * - text attributes are fixed-length strings (netCDF `NC_CHAR`), `_NCProperties` included.
 *
 * Files are written under a temporary name next to the target and renamed into place on success,
 * so a failed or interrupted write never replaces an existing file.
 */
import type { Dataset, File as H5File, Group } from "h5wasm/node";
import { basename, dirname, resolve } from "node:path";
import { h5Guard, h5Ready, openHdf5 } from "./hdf5.ts";

/** Attribute values that a NetCDF4 file can hold here: text, one number, or a vector of numbers. */
export type NcAttrInput = string | number | number[];

/** A variable with its full data (row-major, shape given by `dims`). */
export interface NcVarSpec {
  /** Variable name (no "/"). */
  name: string;
  /** Dimension names, outermost first, declared in this group or an enclosing one. */
  dims: string[];
  /** Numbers, or `string[]` for a variable-length string variable (e.g. a label coordinate). */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | string[];
  /** Variable attributes (units, long_name, ...). */
  attrs?: Record<string, NcAttrInput>;
}

/** A group: its dimensions, variables, attributes and subgroups. Dimensions are visible in subgroups. */
export interface NcGroupSpec {
  /** Dimension sizes by name, in declaration order. */
  dims?: Record<string, number>;
  /** Variables of the group. */
  vars?: NcVarSpec[];
  /** Group attributes (global attributes for the root group). */
  attrs?: Record<string, NcAttrInput>;
  /** Subgroups by name. */
  groups?: Record<string, NcGroupSpec>;
}

/** Numeric storage types of a declared variable (netCDF float, double, int, int64). */
export type NcWriteDtype = "f4" | "f8" | "i4" | "i8";

/** A variable declared without data, to be filled slab by slab with {@link NetCDF4Writer.writeSlab}. */
export interface NcVarDecl {
  /** Variable name (no "/"). */
  name: string;
  /** Dimension names, outermost first, declared in this group or an enclosing one (at least one). */
  dims: string[];
  /** Storage type of the values. */
  dtype: NcWriteDtype;
  /** Variable attributes; `_FillValue`, `valid_range` and the like are stored in `dtype`. */
  attrs?: Record<string, NcAttrInput>;
}

/** Like {@link NcGroupSpec}, but variables may be declared without data. */
export interface NcLayout {
  /** Dimension sizes by name, in declaration order. */
  dims?: Record<string, number>;
  /** Variables of the group, with data or declared to be written later. */
  vars?: (NcVarSpec | NcVarDecl)[];
  /** Group attributes (global attributes for the root group). */
  attrs?: Record<string, NcAttrInput>;
  /** Subgroups by name. */
  groups?: Record<string, NcLayout>;
}

/** Options of the NetCDF4 writers. */
export interface NcWriteOptions {
  /** zlib level 1-9 for numeric variables (chunked one 2-D field per chunk); 0 or absent: none. */
  deflate?: number;
}

/** Numeric data accepted by {@link NetCDF4Writer.writeSlab}. */
export type NcNumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array;

/** Prefix netCDF uses to mark a dimension scale that is not also a coordinate variable. */
export const DIM_WITHOUT_VARIABLE = "This is a netCDF dimension but not a netCDF variable.";

// h5wasm's dtype strings: "<f4" would be parsed as a 4-byte float only by accident ("<f8" too), so use
// the struct-style single letters it maps to sizes.
const H5_DTYPE: Record<NcWriteDtype, string> = { f4: "<f", f8: "<d", i4: "<i", i8: "<q" };

// Attributes that CF and netCDF require to have the variable's own type.
const ATTRS_TYPED_LIKE_VARIABLE = new Set([
  "_FillValue",
  "missing_value",
  "valid_min",
  "valid_max",
  "valid_range",
]);

// Largest chunk we let h5wasm allocate for a slab-written variable (HDF5's own limit is 4 GiB).
const MAX_CHUNK_BYTES = 1 << 30;

export { h5Ready } from "./hdf5.ts";

/** Writes a whole NetCDF4 file from an in-memory description (temporary file, then rename). */
export async function writeNetCDF4(
  path: string,
  root: NcGroupSpec,
  opts: NcWriteOptions = {},
): Promise<void> {
  const writer = await NetCDF4Writer.create(path, root, opts);
  await writer.close();
}

/**
 * Incremental NetCDF4 writer: {@link NetCDF4Writer.create} lays out every group, dimension and
 * variable (writing the data of variables that have it), {@link NetCDF4Writer.writeSlab} fills
 * declared variables piece by piece, {@link NetCDF4Writer.close} renames the finished file into
 * place and {@link NetCDF4Writer.abort} discards it. Declared variables are chunked so that they
 * cost no memory until written; cells never written read back as 0.
 */
export class NetCDF4Writer {
  private file: H5File | null;
  private readonly shapes = new Map<string, number[]>();

  private constructor(readonly path: string, private readonly tempPath: string, file: H5File) {
    this.file = file;
  }

  /** Creates the temporary file and its layout. The target `path` is untouched until `close()`. */
  static async create(path: string, layout: NcLayout, opts: NcWriteOptions = {}): Promise<NetCDF4Writer> {
    await h5Ready();
    const target = resolve(path);
    const dir = dirname(target);
    try {
      if (!Deno.statSync(dir).isDirectory) throw new Error("not a directory");
    } catch (e) {
      throw new Error(`cannot write ${path}: directory ${dir} is not usable (${(e as Error).message})`);
    }
    const tempPath = `${dir}/.${basename(target)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    // Create the file from Deno first: h5wasm reports a failed create only as HDF5 diagnostics.
    try {
      Deno.writeFileSync(tempPath, new Uint8Array(0), { createNew: true });
    } catch (e) {
      throw new Error(`cannot write ${path}: cannot create ${tempPath} (${(e as Error).message})`);
    }
    let file: H5File;
    try {
      file = openHdf5(tempPath, "w");
    } catch (e) {
      await Deno.remove(tempPath).catch(() => {});
      throw new Error(`cannot write ${path}: ${(e as Error).message}`);
    }
    const writer = new NetCDF4Writer(target, tempPath, file);
    try {
      const props = "version=2,writer=corrdiff-ts,hdf5=h5wasm";
      h5Guard(
        tempPath,
        () => {
          file.create_attribute("_NCProperties", props, null, `S${props.length}`);
          writer.buildGroup(file, layout, [], opts);
        },
        "laying out the file",
        true,
      );
    } catch (e) {
      await writer.abort();
      throw new Error(`cannot write ${path}: ${(e as Error).message.replace(`${tempPath}: `, "")}`);
    }
    return writer;
  }

  /**
   * Writes `data` into the hyperslab `start .. start + count` of the variable at `variable`
   * (a path like `"prediction/t2m"`, relative to the root group). `data` must have the variable's type.
   */
  writeSlab(variable: string, start: number[], count: number[], data: NcNumericArray): void {
    const file = this.openFile();
    const shape = this.shapes.get(variable);
    if (!shape) throw new Error(`${this.path}: no variable ${variable} declared in this file`);
    if (start.length !== shape.length || count.length !== shape.length) {
      throw new Error(
        `${this.path}: slab of ${variable} needs ${shape.length} start/count entries, got ` +
          `start [${start}] count [${count}]`,
      );
    }
    let n = 1;
    for (let i = 0; i < shape.length; i++) {
      if (start[i] < 0 || count[i] < 0 || start[i] + count[i] > shape[i]) {
        throw new Error(
          `${this.path}: slab start [${start}] count [${count}] is outside ${variable} [${shape}]`,
        );
      }
      n *= count[i];
    }
    if (data.length !== n) {
      throw new Error(
        `${this.path}: slab of ${variable} with count [${count}] needs ${n} values, got ${data.length}`,
      );
    }
    const ds = file.get(variable) as Dataset;
    const want = dtypeOfData(data);
    const have = dtypeOfDataset(ds);
    if (want !== have) throw new Error(`${this.path}: ${variable} is ${have}, slab data is ${want}`);
    h5Guard(
      this.path,
      () => ds.write_slice(start.map((s, i) => [s, s + count[i]]), data),
      `writing ${variable}`,
      true,
    );
  }

  /** Closes the file and renames it onto the target path. */
  async close(): Promise<void> {
    const file = this.openFile();
    this.file = null;
    try {
      h5Guard(this.tempPath, () => file.close(), "finishing the file", true);
      await Deno.rename(this.tempPath, this.path);
    } catch (e) {
      await Deno.remove(this.tempPath).catch(() => {});
      throw new Error(`cannot finish ${this.path}: ${(e as Error).message}`);
    }
  }

  /** Discards the temporary file; the target path keeps whatever it held before. */
  async abort(): Promise<void> {
    if (this.file) {
      const file = this.file;
      try {
        h5Guard(this.tempPath, () => file.close());
      } catch { /* already unusable: removing the file is all that is left to do */ }
      this.file = null;
    }
    await Deno.remove(this.tempPath).catch(() => {});
  }

  /** The open file; throws once the writer is closed or aborted. */
  private openFile(): H5File {
    if (!this.file) throw new Error(`${this.path}: the writer is already closed`);
    return this.file;
  }

  /** Writes `layout`'s attributes, dimensions (as scales), variables and subgroups into `group`. */
  private buildGroup(
    group: Group,
    layout: NcLayout,
    scopes: { path: string; dims: Record<string, number> }[],
    opts: NcWriteOptions,
  ): void {
    const where = group.path === "/" ? "root group" : `group ${group.path}`;
    const dims = layout.dims ?? {};
    const vars = layout.vars ?? [];
    const scope = { path: group.path === "/" ? "" : group.path, dims };
    const visible = [scope, ...scopes];
    const seen = new Set<string>();
    for (const v of vars) {
      if (seen.has(checkName(v.name, where))) throw new Error(`${where}: variable ${v.name} given twice`);
      seen.add(v.name);
    }
    for (const [k, v] of Object.entries(layout.attrs ?? {})) writeAttr(group, k, v, null, where);

    // Dimensions first, in declaration order (netCDF numbers them that way): a coordinate variable
    // becomes its dimension's scale, any other dimension gets a placeholder scale.
    const coords = new Set<string>();
    for (const [dim, size] of Object.entries(dims)) {
      checkName(dim, where);
      if (!Number.isInteger(size) || size < 0) throw new Error(`${where}: dimension ${dim} has size ${size}`);
      const coord = vars.find((v) => v.name === dim);
      if (coord && coord.dims.length === 1 && coord.dims[0] === dim) {
        const ds = this.createVariable(group, coord, visible, opts);
        ds.make_scale(dim);
        coords.add(dim);
      } else if (coord) {
        throw new Error(
          `${where}: variable ${dim} shares its name with a dimension but has dims [${coord.dims}]`,
        );
      } else {
        const ds = group.create_dataset({ name: dim, data: new Float32Array(size), dtype: H5_DTYPE.f4 });
        ds.make_scale(DIM_WITHOUT_VARIABLE + String(size).padStart(10));
      }
    }
    for (const v of vars) if (!coords.has(v.name)) this.createVariable(group, v, visible, opts);
    for (const [name, sub] of Object.entries(layout.groups ?? {})) {
      checkName(name, where);
      if (dims[name] !== undefined || vars.some((v) => v.name === name)) {
        throw new Error(`${where}: group ${name} has the name of a dimension or variable`);
      }
      this.buildGroup(group.create_group(name, true), sub, visible, opts);
    }
  }

  /** Creates variable `v` (with its data, or empty and chunked), its attributes and dimension scales. */
  private createVariable(
    group: Group,
    v: NcVarSpec | NcVarDecl,
    visible: { path: string; dims: Record<string, number> }[],
    opts: NcWriteOptions,
  ): Dataset {
    const varPath = `${group.path === "/" ? "" : group.path}/${v.name}`;
    const where = `variable ${varPath}`;
    const scales = v.dims.map((d) => {
      const owner = visible.find((s) => s.dims[d] !== undefined);
      if (!owner) throw new Error(`${where}: dimension ${d} is not declared in this group or above`);
      return { path: `${owner.path}/${d}`, size: owner.dims[d] };
    });
    const shape = scales.map((s) => s.size);
    const count = shape.reduce((a, b) => a * b, 1);
    const deflate = opts.deflate ?? 0;
    if (!Number.isInteger(deflate) || deflate < 0 || deflate > 9) {
      throw new Error(`deflate level ${deflate} is not 0-9`);
    }
    let ds: Dataset;
    let dtype: NcWriteDtype | "string";
    if ("data" in v) {
      if (v.data.length !== count) {
        throw new Error(
          `${where}: data has ${v.data.length} values, dims [${v.dims}] = [${shape}] need ${count}`,
        );
      }
      dtype = Array.isArray(v.data) ? "string" : dtypeOfData(v.data);
      const compress = dtype !== "string" && deflate > 0 && count > 0 && shape.length > 0;
      ds = group.create_dataset({
        name: v.name,
        data: v.data,
        shape,
        track_order: true,
        ...(dtype === "string" ? {} : { dtype: H5_DTYPE[dtype] }),
        ...(compress
          ? { chunks: chunkShape(shape, 4), compression: "gzip" as const, compression_opts: deflate }
          : {}),
      });
    } else {
      dtype = v.dtype;
      if (!H5_DTYPE[dtype]) throw new Error(`${where}: unknown dtype ${dtype} (f4, f8, i4 or i8)`);
      if (shape.length === 0) throw new Error(`${where}: a scalar variable must be given its data`);
      const size = dtype === "f4" || dtype === "i4" ? 4 : 8;
      const chunks = chunkShape(shape, size);
      // Create it empty along the first axis and grow it: h5wasm would otherwise need the whole
      // variable in memory just to create it.
      ds = group.create_dataset({
        name: v.name,
        data: typedArrayOf(dtype, 0),
        shape: [0, ...shape.slice(1)],
        maxshape: [null, ...shape.slice(1)],
        chunks,
        dtype: H5_DTYPE[dtype],
        track_order: true,
        ...(deflate > 0 ? { compression: "gzip" as const, compression_opts: deflate } : {}),
      });
      ds.resize(shape);
      this.shapes.set(varPath.slice(1), shape);
    }
    for (const [k, a] of Object.entries(v.attrs ?? {})) {
      writeAttr(ds, k, a, dtype === "string" || !ATTRS_TYPED_LIKE_VARIABLE.has(k) ? null : dtype, where);
    }
    scales.forEach((s, i) => {
      if (s.path !== varPath) ds.attach_scale(i, s.path);
    });
    return ds;
  }
}

function checkName(name: string, where: string): string {
  if (typeof name !== "string" || name.length === 0 || name.includes("/")) {
    throw new Error(`${where}: invalid netCDF name ${JSON.stringify(name)} (empty or containing "/")`);
  }
  return name;
}

// One chunk per trailing 2-D field (the unit the generator writes), split further only if huge.
function chunkShape(shape: number[], itemSize: number): number[] {
  const chunks = shape.map((s, i) => (i >= shape.length - 2 ? Math.max(1, s) : 1));
  for (let i = 0; i < chunks.length; i++) {
    while (chunks.reduce((a, b) => a * b, itemSize) > MAX_CHUNK_BYTES && chunks[i] > 1) {
      chunks[i] = Math.ceil(chunks[i] / 2);
    }
  }
  return chunks;
}

function writeAttr(
  target: Group | Dataset,
  name: string,
  value: NcAttrInput,
  like: NcWriteDtype | null,
  where: string,
) {
  checkName(name, where);
  if (typeof value === "string") {
    // Fixed length (netCDF NC_CHAR) of the UTF-8 byte length; h5wasm cannot store a 0-byte string.
    const bytes = new TextEncoder().encode(value).length;
    target.create_attribute(name, value, null, `S${Math.max(1, bytes)}`);
    return;
  }
  const values = typeof value === "number" ? [value] : value;
  if (!Array.isArray(values) || values.length === 0 || values.some((x) => typeof x !== "number")) {
    throw new Error(`${where}: attribute ${name} must be a string, a number or a non-empty number array`);
  }
  const isInt32 = values.every((x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31);
  const dtype: NcWriteDtype = like ?? (isInt32 ? "i4" : "f8");
  target.create_attribute(
    name,
    typedArrayOf(dtype, values),
    typeof value === "number" ? null : [values.length],
    H5_DTYPE[dtype],
  );
}

function typedArrayOf(dtype: NcWriteDtype, init: number | number[]): NcNumericArray {
  const n = typeof init === "number" ? init : init.length;
  const vals = typeof init === "number" ? null : init;
  switch (dtype) {
    case "f4":
      return vals ? Float32Array.from(vals) : new Float32Array(n);
    case "f8":
      return vals ? Float64Array.from(vals) : new Float64Array(n);
    case "i4":
      return vals ? Int32Array.from(vals) : new Int32Array(n);
    case "i8":
      return vals ? BigInt64Array.from(vals.map((x) => BigInt(Math.trunc(x)))) : new BigInt64Array(n);
  }
}

function dtypeOfData(data: NcNumericArray): NcWriteDtype {
  if (data instanceof Float32Array) return "f4";
  if (data instanceof Float64Array) return "f8";
  if (data instanceof Int32Array) return "i4";
  if (data instanceof BigInt64Array) return "i8";
  throw new Error(
    `unsupported data type ${(data as object)?.constructor?.name} (Float32/Float64/Int32/BigInt64Array)`,
  );
}

function dtypeOfDataset(ds: Dataset): NcWriteDtype | "other" {
  const m = ds.metadata;
  // h5wasm's H5T_class_t: 0 integer, 1 float.
  if (m.type === 1) return m.size === 4 ? "f4" : "f8";
  if (m.type === 0 && m.signed) return m.size === 4 ? "i4" : m.size === 8 ? "i8" : "other";
  return "other";
}
