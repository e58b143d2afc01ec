/**
 * One-line errors that name the file: every reader funnels its failures through here, so a damaged
 * file gives `<file>: <what went wrong>` and never a library's multi-line message or a bare
 * `TypeError` from deep inside a parser.
 */

/**
 * The first line of an error's message, without a trailing colon (libraries append code frames),
 * followed by its cause's (libraries that wrap errors keep the useful part there).
 */
export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = (msg.split("\n").find((l) => l.trim() !== "") ?? "unknown error").trim().replace(/:$/, "");
  const cause = e instanceof Error ? e.cause : undefined;
  return cause instanceof Error ? `${line}: ${firstLine(cause)}` : line;
}

/**
 * An error for a failure while reading `path`. A message that already names the file (or one of
 * `others`, files read along with it) is kept, cut to its first line: it was written for the user.
 * Anything else (a `TypeError` from a parser fed garbage, a `RangeError` from an absurd size)
 * becomes `<path>: damaged <kind> (<reason>)`.
 */
export function fileError(path: string, kind: string, e: unknown, others: string[] = []): Error {
  const line = firstLine(e);
  if ([path, ...others].some((p) => line.includes(p))) return new Error(line);
  return new Error(`${path}: damaged ${kind} (${line})`);
}

/**
 * Runs `fn` (sync or async) and turns whatever it throws into {@link fileError}. For readers whose
 * inner code can meet any byte pattern: the file is named whatever the failure.
 */
export function withFileErrors<T>(path: string, kind: string, fn: () => T, others: string[] = []): T {
  let out: T;
  try {
    out = fn();
  } catch (e) {
    throw fileError(path, kind, e, others);
  }
  if (out instanceof Promise) return out.catch((e) => Promise.reject(fileError(path, kind, e, others))) as T;
  return out;
}

/**
 * Counts the NaN and infinite values of `data`. Readers that hold weights or fields report the count
 * with the file and the tensor or variable name, rather than letting the values flow into a run.
 */
export function countNonFinite(data: ArrayLike<number>): number {
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) bad++;
  return bad;
}

/** "1.5 kB", "6.1 MB": sizes in messages about truncated files. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} bytes`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000, u = 0;
  while (v >= 1000 && u < units.length - 1) v /= 1000, u++;
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * What a command prints when it fails: `<command>: <first line>`, plus the stack trace only with
 * `--verbose` (or `-v`) among `args`, for a bug report.
 */
export function cliErrorLine(command: string, e: unknown, args: readonly string[]): string {
  const line = `${command}: ${firstLine(e)}`;
  const verbose = args.some((a) => a === "--verbose" || a === "-v");
  return verbose && e instanceof Error && e.stack ? `${line}\n${e.stack}` : line;
}
