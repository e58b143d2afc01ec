/**
 * Loaded just before h5wasm (imported first by `hdf5.ts`, the only runtime importer of h5wasm).
 * The Emscripten runtime inside h5wasm takes `console.log.bind(console)` and
 * `console.error.bind(console)` once, while it initialises, and prints its own warnings through
 * them (`warning: Invalid UTF-8 leading byte ... in wasm memory`, from a damaged string attribute).
 * Until that happens, `console.log`/`console.error` are stand-ins that behave like the real ones
 * but hand the runtime, when it binds them, a printer that `hdf5.ts` can redirect; the real
 * functions are put back at that moment (or when h5wasm is ready, whichever comes first).
 */

type Print = (...args: unknown[]) => void;
type Stream = "out" | "err";

const real = { out: console.log, err: console.error };

/** Where the Emscripten runtime prints; `hdf5.ts` replaces these to capture what it prints. */
export const emscriptenPrint: Record<Stream, Print> = { out: real.out, err: real.err };

function standIn(stream: Stream): Print {
  const f: Print = (...args) => real[stream](...args);
  // Emscripten's `console.error.bind(console)`: give it the redirectable printer, restore the real one.
  f.bind = () => {
    restore(stream);
    return (...args: unknown[]) => emscriptenPrint[stream](...args);
  };
  return f;
}

function restore(stream: Stream): void {
  if (stream === "out") console.log = real.out;
  else console.error = real.err;
}

console.log = standIn("out");
console.error = standIn("err");

/** Puts the real console functions back (idempotent); for when h5wasm is ready. */
export function restoreConsole(): void {
  restore("out");
  restore("err");
}
