/**
 * The output file of a run or of one shard, written through the generation-file writer (temporary
 * name, renamed when complete).
 *
 * A shard's file holds the times it touches and the members it generates at any of them; its
 * global attributes place it in the run (`shard` "i/n", `shard_units`, `run_times`, `run_batches`,
 * `run_id`), so `merge` can rebuild the whole run from the files alone. A shard that starts or ends
 * inside a time has cells of that time it does not own; they hold NaN and are never merged.
 */
import type { NcAttrInput } from "../io/netcdf_write.ts";
import { type CfTimes, GenerationWriter, type GenerationWriterOptions } from "../io/generation_file.ts";
import { GenerationPlan, parseShard } from "./plan.ts";

/** Global attributes that only shard files carry. */
export const SHARD_ATTRIBUTES = ["shard", "shard_units", "run_times", "run_batches", "run_id"] as const;

/** Everything about the output that does not depend on the shard. */
export interface RunLayout
  extends Pick<GenerationWriterOptions, "ny" | "nx" | "lat" | "lon" | "inputVariables" | "outputVariables"> {
  /** The times of the whole run, in output order, CF-encoded once for the run. */
  times: CfTimes;
  /** The resolved configuration (object, stored as YAML, or the YAML text itself). */
  config: unknown;
  /** Global attributes beyond the writer's own. */
  attrs: Record<string, NcAttrInput>;
  /** Identifies the run across shards (same config, whatever the output names). */
  runId: string;
}

/** Where a shard file sits in its run, from its global attributes. */
export interface ShardInfo {
  plan: GenerationPlan;
  runId: string;
}

/** The attributes that place a shard's file in its run (none for an unsharded run). */
function shardAttrs(plan: GenerationPlan, runId: string): Record<string, NcAttrInput> {
  if (plan.shard.count === 1) return {};
  return {
    shard: `${plan.shard.index}/${plan.shard.count}`,
    shard_units: [...plan.unitRange],
    run_times: plan.numTimes,
    run_batches: plan.batchBounds,
    run_id: runId,
  };
}

const asArray = (v: NcAttrInput | undefined): number[] | null =>
  typeof v === "number" ? [v] : Array.isArray(v) ? v : null;

/** Reads a shard file's place in its run; throws naming the file if it is not a shard file. */
export function readShardInfo(attrs: Record<string, NcAttrInput>, path: string): ShardInfo {
  const missing = SHARD_ATTRIBUTES.filter((k) => attrs[k] === undefined);
  if (missing.length === SHARD_ATTRIBUTES.length) {
    throw new Error(
      `${path} is not a shard file (it has no 'shard' attribute; write shards with generate --shard i/n)`,
    );
  }
  if (missing.length) throw new Error(`${path}: shard attribute(s) ${missing.join(", ")} missing`);
  const shard = parseShard(String(attrs.shard));
  const bounds = asArray(attrs.run_batches), units = asArray(attrs.shard_units);
  if (!bounds || bounds.length < 2 || !units || units.length !== 2 || typeof attrs.run_times !== "number") {
    throw new Error(`${path}: malformed shard attributes`);
  }
  const batches = bounds.slice(1).map((end, b) =>
    Array.from({ length: end - bounds[b] }, (_, i) => bounds[b] + i)
  );
  const plan = new GenerationPlan(attrs.run_times, batches, shard);
  if (plan.unitRange.join() !== units.join()) {
    throw new Error(
      `${path}: shard ${attrs.shard} holds units [${units}], its plan says [${plan.unitRange}]`,
    );
  }
  return { plan, runId: String(attrs.run_id) };
}

/**
 * The output of one run or shard: maps run times and members to the file's axes, fills the cells a
 * shard does not own with NaN, and checks on close that every owned cell was written.
 */
export class RunOutput {
  /** Run time -> time index in the file. */
  readonly timeIndex: Map<number, number>;
  /** Member -> ensemble index in the file. */
  readonly memberIndex: Map<number, number>;

  private constructor(
    readonly path: string,
    readonly plan: GenerationPlan,
    readonly writer: GenerationWriter,
    /** Values of one member's fields: output channels x ny x nx. */
    private readonly memberSize: number,
  ) {
    this.timeIndex = new Map(plan.times().map((t, i) => [t, i]));
    this.memberIndex = new Map(plan.members().map((m, i) => [m, i]));
  }

  /** Lays out the file for `plan` under a temporary name next to `path`. */
  static async create(path: string, layout: RunLayout, plan: GenerationPlan): Promise<RunOutput> {
    const times = plan.times(), members = plan.members();
    const writer = await GenerationWriter.create({
      path,
      ny: layout.ny,
      nx: layout.nx,
      lat: layout.lat,
      lon: layout.lon,
      inputVariables: layout.inputVariables,
      outputVariables: layout.outputVariables,
      nEnsemble: members.length,
      times: { ...layout.times, values: times.map((t) => layout.times.values[t]) },
      config: layout.config,
      attrs: { ...layout.attrs, ...shardAttrs(plan, layout.runId) },
    });
    return new RunOutput(path, plan, writer, layout.outputVariables.length * layout.ny * layout.nx);
  }

  /** Writes the input and truth (physical units, (channel, y, x)) of run time `t`. */
  writeTime(t: number, input: Float32Array, truth: Float32Array): void {
    const ti = this.#time(t);
    this.writer.writeInput(ti, input);
    this.writer.writeTruth(ti, truth);
  }

  /** Writes member `m` (physical units, (channel, y, x)) at run time `t`. */
  writeMember(t: number, m: number, fields: Float32Array): void {
    const mi = this.memberIndex.get(m);
    if (mi === undefined) throw new Error(`${this.path}: member ${m} is not in this shard`);
    this.writer.writePrediction(mi, this.#time(t), fields);
  }

  /** Fills the members of the file that this shard does not generate at run time `t` with NaN. */
  fillUnowned(t: number): void {
    const owned = new Set(this.plan.membersAt(t));
    const unowned = [...this.memberIndex.keys()].filter((m) => !owned.has(m));
    if (unowned.length === 0) return;
    const nan = new Float32Array(this.memberSize).fill(NaN);
    for (const m of unowned) this.writeMember(t, m, nan);
  }

  /** Finishes the file and renames it into place. */
  close(): Promise<void> {
    return this.writer.close();
  }

  /** Discards the unfinished file. */
  abort(): Promise<void> {
    return this.writer.abort();
  }

  #time(t: number): number {
    const ti = this.timeIndex.get(t);
    if (ti === undefined) throw new Error(`${this.path}: run time ${t} is not in this shard`);
    return ti;
  }
}
