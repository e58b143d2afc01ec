/**
 * PhysicsNeMo `.mdlus` checkpoints (`Module.save`): a zip, or a legacy tar, holding `model.pt`
 * (torch zip serialization of the state dict), `args.json` (class and constructor arguments) and
 * `metadata.json`. Reading applies the reference's load-time hooks so the result can go straight
 * into a network built from it: legacy attention keys renamed, `device_buffer` dropped, deprecated
 * class names mapped.
 */
import { countNonFinite, firstLine, withFileErrors } from "./file_errors.ts";
import { isZip, ZipArchive } from "./zip.ts";
import { type PyValue, readTorchZip, TorchTensor } from "./torch_pickle.ts";

/** One state-dict tensor, converted to float32 (row-major, contiguous). */
export interface MdlusTensor {
  /** The dtype stored in the checkpoint (float16/bfloat16 upcast exactly). */
  dtype: string;
  /** Tensor shape. */
  shape: number[];
  /** Values, float32, row-major. */
  data: Float32Array;
}

/** A parsed `.mdlus`. */
export interface MdlusFile {
  /** Path the checkpoint was read from. */
  path: string;
  /** Archive format: zip, or the legacy tar. */
  format: "zip" | "tar";
  /** `__name__` as saved (e.g. `UNet`, `EDMPrecondSR`). */
  className: string;
  /** `__module__`, with an old leading `modulus` rewritten to `physicsnemo` as the reference does. */
  module: string;
  /** `__args__` as saved (non-finite floats decoded). */
  args: Record<string, unknown>;
  /** Contents of `metadata.json`. */
  metadata: Record<string, unknown>;
  /** The network to build: the class name and kwargs after the reference's compatibility mapping. */
  network: { class: string; kwargs: Record<string, unknown> };
  /** State dict in file order, after the load-time renames. */
  tensors: Map<string, MdlusTensor>;
}

/**
 * Parses JSON as Python's `json` writes it: bare `Infinity`, `-Infinity` and `NaN` tokens (outside
 * strings) are accepted, which `JSON.parse` rejects.
 */
export function parsePythonJson(text: string, source = "<json>"): unknown {
  const SENTINEL = "\u0000pyjson:";
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i] ?? "";
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    const tok = ["-Infinity", "Infinity", "NaN"].find((t) => text.startsWith(t, i));
    if (tok) {
      out += JSON.stringify(SENTINEL + tok);
      i += tok.length - 1;
    } else out += c;
  }
  try {
    return JSON.parse(
      out,
      (_k, v) => typeof v === "string" && v.startsWith(SENTINEL) ? Number(v.slice(SENTINEL.length)) : v,
    );
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
}

/** True if the bytes are a POSIX tar (`ustar` at offset 257), the reference's first test. */
export function isTar(bytes: Uint8Array): boolean {
  return bytes.length >= 263 && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar";
}

/** Regular-file members of a tar archive by name (ustar, PAX `path`/`size` records, GNU long names). */
export function readTar(bytes: Uint8Array, source: string): Map<string, Uint8Array> {
  const td = new TextDecoder();
  const str = (p: number, n: number) => {
    const b = bytes.subarray(p, p + n);
    const z = b.indexOf(0);
    return td.decode(z < 0 ? b : b.subarray(0, z));
  };
  const num = (p: number, n: number) => {
    // Base-256 for values too large for octal (high bit set), else octal text.
    if (bytes[p] & 0x80) {
      let x = bytes[p] & 0x7f;
      for (let i = 1; i < n; i++) x = x * 256 + bytes[p + i];
      return x;
    }
    const s = str(p, n).trim();
    return s ? parseInt(s, 8) : 0;
  };
  const out = new Map<string, Uint8Array>();
  let p = 0;
  let pax: Record<string, string> = {};
  let longName: string | null = null;
  for (;;) {
    if (p + 512 > bytes.length) {
      throw new Error(`${source}: truncated tar archive (no end-of-archive blocks)`);
    }
    if (bytes.subarray(p, p + 512).every((b) => b === 0)) return out;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : bytes[p + i];
    if (sum !== num(p + 148, 8)) {
      throw new Error(`${source}: damaged tar archive (bad header checksum at byte ${p})`);
    }
    const type = String.fromCharCode(bytes[p + 156] || 0x30);
    const prefix = td.decode(bytes.subarray(p + 257, p + 263)) === "ustar\0" ? str(p + 345, 155) : "";
    let name = longName ?? pax.path ?? (prefix ? `${prefix}/${str(p, 100)}` : str(p, 100));
    const size = pax.size !== undefined ? Number(pax.size) : num(p + 124, 12);
    const start = p + 512;
    if (start + size > bytes.length) {
      throw new Error(
        `${source}: truncated tar archive (member ${name} needs ${size} bytes, ${
          Math.max(0, bytes.length - start)
        } remain)`,
      );
    }
    const data = bytes.subarray(start, start + size);
    p = start + Math.ceil(size / 512) * 512;
    if (type === "x") {
      pax = parsePax(data);
      continue;
    }
    if (type === "L") {
      longName = str(start, size);
      continue;
    }
    pax = {};
    longName = null;
    if (type === "0" || type === "7") {
      name = name.replace(/^\.\//, "");
      out.set(name, data);
    }
  }
}

function parsePax(data: Uint8Array): Record<string, string> {
  // Records are "<len> <key>=<value>\n" with <len> counting bytes of the whole record.
  const out: Record<string, string> = {};
  let p = 0;
  while (p < data.length) {
    const sp = data.indexOf(0x20, p);
    if (sp < 0) break;
    const len = parseInt(new TextDecoder().decode(data.subarray(p, sp)), 10);
    if (!(len > 0)) break;
    const rec = new TextDecoder().decode(data.subarray(sp + 1, p + len - 1));
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    p += len;
  }
  return out;
}

/** The three members of a `.mdlus`, from either container. */
function members(
  bytes: Uint8Array,
  source: string,
): { format: "zip" | "tar"; get(name: string): Uint8Array } {
  // The reference tests tar first: a tar .mdlus ends with a stored zip (model.pt), so a search for a
  // zip end record would misread it.
  if (isTar(bytes)) {
    const m = readTar(bytes, source);
    return {
      format: "tar",
      get(name) {
        const d = m.get(name);
        if (!d) throw new Error(`${source}: missing member ${name}`);
        return d;
      },
    };
  }
  if (isZip(bytes)) {
    const zip = new ZipArchive(bytes, source);
    if (!zip.has("args.json") && zip.names.some((n) => n.endsWith("/data.pkl"))) {
      throw new Error(
        `${source}: a torch.save file (e.g. training state), not a .mdlus: it has no args.json`,
      );
    }
    return { format: "zip", get: (name) => zip.read(name) };
  }
  throw new Error(`${source}: not a .mdlus checkpoint (neither a tar nor a zip archive)`);
}

/** Deprecated class names and the arguments the reference drops when it maps them. */
const CLASS_ALIASES: Record<string, { to: string; drop: string[] }> = {
  // Regression checkpoints of version 0.1.0 ("UNet", or the new name) carry unused EDM arguments.
  UNet: { to: "CorrDiffRegressionUNet", drop: ["img_channels", "sigma_min", "sigma_max", "sigma_data"] },
  CorrDiffRegressionUNet: {
    to: "CorrDiffRegressionUNet",
    drop: ["img_channels", "sigma_min", "sigma_max", "sigma_data"],
  },
};

/** The class and kwargs to build for a saved `__name__`/`__args__` (EDMPrecondSR keeps scale_cond_input). */
export function networkSpecFromArgs(
  className: string,
  args: Record<string, unknown>,
): { class: string; kwargs: Record<string, unknown> } {
  const alias = CLASS_ALIASES[className];
  const kwargs = { ...args };
  if (alias) { for (const k of alias.drop) delete kwargs[k]; }
  return { class: alias?.to ?? className, kwargs };
}

/**
 * The reference's load-time key hooks: UNetBlock's legacy attention keys `<block>.norm2|qkv|proj.*`
 * become `<block>.attn.norm|qkv|proj.*` (both present is an error), and `device_buffer` entries of
 * old files are dropped.
 */
export function renameLegacyKeys<T>(tensors: Map<string, T>, source: string): Map<string, T> {
  const out = new Map<string, T>();
  const legacy = /^((?:.*\.)?)(norm2|qkv|proj)\.([^.]+)$/;
  for (const [key, t] of tensors) {
    if (/(^|\.)device_buffer$/.test(key)) continue;
    const m = key.match(legacy);
    if (m && m[1] !== "attn." && !m[1].endsWith(".attn.")) {
      const to = `${m[1]}attn.${m[2] === "norm2" ? "norm" : m[2]}.${m[3]}`;
      if (tensors.has(to)) throw new Error(`${source}: both ${key} and ${to} are present`);
      out.set(to, t);
    } else out.set(key, t);
  }
  return out;
}

function asRecord(v: unknown, what: string, source: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new Error(`${source}: ${what} is not a JSON object`);
  }
  return v as Record<string, unknown>;
}

/** The state dict of an unpickled `model.pt`: string keys to tensors, converted to float32. */
function stateDict(value: PyValue, source: string): Map<string, MdlusTensor> {
  if (!(value instanceof Map)) throw new Error(`${source}: model.pt does not hold a state dict`);
  const out = new Map<string, MdlusTensor>();
  for (const [k, t] of value) {
    if (typeof k !== "string" || !(t instanceof TorchTensor)) {
      throw new Error(`${source}: model.pt entry ${String(k)} is not a tensor`);
    }
    let tensor: MdlusTensor;
    try {
      tensor = { dtype: t.dtype, shape: t.shape, data: t.data };
    } catch (e) {
      // Name the tensor, not only its storage record.
      throw new Error(`${firstLine(e)} (tensor ${k})`);
    }
    const bad = countNonFinite(tensor.data);
    if (bad) {
      throw new Error(`${source}: tensor ${k} has ${bad} NaN/infinite value(s) among ${tensor.data.length}`);
    }
    out.set(k, tensor);
  }
  return out;
}

/**
 * Parses the bytes of a `.mdlus`; every error is one line naming `path` (a damaged archive that
 * trips the parsers anywhere included), NaN/infinite weights with the tensor name and count.
 */
export function parseMdlus(bytes: Uint8Array, path: string): MdlusFile {
  return withFileErrors(path, "PhysicsNeMo .mdlus checkpoint", () => parseMdlusBytes(bytes, path));
}

function parseMdlusBytes(bytes: Uint8Array, path: string): MdlusFile {
  const m = members(bytes, path);
  const td = new TextDecoder();
  const argsJson = asRecord(
    parsePythonJson(td.decode(m.get("args.json")), `${path} [args.json]`),
    "args.json",
    path,
  );
  const metadata = asRecord(
    parsePythonJson(td.decode(m.get("metadata.json")), `${path} [metadata.json]`),
    "metadata.json",
    path,
  );
  const className = argsJson.__name__;
  if (typeof className !== "string") throw new Error(`${path}: args.json has no __name__`);
  const args = asRecord(argsJson.__args__ ?? {}, "args.json __args__", path);
  const nested = Object.keys(argsJson).find((k) => k.startsWith("__physicsnemo.Module__"));
  if (nested) throw new Error(`${path}: nested module argument ${nested} is not supported`);
  const module = String(argsJson.__module__ ?? "").replace(/^modulus(?=\.|$)/, "physicsnemo");
  const inner = `${path} [model.pt]`;
  const { value } = readTorchZip(m.get("model.pt"), inner);
  return {
    path,
    format: m.format,
    className,
    module,
    args,
    metadata,
    network: networkSpecFromArgs(className, args),
    tensors: renameLegacyKeys(stateDict(value, inner), path),
  };
}

/** Reads a `.mdlus` file (zip or legacy tar). */
export function readMdlus(path: string): MdlusFile {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${firstLine(e)})`);
  }
  return parseMdlus(bytes, path);
}
