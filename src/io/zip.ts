/**
 * A small, synchronous ZIP reader for the archives PyTorch and PhysicsNeMo write: the outer `.mdlus`
 * (Python's `zipfile`, stored) and `torch.save`'s container (miniz, stored, data descriptors, Zip64
 * end records). Deflate is inflated with Node's built-in zlib, which Deno ships, so reading stays
 * synchronous; other methods are refused with a clear message.
 */
import { inflateRawSync } from "node:zlib";

/** One member as the central directory describes it. */
export interface ZipEntry {
  /** Member path inside the archive. */
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  /** Bytes of the stored (possibly compressed) data. */
  compressedSize: number;
  /** Bytes of the uncompressed data. */
  size: number;
  /** CRC-32 of the uncompressed data. */
  crc32: number;
  /** Offset of the member's local file header in the archive. */
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;

/** True if the bytes start with a ZIP local-file header (`PK\x03\x04`). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE), as stored in ZIP headers. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A parsed ZIP archive over an in-memory file. `source` names the file in every error. */
export class ZipArchive {
  /** Members by name. */
  readonly entries = new Map<string, ZipEntry>();
  /** Member names in central-directory order (PyTorch takes the record prefix from the first). */
  readonly names: string[] = [];
  readonly #view: DataView;

  /** Reads the central directory of `bytes` (Zip64 included); `source` names the file in errors. */
  constructor(readonly bytes: Uint8Array, readonly source: string) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const { count, cdOffset, cdSize } = this.#endRecord();
    if (cdOffset + cdSize > bytes.length) {
      this.#truncated(`central directory at ${cdOffset} runs past the end`);
    }
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.length || this.#u32(p) !== SIG_CENTRAL) {
        throw new Error(
          `${source}: damaged zip archive: central directory entry ${i} is not where the end record says`,
        );
      }
      const nameLen = this.#u16(p + 28), extraLen = this.#u16(p + 30), commentLen = this.#u16(p + 32);
      const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
      let compressedSize = this.#u32(p + 20), size = this.#u32(p + 24), localHeaderOffset = this.#u32(p + 42);
      // Zip64 extra field: the 64-bit values appear only for the fields saturated at 0xffffffff, in this order.
      const z = this.#zip64Extra(p + 46 + nameLen, extraLen);
      if (z) {
        let q = 0;
        if (size === 0xffffffff) size = z[q++];
        if (compressedSize === 0xffffffff) compressedSize = z[q++];
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = z[q++];
      }
      const entry = {
        name,
        method: this.#u16(p + 10),
        compressedSize,
        size,
        crc32: this.#u32(p + 16),
        localHeaderOffset,
      };
      this.entries.set(name, entry);
      this.names.push(name);
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** True if the archive has a member of this name. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * A member's bytes (a view into the archive for stored members; copy before viewing as floats,
   * since members are not 4-byte aligned in general). Checks the CRC.
   */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.source}: missing member ${name}`);
    const lh = e.localHeaderOffset;
    if (lh + 30 > this.bytes.length) this.#truncated(`member ${name} starts past the end`);
    if (this.#u32(lh) !== SIG_LOCAL) {
      throw new Error(`${this.source}: damaged zip archive: no local header for ${name}`);
    }
    // Sizes come from the central directory: PyTorch writes zeros in the local header (flag bit 3),
    // and its extra field (padding to 64 bytes) differs from the central one.
    const start = lh + 30 + this.#u16(lh + 26) + this.#u16(lh + 28);
    const end = start + e.compressedSize;
    if (end > this.bytes.length) {
      this.#truncated(`member ${name} needs bytes up to ${end}, the file has ${this.bytes.length}`);
    }
    const raw = this.bytes.subarray(start, end);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = new Uint8Array(inflateRawSync(raw));
      } catch (err) {
        throw new Error(`${this.source}: member ${name} does not inflate (${(err as Error).message})`);
      }
    } else {
      throw new Error(
        `${this.source}: member ${name} uses zip compression method ${e.method} (only stored and deflate are supported)`,
      );
    }
    if (data.length !== e.size) {
      throw new Error(
        `${this.source}: member ${name} has ${data.length} bytes, the directory says ${e.size}`,
      );
    }
    if (crc32(data) !== e.crc32) {
      throw new Error(`${this.source}: member ${name} is corrupt (CRC-32 mismatch)`);
    }
    return data;
  }

  #u16(p: number): number {
    return this.#view.getUint16(p, true);
  }

  #u32(p: number): number {
    return this.#view.getUint32(p, true);
  }

  #u64(p: number): number {
    return Number(this.#view.getBigUint64(p, true));
  }

  #truncated(why: string): never {
    throw new Error(`${this.source}: truncated zip archive (${why})`);
  }

  /** Finds the end record (and the Zip64 one when the ordinary fields are saturated). */
  #endRecord(): { count: number; cdOffset: number; cdSize: number } {
    const b = this.bytes;
    let eocd = -1;
    for (let p = b.length - 22; p >= Math.max(0, b.length - 22 - 0xffff); p--) {
      // The record must end the file (with its comment): a stored inner zip (torch's model.pt) has an
      // end record of its own inside a truncated outer file, which must not be taken for the outer one.
      if (this.#u32(p) === SIG_EOCD && p + 22 + this.#u16(p + 20) === b.length) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) {
      if (isZip(b)) this.#truncated("no end-of-central-directory record");
      throw new Error(`${this.source}: not a zip archive`);
    }
    let count = this.#u16(eocd + 10), cdSize = this.#u32(eocd + 12), cdOffset = this.#u32(eocd + 16);
    const loc = eocd - 20;
    if (
      (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && loc >= 0 &&
      this.#u32(loc) === SIG_ZIP64_LOCATOR
    ) {
      const z = this.#u64(loc + 8);
      if (z + 56 > b.length || this.#u32(z) !== SIG_ZIP64_EOCD) {
        throw new Error(`${this.source}: damaged zip archive (bad Zip64 end record)`);
      }
      count = this.#u64(z + 32);
      cdSize = this.#u64(z + 40);
      cdOffset = this.#u64(z + 48);
    }
    return { count, cdOffset, cdSize };
  }

  /** The 64-bit values of a Zip64 extra field (id 1) in an extra block, if any. */
  #zip64Extra(p: number, len: number): number[] | null {
    const end = p + len;
    while (p + 4 <= end) {
      const id = this.#u16(p), n = this.#u16(p + 2);
      if (id === 1) {
        const out: number[] = [];
        for (let q = p + 4; q + 8 <= p + 4 + n; q += 8) out.push(this.#u64(q));
        return out;
      }
      p += 4 + n;
    }
    return null;
  }
}
