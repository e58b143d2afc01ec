/**
 * Byte-level damage for the fuzz corpus: truncations, bit flips, header and JSON edits. Each
 * mutant is a name, the new bytes, and whether the damage must be reported ("error") or may leave a
 * valid file ("any").
 */
import type { Rng } from "../../src/util/rng.ts";

/** A file-level mutation: a name and the new bytes. */
export type Mutant = [string, Uint8Array, "error" | "any"];

const enc = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Byte-level damage

/** Truncations at spread and random offsets, bit flips in the header region and in the data. */
export function damage(
  bytes: Uint8Array,
  rng: Rng,
  o: {
    truncations: number;
    headerFlips: number;
    dataFlips: number;
    header: number;
    cutsMayBeValid?: boolean;
  },
): Mutant[] {
  const out: Mutant[] = [];
  const n = bytes.length;
  const cuts = new Set([0, 1, 8, Math.min(n - 1, 64)]);
  for (let i = 1; cuts.size < o.truncations && i < 4 * o.truncations; i++) {
    cuts.add(i % 2 ? Math.floor((n * i) / (2 * o.truncations + 1)) : Math.floor(rng.uniform() * n));
  }
  for (const c of [...cuts].slice(0, o.truncations)) {
    out.push([`truncated to ${c} of ${n} bytes`, bytes.slice(0, c), o.cutsMayBeValid ? "any" : "error"]);
  }
  const header = Math.min(o.header, n);
  for (let i = 0; i < o.headerFlips; i++) {
    const at = Math.floor(rng.uniform() * header), bit = rng.nextU32() % 8;
    out.push([`bit ${bit} of header byte ${at} flipped`, flipBit(bytes, at, bit), "any"]);
  }
  for (let i = 0; i < o.dataFlips && n > header; i++) {
    const at = header + Math.floor(rng.uniform() * (n - header)), bit = rng.nextU32() % 8;
    out.push([`bit ${bit} of data byte ${at} flipped`, flipBit(bytes, at, bit), "any"]);
  }
  return out;
}

/** Flips in the last 2 KB: where a zip keeps its central directory. */
export function tailFlips(bytes: Uint8Array, rng: Rng, count: number): Mutant[] {
  return Array.from({ length: count }, (): Mutant => {
    const at = bytes.length - 1 - Math.floor(rng.uniform() * Math.min(2048, bytes.length)),
      bit = rng.nextU32() % 8;
    return [`bit ${bit} of byte ${at} (zip directory) flipped`, flipBit(bytes, at, bit), "any"];
  });
}

export function cut(bytes: Uint8Array, fraction: number): Uint8Array {
  return bytes.slice(0, Math.floor(bytes.length * fraction));
}

export function flipBit(bytes: Uint8Array, at: number, bit: number): Uint8Array {
  const out = bytes.slice();
  out[at] ^= 1 << bit;
  return out;
}

/** Where a safetensors file's JSON header ends (its data starts). */
export function headerEnd(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}

/** A safetensors file with its header JSON edited (data block unchanged). */
export function editHeader(
  bytes: Uint8Array,
  edit: (h: Record<string, { dtype: string; shape: number[] }>) => void,
): Uint8Array {
  const end = headerEnd(bytes);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, end)));
  edit(header);
  let json = enc.encode(JSON.stringify(header));
  json = Uint8Array.from({ length: Math.ceil(json.length / 8) * 8 }, (_, i) => json[i] ?? 0x20);
  const out = new Uint8Array(8 + json.length + bytes.length - end);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(end), 8 + json.length);
  return out;
}

// deno-lint-ignore no-explicit-any
export function jsonEdits(base: unknown, edits: [string, (j: any) => void][]): Mutant[] {
  return edits.map(([m, edit]) => {
    const j = structuredClone(base);
    edit(j);
    return [m, enc.encode(JSON.stringify(j)), "error"];
  });
}
