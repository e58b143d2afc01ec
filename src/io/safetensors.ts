/**
 * safetensors reading and writing (the format of the golden files and of our checkpoints).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON header (padded with spaces to a
 * multiple of 8), then the raw little-endian data block. Only F32 and I64 are needed here; I64 is
 * returned as Float64Array-free BigInt64Array so indices stay exact.
 */
import { countNonFinite, firstLine } from "./file_errors.ts";

/** One tensor read from a safetensors file. */
export interface StTensor {
  /** Element type in the file. */
  dtype: "F32" | "I64";
  /** Tensor shape. */
  shape: number[];
  /** Values, row-major: Float32Array for F32, BigInt64Array for I64. */
  data: Float32Array | BigInt64Array;
}

/** A parsed safetensors file: tensors by name plus the optional string metadata. */
export interface StFile {
  /** Tensors by name, in header order. */
  tensors: Map<string, StTensor>;
  /** The header's `__metadata__` strings ({} when absent). */
  metadata: Record<string, string>;
}

/** Options of {@link parseSafetensors}. */
export interface ParseSafetensorsOptions {
  /**
   * Accept NaN and infinite F32 values. Off by default: every safetensors file this program reads
   * holds weights, optimiser moments or reference values, where one is damage.
   */
  allowNonFinite?: boolean;
}

const ELEMENT_BYTES = { F32: 4, I64: 8 } as const;

/**
 * Parses safetensors bytes. `source` names the file in error messages; every error is one line
 * saying what was expected and what was found (truncated, damaged header, bad tensor entry,
 * NaN/infinite values with the tensor name and count).
 */
export function parseSafetensors(
  bytes: Uint8Array,
  source = "<bytes>",
  opts: ParseSafetensorsOptions = {},
): StFile {
  if (bytes.byteLength === 0) throw new Error(`${source}: empty file, expected safetensors`);
  if (bytes.byteLength < 8) {
    throw new Error(`${source}: too short to be a safetensors file (${bytes.byteLength} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.byteLength) {
    throw new Error(
      `${source}: truncated safetensors file (header needs ${8 + n} bytes, the file has ${bytes.byteLength})`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`${source}: damaged safetensors header (not JSON: ${firstLine(e)})`);
  }
  if (!isObject(header)) throw new Error(`${source}: damaged safetensors header (not a JSON object)`);
  const base = 8 + n;
  const tensors = new Map<string, StTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isObject(v) || Object.values(v).some((x) => typeof x !== "string")) {
        throw new Error(`${source}: damaged safetensors header (__metadata__ is not a map of strings)`);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const t = tensorEntry(name, v, source);
    const [b, e] = t.offsets;
    if (base + e > bytes.byteLength) {
      throw new Error(
        `${source}: truncated safetensors file (tensor ${name} needs ${
          base + e
        } bytes, the file has ${bytes.byteLength})`,
      );
    }
    // Copy so that the result is aligned regardless of the header length.
    const raw = bytes.slice(base + b, base + e);
    const count = t.shape.reduce((a, s) => a * s, 1);
    if (t.dtype === "F32") {
      const data = new Float32Array(raw.buffer, 0, count);
      const bad = opts.allowNonFinite ? 0 : countNonFinite(data);
      if (bad) throw new Error(`${source}: tensor ${name} has ${bad} NaN/infinite value(s) among ${count}`);
      tensors.set(name, { dtype: "F32", shape: t.shape, data });
    } else {
      tensors.set(name, { dtype: "I64", shape: t.shape, data: new BigInt64Array(raw.buffer, 0, count) });
    }
  }
  return { tensors, metadata };
}

/** Checks one header entry: dtype, shape and offsets that agree with each other. */
function tensorEntry(
  name: string,
  v: unknown,
  source: string,
): { dtype: "F32" | "I64"; shape: number[]; offsets: [number, number] } {
  const bad = (what: string) => new Error(`${source}: damaged safetensors header (tensor ${name}: ${what})`);
  if (!isObject(v)) throw bad("not an object");
  const { dtype, shape, data_offsets } = v as { dtype: unknown; shape: unknown; data_offsets: unknown };
  if (typeof dtype !== "string") throw bad("no dtype");
  if (dtype !== "F32" && dtype !== "I64") {
    throw new Error(`${source}: tensor ${name} has unsupported dtype ${dtype} (only F32 and I64)`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw bad(`shape ${JSON.stringify(shape)} is not a list of sizes`);
  }
  const offsets = data_offsets as [number, number];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw bad(`data_offsets ${JSON.stringify(data_offsets)} is not [begin, end]`);
  }
  const count = shape.reduce((a: number, s: number) => a * s, 1);
  if (offsets[1] - offsets[0] !== count * ELEMENT_BYTES[dtype]) {
    throw new Error(
      `${source}: tensor ${name} has ${offsets[1] - offsets[0]} bytes for shape [${shape}] of ${dtype}`,
    );
  }
  return { dtype, shape, offsets };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** Reads a safetensors file from disk (see {@link parseSafetensors}). */
export function readSafetensors(path: string, opts: ParseSafetensorsOptions = {}): StFile {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read safetensors file ${path}: ${firstLine(e)}`);
  }
  return parseSafetensors(bytes, path, opts);
}

/** Serialises tensors (F32 or I64) to safetensors bytes, in insertion order. */
export function encodeSafetensors(
  tensors: Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const nbytes = t.data.byteLength;
    header[name] = {
      dtype: t.data instanceof Float32Array ? "F32" : "I64",
      shape: t.shape,
      data_offsets: [offset, offset + nbytes],
    };
    offset += nbytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Writes a safetensors file under a temporary name, flushes it to disk, then renames it, so a crash
 * (or a SIGKILL) never leaves half a file under the final name.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Writes bytes to `<path>.tmp-<pid>`, fsyncs, renames onto `path`; removes the temporary on failure. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    try {
      let off = 0;
      while (off < bytes.byteLength) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* already gone */ }
    throw e;
  }
}
