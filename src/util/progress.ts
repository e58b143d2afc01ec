/**
 * Progress for long work: a bar redrawn in place on a terminal, or a plain line per interval when
 * the output is a file or a pipe (CI logs, `nohup`), each with the rate and the time left.
 */

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** What is counted ("samples", "members"). */
  unit: string;
  /** Force bar (true) or line (false) mode; default: bar when stdout is a terminal. */
  tty?: boolean;
  /** Seconds between lines in line mode (default 10). */
  lineInterval?: number;
  /** Where lines go (default: stdout). */
  write?: (text: string) => void;
  /** Units already done before this session (a resumed run): excluded from the rate. */
  start?: number;
}

/** Formats seconds as `1h02m`, `3m05s` or `42s`. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "--";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

/** A progress display for a count of units: a bar on a terminal, a line per interval otherwise. */
export class Progress {
  readonly #t0 = performance.now();
  readonly #tty: boolean;
  readonly #write: (text: string) => void;
  readonly #start: number;
  #lastLine = -Infinity;
  #drawn = false;

  /** A display for `total` units; the clock starts now. */
  constructor(readonly total: number, readonly o: ProgressOptions) {
    this.#tty = o.tty ?? Deno.stdout.isTerminal();
    const enc = new TextEncoder();
    this.#write = o.write ?? ((t) => Deno.stdout.writeSync(enc.encode(t)));
    this.#start = o.start ?? 0;
  }

  /** Seconds since this session started. */
  get elapsed(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /** The current state as text: `done/total unit, rate/s, ETA, extra`. */
  describe(done: number, extra = ""): string {
    const rate = (done - this.#start) / Math.max(this.elapsed, 1e-9);
    const eta = (this.total - done) / rate;
    const pct = Math.min(100, (100 * done) / this.total).toFixed(1);
    return `${done}/${this.total} ${this.o.unit} (${pct}%) | ${rate.toFixed(2)} ${this.o.unit}/s | ` +
      `elapsed ${formatDuration(this.elapsed)} | ETA ${formatDuration(eta)}${extra ? " | " + extra : ""}`;
  }

  /** Reports progress: redraws the bar, or prints a line when the interval has passed (or `force`). */
  update(done: number, extra = "", force = false): void {
    if (this.#tty) {
      const width = 24, filled = Math.round((width * Math.min(done, this.total)) / this.total);
      this.#write(
        `\r\x1b[2K[${"#".repeat(filled)}${".".repeat(width - filled)}] ${this.describe(done, extra)}`,
      );
      this.#drawn = true;
      return;
    }
    const now = this.elapsed;
    if (force || now - this.#lastLine >= (this.o.lineInterval ?? 10)) {
      this.#write(this.describe(done, extra) + "\n");
      this.#lastLine = now;
    }
  }

  /** Prints a line above the bar (or just a line). */
  log(line: string): void {
    if (this.#tty && this.#drawn) this.#write("\r\x1b[2K");
    this.#write(line + "\n");
  }

  /** Ends the bar with a newline. */
  done(): void {
    if (this.#tty && this.#drawn) this.#write("\n");
    this.#drawn = false;
  }
}
