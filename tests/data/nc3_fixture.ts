/**
 * A tiny NetCDF3 encoder for test fixtures (classic and 64-bit offset), written from the netCDF
 * classic format specification: big-endian header, fixed-size variables first, then the records
 * of the unlimited dimension, each record variable's slab padded to 4 bytes unless it is the only
 * record variable.
 */

export type Nc3Type = "byte" | "char" | "short" | "int" | "float" | "double";

/** A variable: numbers in C order (records outermost), or text for a `char` variable. */
export interface Nc3Var {
  name: string;
  dims: string[];
  type: Nc3Type;
  data: number[] | ArrayLike<number> | string;
  attrs?: Record<string, string | number | number[]>;
}

/** A file: dimensions in order (`null` length = the unlimited dimension), global attributes, variables. */
export interface Nc3Spec {
  dims: [string, number | null][];
  attrs?: Record<string, string | number | number[]>;
  vars: Nc3Var[];
  /** 1 = classic, 2 = 64-bit offset. */
  version?: 1 | 2;
  /** Number of records (needed when there is an unlimited dimension). */
  numRecs?: number;
}

const TYPE_CODE: Record<Nc3Type, number> = { byte: 1, char: 2, short: 3, int: 4, float: 5, double: 6 };
const TYPE_SIZE: Record<Nc3Type, number> = { byte: 1, char: 1, short: 2, int: 4, float: 4, double: 8 };

class ByteWriter {
  bytes: number[] = [];
  int32(v: number) {
    this.bytes.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  }
  int64(v: number) {
    this.int32(Math.floor(v / 2 ** 32));
    this.int32(v >>> 0);
  }
  pad() {
    while (this.bytes.length % 4) this.bytes.push(0);
  }
  name(s: string) {
    const b = new TextEncoder().encode(s);
    this.int32(b.length);
    this.bytes.push(...b);
    this.pad();
  }
  values(type: Nc3Type, data: ArrayLike<number> | string) {
    if (typeof data === "string") {
      this.bytes.push(...new TextEncoder().encode(data));
      return;
    }
    const view = new DataView(new ArrayBuffer(TYPE_SIZE[type] * data.length));
    for (let i = 0; i < data.length; i++) {
      const o = i * TYPE_SIZE[type], v = data[i];
      if (type === "byte") view.setInt8(o, v);
      else if (type === "short") view.setInt16(o, v, false);
      else if (type === "int") view.setInt32(o, v, false);
      else if (type === "float") view.setFloat32(o, v, false);
      else if (type === "double") view.setFloat64(o, v, false);
      else view.setUint8(o, v);
    }
    this.bytes.push(...new Uint8Array(view.buffer));
  }
  attrs(a: Record<string, string | number | number[]> | undefined) {
    const entries = Object.entries(a ?? {});
    if (!entries.length) return this.int32(0), this.int32(0);
    this.int32(0x0c);
    this.int32(entries.length);
    for (const [name, v] of entries) {
      this.name(name);
      if (typeof v === "string") {
        this.int32(TYPE_CODE.char);
        this.int32(new TextEncoder().encode(v).length);
        this.values("char", v);
      } else {
        const arr = Array.isArray(v) ? v : [v];
        const type: Nc3Type = arr.every(Number.isInteger) ? "int" : "double";
        this.int32(TYPE_CODE[type]);
        this.int32(arr.length);
        this.values(type, arr);
      }
      this.pad();
    }
  }
}

/** Encodes a NetCDF3 file. */
export function encodeNetCDF3(spec: Nc3Spec): Uint8Array {
  const version = spec.version ?? 1;
  const dimIndex = new Map(spec.dims.map(([n], i) => [n, i]));
  const recDim = spec.dims.find(([, len]) => len === null)?.[0];
  const numRecs = spec.numRecs ?? 0;
  const size = (n: string) => spec.dims[dimIndex.get(n)!][1] ?? numRecs;
  const info = spec.vars.map((v) => {
    const record = v.dims[0] === recDim && recDim !== undefined;
    const inner = (record ? v.dims.slice(1) : v.dims).reduce((a, d) => a * size(d), 1) * TYPE_SIZE[v.type];
    return { v, record, slab: inner, vsize: Math.ceil(inner / 4) * 4 };
  });
  const recVars = info.filter((i) => i.record);
  const header = (begins: number[]) => {
    const w = new ByteWriter();
    w.bytes.push(0x43, 0x44, 0x46, version);
    w.int32(numRecs);
    if (spec.dims.length) {
      w.int32(0x0a);
      w.int32(spec.dims.length);
      for (const [n, len] of spec.dims) {
        w.name(n);
        w.int32(len ?? 0);
      }
    } else w.int32(0), w.int32(0);
    w.attrs(spec.attrs);
    if (info.length) {
      w.int32(0x0b);
      w.int32(info.length);
      info.forEach(({ v, vsize }, k) => {
        w.name(v.name);
        w.int32(v.dims.length);
        for (const d of v.dims) w.int32(dimIndex.get(d)!);
        w.attrs(v.attrs);
        w.int32(TYPE_CODE[v.type]);
        w.int32(vsize);
        if (version === 2) w.int64(begins[k]);
        else w.int32(begins[k]);
      });
    } else w.int32(0), w.int32(0);
    return w.bytes;
  };
  const headerLen = header(info.map(() => 0)).length;
  const begins: number[] = [];
  let offset = headerLen;
  for (const i of info) {
    if (!i.record) {
      begins.push(offset);
      offset += i.vsize;
    } else begins.push(-1);
  }
  const single = recVars.length === 1;
  let recOffset = offset;
  info.forEach((i, k) => {
    if (!i.record) return;
    begins[k] = recOffset;
    recOffset += single ? i.slab : i.vsize;
  });
  const recSize = recOffset - offset;
  const out = new ByteWriter();
  out.bytes = header(begins);
  for (const i of info) {
    if (i.record) continue;
    out.values(i.v.type, i.v.data as ArrayLike<number>);
    out.pad();
  }
  for (let r = 0; r < numRecs; r++) {
    for (const i of recVars) {
      const n = i.slab / TYPE_SIZE[i.v.type];
      const d = i.v.data;
      const part = typeof d === "string"
        ? d.slice(r * n, (r + 1) * n)
        : Array.from(d as ArrayLike<number>).slice(r * n, (r + 1) * n);
      out.values(i.v.type, part);
      if (!single) out.pad();
    }
  }
  if (out.bytes.length !== offset + numRecs * recSize) throw new Error("nc3 fixture: layout mismatch");
  return new Uint8Array(out.bytes);
}
