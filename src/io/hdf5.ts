/**
 * The one place that talks to h5wasm (HDF5 compiled to WebAssembly) about errors.
 *
 * HDF5 reports every failure by printing its error stack to stderr (`HDF5-DIAG: Error detected in
 * HDF5 ...`, a screen per failure) and h5wasm then throws only `error - name not defined!` or returns
 * an invalid id. So, once the module is loaded, writes of the wasm module to its stderr are captured
 * here instead of printed, and {@link h5Guard} turns the captured stack into one line naming the file:
 * `truncated NetCDF4/HDF5 file (20.0 kB of the expected 24.9 kB)`, `HDF5 metadata checksum mismatch:
 * the file is damaged`, or the deepest HDF5 message. The Emscripten runtime's own warnings are
 * captured too (see `hdf5_console.ts`). `setHdf5Verbose(true)` (the CLIs' `--verbose`, or
 * `CORRDIFF_VERBOSE=1` for every command) prints all of it as well. Other modules import h5wasm
 * through here (types may come from "h5wasm/node" directly).
 */
// Must come before h5wasm: see hdf5_console.ts.
import { emscriptenPrint, restoreConsole } from "./hdf5_console.ts";
import h5wasm, { type File as H5File } from "h5wasm/node";
import { firstLine, formatBytes } from "./file_errors.ts";

/** h5wasm itself, for the readers and writers: importing it through here keeps its output captured. */
export { h5wasm };

/** Emscripten's file-system object, reduced to the write hook used here. */
interface EmscriptenFS {
  write(
    stream: { fd: number },
    buffer: Uint8Array,
    offset: number,
    length: number,
    ...rest: unknown[]
  ): number;
}

let ready: Promise<void> | null = null;
let verbose = envVerbose();
let captured = "";

function envVerbose(): boolean {
  try {
    return /^(1|true|yes)$/i.test(Deno.env.get("CORRDIFF_VERBOSE") ?? "");
  } catch {
    return false; // no --allow-env: quiet, the default
  }
}

/** Resolves once h5wasm is initialised and its error printing captured (shared by every reader and writer). */
export function h5Ready(): Promise<void> {
  ready ??= h5wasm.ready.then((mod) => {
    restoreConsole();
    captureStderr((mod as unknown as { FS: EmscriptenFS }).FS);
  });
  return ready;
}

/** Also print HDF5's own error stacks (for `--verbose`); they are always captured for the messages. */
export function setHdf5Verbose(on: boolean): void {
  verbose = on;
}

// Emscripten routes the C library's stderr (fd 2) through FS.write, looked up at each call: replacing
// the method is the only hook h5wasm leaves (its H5Eset_auto is not exported).
function captureStderr(fs: EmscriptenFS): void {
  // The runtime's own warnings (printed with console.error/log bound at load) go the same way.
  const real = { out: emscriptenPrint.out, err: emscriptenPrint.err };
  for (const k of ["out", "err"] as const) {
    emscriptenPrint[k] = (...args) => {
      captured += args.map(String).join(" ") + "\n";
      if (verbose) real[k](...args);
    };
  }
  const write = fs.write;
  const decoder = new TextDecoder();
  fs.write = function (stream, buffer, offset, length, ...rest) {
    if (stream.fd !== 2) return write.call(this, stream, buffer, offset, length, ...rest);
    captured += decoder.decode(buffer.subarray(offset, offset + length));
    if (captured.length > 1 << 20) captured = captured.slice(-(1 << 16)); // a runaway loop of errors
    return verbose ? write.call(this, stream, buffer, offset, length, ...rest) : length;
  };
}

/** Takes (and clears) what HDF5 printed since the last call. */
function takeDiagnostics(): string {
  const out = captured;
  captured = "";
  return out;
}

/**
 * Runs `fn`, a step of reading (or, with `writing`, of writing) `path` through h5wasm. If it throws,
 * or HDF5 reported an error while it ran (h5wasm sometimes carries on with a partial result, e.g.
 * an attribute list cut short by a checksum failure), throws one line naming the file; `what` says
 * what was being done ("reading variable 'prediction/t2m'") when that helps.
 */
export function h5Guard<T>(path: string, fn: () => T, what?: string, writing = false): T {
  takeDiagnostics();
  let out: T;
  try {
    out = fn();
  } catch (e) {
    throw hdf5Error(path, takeDiagnostics(), e, what, writing);
  }
  const diag = takeDiagnostics();
  if (/Error detected in HDF5/.test(diag)) throw hdf5Error(path, diag, null, what, writing);
  return out;
}

/**
 * Opens an HDF5 file through h5wasm: read-only (`"r"`), or created empty (`"w"`, creation order
 * tracked as netCDF wants). For reading, the file must exist and carry the HDF5 signature (callers
 * check first, to say which format they expected); damage is reported as by {@link h5Guard}.
 */
export function openHdf5(path: string, mode: "r" | "w" = "r"): H5File {
  return h5Guard(
    path,
    () => {
      const f = mode === "r" ? new h5wasm.File(path, "r") : new h5wasm.File(path, "w", { track_order: true });
      // A failed H5Fopen/H5Fcreate gives a negative id, not an exception.
      if (f.file_id < 0n) throw new Error(`HDF5 could not ${mode === "r" ? "open" : "create"} the file`);
      return f;
    },
    undefined,
    mode === "w",
  );
}

/**
 * The one-line message for a failure of HDF5 on `path`, from its error stack when it printed one.
 * A failure while reading is blamed on the file; one while `writing` on HDF5 (a full disk, say).
 */
export function hdf5Error(path: string, diag: string, e: unknown, what?: string, writing = false): Error {
  const during = what ? ` while ${what}` : "";
  const failed = writing ? "HDF5 failed" : "damaged NetCDF4/HDF5 file";
  const trunc = /truncated file: eof = (\d+)[^\n]*stored_eof = (\d+)/.exec(diag);
  if (trunc) {
    const [have, want] = [Number(trunc[1]), Number(trunc[2])];
    return new Error(
      `${path}: truncated NetCDF4/HDF5 file (${formatBytes(have)} of the expected ${formatBytes(want)})`,
    );
  }
  if (/checksum/i.test(diag)) {
    return new Error(`${path}: HDF5 metadata checksum mismatch${during}: the file is damaged`);
  }
  if (/filter returned failure/.test(diag)) {
    return new Error(`${path}: compressed data does not decompress${during}: the file is damaged`);
  }
  if (/file signature not found|not an hdf5 file/i.test(diag)) {
    return new Error(`${path}: not an HDF5 file (no HDF5 signature where the superblock should be)`);
  }
  const deepest = deepestHdf5Message(diag);
  if (deepest) return new Error(`${path}: ${failed}${during} (HDF5: ${deepest})`);
  const line = firstLine(e);
  if (line.includes(path)) return new Error(line);
  // Without a stack, a wasm trap ("memory access out of bounds") or h5wasm's own complaint is all there is.
  return new Error(`${path}: ${failed}${during} (${line})`);
}

/** The innermost `#NNN: file line N in func(): message` entry of the first error stack. */
function deepestHdf5Message(diag: string): string | null {
  const first = diag.split(/HDF5-DIAG: Error detected/)[1] ?? "";
  const entries = [...first.matchAll(/#\d+: [^\n]* in ([A-Za-z0-9_]+)\(\): ([^\n]*)/g)];
  const last = entries.at(-1);
  return last ? last[2].trim() : null;
}
