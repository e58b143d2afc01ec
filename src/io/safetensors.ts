/**
 * safetensors reading and writing (the format of the golden files and of our checkpoints).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON header (padded with spaces to a
 * multiple of 8), then the raw little-endian data block. Only F32 and I64 are needed here; I64 is
 * returned as Float64Array-free BigInt64Array so indices stay exact.
 */

/** One tensor read from a safetensors file. */
export interface StTensor {
  dtype: "F32" | "I64";
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** A parsed safetensors file: tensors by name plus the optional string metadata. */
export interface StFile {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

/** Parses safetensors bytes. `source` names the file in error messages. */
export function parseSafetensors(bytes: Uint8Array, source = "<bytes>"): StFile {
  if (bytes.byteLength < 8) throw new Error(`${source}: too short to be a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.byteLength) throw new Error(`${source}: header length ${n} exceeds file size`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors = new Map<string, StTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = v as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const [b, e] = data_offsets;
    const count = shape.reduce((a, s) => a * s, 1);
    // Copy so that the result is aligned regardless of the header length.
    const raw = bytes.slice(base + b, base + e);
    if (dtype === "F32") {
      if (e - b !== count * 4) throw new Error(`${source}: tensor ${name} has ${e - b} bytes for shape [${shape}]`);
      tensors.set(name, { dtype, shape, data: new Float32Array(raw.buffer, 0, count) });
    } else if (dtype === "I64") {
      if (e - b !== count * 8) throw new Error(`${source}: tensor ${name} has ${e - b} bytes for shape [${shape}]`);
      tensors.set(name, { dtype, shape, data: new BigInt64Array(raw.buffer, 0, count) });
    } else {
      throw new Error(`${source}: tensor ${name} has unsupported dtype ${dtype} (only F32 and I64)`);
    }
  }
  return { tensors, metadata };
}

/** Reads a safetensors file from disk. */
export function readSafetensors(path: string): StFile {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read safetensors file ${path}: ${(e as Error).message}`);
  }
  return parseSafetensors(bytes, path);
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
