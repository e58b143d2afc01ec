/**
 * What a generation run computes: the dataset samples (times), the members in batches of seeds, and
 * which part of (times x member batches) a shard takes.
 *
 * Member k of every time is generated from seed k (reference: generate.py), so a member's values do
 * not depend on the time order, the shard or the machine. The unit of work is one member batch at
 * one time; shards are contiguous runs of units in time-major order, which balances them to within
 * one unit while the batches stay those of the unsharded run (same batch, same bytes).
 */
import type { SampleTime } from "../data/dataset.ts";
import { detectLauncher, type Env } from "../dist/launcher.ts";
import type { TimeSelection } from "./settings.ts";

/**
 * The seeds 0..n-1 split into batches as torch.tensor_split(seeds, ceil(n / batchSize)) does: the
 * first n mod (number of batches) batches get one seed more.
 */
export function seedBatches(numEnsembles: number, seedBatchSize: number): number[][] {
  const nb = Math.ceil(numEnsembles / seedBatchSize);
  const base = Math.floor(numEnsembles / nb), extra = numEnsembles % nb;
  const out: number[][] = [];
  let next = 0;
  for (let b = 0; b < nb; b++) {
    const size = base + (b < extra ? 1 : 0);
    out.push(Array.from({ length: size }, (_, i) => next + i));
    next += size;
  }
  return out;
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?(?:Z|\+00:?00)?$/;

/** A config time "YYYY-MM-DDThh:mm:ss" (UTC; seconds, time of day optional), or null if not that form. */
export function parseConfigTime(text: string): Date | null {
  const m = ISO_TIME.exec(text.trim());
  if (!m) return null;
  const [y, mo, d, h = "0", mi = "0", s = "0"] = m.slice(1);
  const date = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
  // Date.UTC rolls 2001-02-30 over into March; such a date is a typo, not a time.
  return date.getUTCDate() === +d && date.getUTCMonth() === +mo - 1 ? date : null;
}

/** "2000-01-01T00:00:00": how the reference writes times in configs. */
export function formatConfigTime(t: SampleTime): string {
  return typeof t === "string" ? t : t.toISOString().slice(0, 19);
}

/**
 * Dataset indices of the selected times, in output order (the order they are listed). Throws,
 * naming the time and the dataset's span, for a time the dataset does not have.
 */
export function selectTimes(sel: TimeSelection, datasetTimes: readonly SampleTime[]): number[] {
  if (sel.kind === "all") return datasetTimes.map((_, i) => i);
  // The first sample at a time, as the reference's list.index (FMI radar has several per time).
  const index = new Map<string, number>();
  datasetTimes.forEach((t, i) => {
    const key = typeof t === "string" ? t : String(t.getTime());
    if (!index.has(key)) index.set(key, i);
  });
  const span = datasetTimes.length === 0
    ? "the dataset has no times"
    : `the dataset has ${datasetTimes.length} times, ${formatConfigTime(datasetTimes[0])} to ${
      formatConfigTime(datasetTimes[datasetTimes.length - 1])
    }`;
  const lookup = (text: string, key: string): number => {
    const d = parseConfigTime(text);
    const i = index.get(text) ?? (d ? index.get(String(d.getTime())) : undefined);
    if (i === undefined) {
      const why = d || index.has(text)
        ? "is not a time of the dataset"
        : "is not a time (YYYY-MM-DDThh:mm:ss)";
      throw new Error(`${key}: ${text} ${why} (${span})`);
    }
    return i;
  };
  if (sel.kind === "list") return sel.values.map((t) => lookup(t, "generation.times"));
  const start = parseConfigTime(sel.start), end = parseConfigTime(sel.end);
  if (!start || !end) {
    throw new Error(
      `generation.times_range: ${!start ? sel.start : sel.end} is not a time (YYYY-MM-DDThh:mm:ss)`,
    );
  }
  if (end < start) throw new Error(`generation.times_range: end ${sel.end} is before start ${sel.start}`);
  const out: number[] = [];
  for (let ms = start.getTime(); ms <= end.getTime(); ms += sel.stepHours * 3_600_000) {
    out.push(lookup(formatConfigTime(new Date(ms)), "generation.times_range"));
  }
  return out;
}

/** `--shard i/n`: the i-th (0-based) of n parts. */
export interface Shard {
  /** This process's part, 0-based. */
  index: number;
  /** Number of parts the run is split into. */
  count: number;
}

/** Parses "i/n" (0 <= i < n), as given to `--shard`. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new Error(`--shard ${text}: expected i/n with 0 <= i < n, e.g. --shard 0/4 ... --shard 3/4`);
  }
  return { index, count };
}

/** A shard and what assigned it (for the log). */
export interface ResolvedShard {
  /** The shard this process generates. */
  shard: Shard;
  /** "--shard", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX" or the MPI launcher's name. */
  source: string;
}

/** The environment variable giving a Kubernetes Indexed Job's completion count (Kubernetes sets none). */
export const SHARD_COUNT_ENV = "CORRDIFF_SHARD_COUNT";

function envInt(env: Env, key: string): number | null {
  const v = env[key];
  if (v === undefined || v.trim() === "") return null;
  if (!/^\s*-?\d+\s*$/.test(v)) throw new Error(`${key}=${v}: expected an integer`);
  return Number(v);
}

/**
 * This run's shard: `--shard i/n` when given, otherwise the place the scheduler gave the process, in
 * this order: a SLURM job array (SLURM_ARRAY_TASK_ID among SLURM_ARRAY_TASK_COUNT tasks, counted
 * from SLURM_ARRAY_TASK_MIN in steps of SLURM_ARRAY_TASK_STEP), a Kubernetes Indexed Job
 * (JOB_COMPLETION_INDEX, with the completion count from `--shards N` or CORRDIFF_SHARD_COUNT, since
 * Kubernetes passes no count), or an MPI launcher's rank and size (mpirun, mpiexec, srun). Null for a
 * plain run. `shards` (from `--shards N`) must agree with any count the environment gives.
 */
export function resolveShard(
  o: { shard?: string; shards?: string },
  env: Env,
): ResolvedShard | null {
  let count: number | null = null;
  if (o.shards !== undefined) {
    if (!/^\s*\d+\s*$/.test(o.shards) || Number(o.shards) < 1) {
      throw new Error(`--shards ${o.shards}: expected a positive integer (the number of shards)`);
    }
    count = Number(o.shards);
  }
  const agree = (n: number, what: string) => {
    if (count !== null && count !== n) throw new Error(`--shards ${count} does not match ${what} (${n})`);
  };
  if (o.shard !== undefined) {
    const shard = parseShard(o.shard);
    agree(shard.count, `--shard ${o.shard}`);
    return { shard, source: "--shard" };
  }
  const arrayId = envInt(env, "SLURM_ARRAY_TASK_ID");
  if (arrayId !== null) {
    const n = envInt(env, "SLURM_ARRAY_TASK_COUNT");
    if (n === null) {
      throw new Error("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: pass --shard i/n");
    }
    agree(n, "SLURM_ARRAY_TASK_COUNT");
    const min = envInt(env, "SLURM_ARRAY_TASK_MIN") ?? 0, step = envInt(env, "SLURM_ARRAY_TASK_STEP") ?? 1;
    const index = (arrayId - min) / step;
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw new Error(
        `SLURM array task ${arrayId} (min ${min}, step ${step}) is not one of ${n} evenly spaced tasks: ` +
          `submit the array as --array=0-${n - 1} (or min-max[:step]), or pass --shard i/n`,
      );
    }
    return { shard: { index, count: n }, source: "SLURM_ARRAY_TASK_ID" };
  }
  const jobIndex = envInt(env, "JOB_COMPLETION_INDEX");
  if (jobIndex !== null) {
    const fromEnv = envInt(env, SHARD_COUNT_ENV);
    if (fromEnv !== null) agree(fromEnv, SHARD_COUNT_ENV);
    const n = count ?? fromEnv;
    if (n === null) {
      throw new Error(
        `JOB_COMPLETION_INDEX=${jobIndex} is set but not the number of shards: set ${SHARD_COUNT_ENV} to ` +
          `the Job's completions, or pass --shards N`,
      );
    }
    if (jobIndex < 0 || jobIndex >= n) {
      throw new Error(`JOB_COMPLETION_INDEX=${jobIndex} is not below ${n} shards`);
    }
    return { shard: { index: jobIndex, count: n }, source: "JOB_COMPLETION_INDEX" };
  }
  const launch = detectLauncher(env);
  if (launch && launch.size !== 1) {
    if (launch.size === null) {
      throw new Error(
        `${launch.launcher} gives rank ${launch.rank} but not the number of processes: pass --shard i/n`,
      );
    }
    agree(launch.size, `the ${launch.size} processes of ${launch.launcher}`);
    return { shard: { index: launch.rank, count: launch.size }, source: launch.launcher };
  }
  if (count !== null) {
    throw new Error(
      `--shards ${count} needs this process's index: --shard i/${count}, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX`,
    );
  }
  return null;
}

/** One unit of work: a batch of members at one time. */
export interface WorkUnit {
  /** Position of the time in the run's output (0..times-1). */
  time: number;
  /** Members (= seeds) of the batch, consecutive. */
  members: number[];
}

/** A run's work, or one shard of it. */
export class GenerationPlan {
  /** Units of the whole run, time-major: unit u is batch u mod B at time floor(u / B). */
  readonly totalUnits: number;
  /** This shard's units: [start, end) of the run's unit list. */
  readonly unitRange: [number, number];

  /**
   * Plans the run's units and this shard's share of them.
   *
   * @param numTimes times of the run
   * @param batches the run's member batches (see {@link seedBatches})
   * @param shard the part of the run to plan (default: all of it)
   */
  constructor(
    readonly numTimes: number,
    readonly batches: number[][],
    readonly shard: Shard = { index: 0, count: 1 },
  ) {
    this.totalUnits = numTimes * batches.length;
    const { index, count } = shard;
    if (count > this.totalUnits) {
      throw new Error(
        `--shard ${index}/${count}: the run has only ${this.totalUnits} work units ` +
          `(${numTimes} times x ${batches.length} member batches); use at most ${this.totalUnits} shards`,
      );
    }
    this.unitRange = [
      Math.floor((index * this.totalUnits) / count),
      Math.floor(((index + 1) * this.totalUnits) / count),
    ];
  }

  /** The run's members, in order. */
  get numMembers(): number {
    return this.batches.reduce((n, b) => n + b.length, 0);
  }

  /** Member batch boundaries [0, end of batch 0, ..., numMembers]. */
  get batchBounds(): number[] {
    const out = [0];
    for (const b of this.batches) out.push(out[out.length - 1] + b.length);
    return out;
  }

  /** This shard's units in order. */
  units(): WorkUnit[] {
    if (!this.#units) {
      const nb = this.batches.length;
      this.#units = [];
      for (let u = this.unitRange[0]; u < this.unitRange[1]; u++) {
        this.#units.push({ time: Math.floor(u / nb), members: this.batches[u % nb] });
      }
    }
    return this.#units;
  }
  #units: WorkUnit[] | null = null;

  /** Times this shard touches (run positions, ascending). */
  times(): number[] {
    return [...new Set(this.units().map((u) => u.time))];
  }

  /** Members this shard generates at some time (ascending): the ensemble axis of its file. */
  members(): number[] {
    return [...new Set(this.units().flatMap((u) => u.members))].sort((a, b) => a - b);
  }

  /** Members this shard generates at run time `t`. */
  membersAt(t: number): number[] {
    return this.units().filter((u) => u.time === t).flatMap((u) => u.members);
  }

  /** Members generated by this shard overall (its share of times x members). */
  get memberCount(): number {
    return this.units().reduce((n, u) => n + u.members.length, 0);
  }
}
