/**
 * `merge`: joins the shard files of one run into the file the unsharded run writes (same layout,
 * attributes and values; each member taken from the shard that generated it).
 */
import { acquireLock, type Lock } from "../util/lock.ts";
import type { NcAttrInput } from "../io/netcdf_write.ts";
import { type GenerationVariable } from "../io/generation_file.ts";
import { type FieldGroup, GenerationReader, type GenerationVariableInfo } from "../io/generation_reader.ts";
import { readShardInfo, RunOutput, SHARD_ATTRIBUTES, type ShardInfo } from "./output.ts";
import { GenerationPlan } from "./plan.ts";

/** What a merge did. */
export interface MergeSummary {
  /** The merged file written. */
  path: string;
  /** Shard files merged. */
  shards: number;
  /** Times in the merged file. */
  times: number;
  /** Ensemble members per time in the merged file. */
  members: number;
}

interface OpenShard {
  reader: GenerationReader;
  info: ShardInfo;
  /** Run time -> time index in this file; member -> ensemble index in this file. */
  timeIndex: Map<number, number>;
  memberIndex: Map<number, number>;
}

/** Checks that the files are all the shards of one run, once each; returns them ordered by shard index. */
function checkComplete(shards: OpenShard[]): OpenShard[] {
  const first = shards[0];
  const n = first.info.plan.shard.count;
  const byIndex = new Map<number, OpenShard>();
  for (const s of shards) {
    const { index, count } = s.info.plan.shard;
    const path = s.reader.path;
    if (count !== n) {
      throw new Error(`${path} is shard ${index}/${count}, but ${first.reader.path} is one of ${n}`);
    }
    if (s.info.runId !== first.info.runId) {
      throw new Error(
        `${path} comes from another run than ${first.reader.path} (their configurations differ)`,
      );
    }
    const twin = byIndex.get(index);
    if (twin) throw new Error(`${twin.reader.path} and ${path} are both shard ${index}/${n}`);
    byIndex.set(index, s);
  }
  const missing = [...Array(n).keys()].filter((i) => !byIndex.has(i));
  if (missing.length) {
    throw new Error(
      `shard${missing.length > 1 ? "s" : ""} ${missing.map((i) => `${i}/${n}`).join(", ")} missing (have ${
        [...byIndex.keys()].sort((a, b) => a - b).join(", ")
      })`,
    );
  }
  const names = (s: OpenShard, g: FieldGroup) => s.reader.variables[g].map((v) => v.name).join();
  for (const s of shards) {
    for (const g of ["input", "prediction"] as const) {
      if (
        names(s, g) !== names(first, g) || s.reader.ny !== first.reader.ny || s.reader.nx !== first.reader.nx
      ) {
        throw new Error(`${s.reader.path} and ${first.reader.path} differ in their ${g} variables or grid`);
      }
    }
  }
  return [...Array(n).keys()].map((i) => byIndex.get(i)!);
}

function variable(v: GenerationVariableInfo): GenerationVariable {
  const text = (k: string) => (typeof v.attrs[k] === "string" ? v.attrs[k] as string : undefined);
  return {
    name: v.name,
    units: text("units") ?? "",
    longName: text("long_name") ?? v.name,
    standardName: text("standard_name"),
  };
}

/** Joins the shard files `files` (in any order) into `outPath`. */
export async function mergeShards(files: string[], outPath: string): Promise<MergeSummary> {
  if (files.length === 0) throw new Error("merge: no shard files given");
  const shards: OpenShard[] = [];
  let out: RunOutput | null = null;
  let lock: Lock | null = null;
  try {
    for (const path of files) {
      const reader = await GenerationReader.open(path);
      const info = readShardInfo(reader.attrs, path);
      shards.push({
        reader,
        info,
        timeIndex: new Map(info.plan.times().map((t, i) => [t, i])),
        memberIndex: new Map(info.plan.members().map((m, i) => [m, i])),
      });
    }
    const ordered = checkComplete(shards);
    const r0 = ordered[0].reader;
    const run = new GenerationPlan(ordered[0].info.plan.numTimes, ordered[0].info.plan.batches);
    const holder = (t: number) => ordered.find((s) => s.timeIndex.has(t))!;
    const cf = r0.time.cf;
    if (!cf) throw new Error(`${r0.path}: its time axis is not CF-encoded`);
    const values = [...Array(run.numTimes).keys()].map((t) => {
      const h = holder(t);
      return h.reader.time.cf!.values[h.timeIndex.get(t)!];
    });
    const attrs: Record<string, NcAttrInput> = {};
    for (const [k, v] of Object.entries(r0.attrs)) {
      if (k !== "cfg" && !(SHARD_ATTRIBUTES as readonly string[]).includes(k)) attrs[k] = v;
    }
    const nanGrid = () => new Float32Array(r0.ny * r0.nx).fill(NaN);
    out = await RunOutput.create(outPath, {
      ny: r0.ny,
      nx: r0.nx,
      lat: r0.lat() ?? nanGrid(),
      lon: r0.lon() ?? nanGrid(),
      inputVariables: r0.variables.input.map(variable),
      outputVariables: r0.variables.prediction.map(variable),
      times: { ...cf, values },
      config: r0.attrs.cfg,
      attrs,
      runId: ordered[0].info.runId,
    }, run);
    lock = acquireLock(outPath, { purpose: "merge" });
    for (let t = 0; t < run.numTimes; t++) mergeTime(t, ordered, out);
    await out.close();
    return { path: outPath, shards: ordered.length, times: run.numTimes, members: run.numMembers };
  } catch (e) {
    await out?.abort();
    throw e;
  } finally {
    lock?.release();
    for (const s of shards) s.reader.close();
  }
}

/** Copies time `t`: input and truth from a shard that has it, each member from the shard that generated it. */
function mergeTime(t: number, shards: OpenShard[], out: RunOutput): void {
  const concat = (parts: Float32Array[]) => {
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      all.set(p, offset);
      offset += p.length;
    }
    return all;
  };
  const holders = shards.filter((s) => s.timeIndex.has(t));
  const h = holders[0], ht = h.timeIndex.get(t)!;
  const read = (group: FieldGroup) =>
    h.reader.variables[group].map((v) => h.reader.readField(group, v.name, ht));
  out.writeTime(t, concat(read("input")), concat(read("truth")));
  const field = h.reader.ny * h.reader.nx;
  for (const s of holders) {
    const st = s.timeIndex.get(t)!;
    // Every member of the shard's file at this time, per variable: (members, y, x).
    const blocks = s.reader.variables.prediction.map((v) => s.reader.readField("prediction", v.name, st));
    for (const m of s.info.plan.membersAt(t)) {
      const j = s.memberIndex.get(m)!;
      out.writeMember(t, m, concat(blocks.map((b) => b.subarray(j * field, (j + 1) * field))));
    }
  }
}
