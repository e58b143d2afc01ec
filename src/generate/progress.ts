/**
 * Progress of a generation run in members, on the shared progress display (src/util/progress.ts):
 * a bar with members/s and ETA on a terminal, a line per interval otherwise, a last line at the end.
 */
import { Progress as Display } from "../util/progress.ts";

/** Receives progress in members. */
export interface GenerationProgress {
  /** The run (or shard) begins: `total` members are to be generated. */
  start(total: number): void;
  /** `n` more members are done. */
  advance(n: number): void;
  /** The run has ended (finished or failed): closes the display. */
  stop(): void;
}

/** Options of {@link createProgress}. */
export interface GenerationProgressOptions {
  /** Draw a bar (default: whether stdout is a terminal). */
  tty?: boolean;
  /** Seconds between plain lines (default 10). */
  intervalS?: number;
  /** Where plain lines go (default: stdout). */
  write?: (line: string) => void;
}

/** A progress reporter for the console. */
export function createProgress(opts: GenerationProgressOptions = {}): GenerationProgress {
  let display: Display | null = null, done = 0;
  const write = opts.write;
  return {
    start(total) {
      done = 0;
      display = new Display(total, {
        unit: "members",
        tty: opts.tty,
        lineInterval: opts.intervalS,
        write: write ? (text) => write(text.replace(/\n$/, "")) : undefined,
      });
    },
    advance(n) {
      done += n;
      display?.update(done, "", done === display.total);
    },
    stop() {
      display?.done();
    },
  };
}
