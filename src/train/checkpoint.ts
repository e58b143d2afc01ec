/**
 * Training checkpoints, laid out as train.py lays them out (`checkpoints_<model.name>/`):
 *
 * - `<ClassName>.0.<cur_nimg>.safetensors`: the network (weights under the reference's keys and its
 *   constructor arguments), loadable alone for generation;
 * - `checkpoint.0.<cur_nimg>.safetensors`: the rest of the state: Adam moments and step, learning
 *   rate, the data order and every generator's state, counters and the resolved config.
 *
 * The network file is written first and the state file last, each to a temporary name, flushed and
 * renamed: a checkpoint exists only once its state file does, so a run killed mid-save resumes
 * from the previous complete one.
 */
import { basename, join } from "node:path";
import { readSafetensors, type StFile, writeSafetensors } from "../io/safetensors.ts";
import { saveNetwork } from "../nn/checkpoint.ts";
import type { Network } from "../nn/wrappers.ts";
import type { SamplerState } from "./sampler.ts";

/** What a checkpoint restores besides the weights. */
export interface TrainState {
  /** Training samples seen so far (train.py's `cur_nimg`), which names the checkpoint. */
  curNimg: number;
  /** Adam's step count. */
  step: number;
  /** Learning rate of the last step (train.py's schedule can depend on it). */
  lr: number;
  /** Position in the training data: the shuffled order and how far through it. */
  sampler: SamplerState;
  /** State of the generator of noise levels, noise and patches. */
  rng: number[];
  /** Non-finite gradient values replaced since the start of training. */
  nonFiniteGrads: number;
  /** Lowest validation loss so far; null: not validated yet. */
  bestValidation: number | null;
  /** Wall time of all the sessions so far, in seconds. */
  wallSeconds: number;
}

/** A checkpoint on disk. */
export interface CheckpointFiles {
  /** Training samples seen when it was written (its `cur_nimg`). */
  nimg: number;
  /** Path of the network file. */
  network: string;
  /** Path of the state file. */
  state: string;
}

const STATE_RE = /^checkpoint\.0\.(\d+)\.safetensors$/;
const NET_RE = /^([A-Za-z_][A-Za-z0-9_]*)\.0\.(\d+)\.safetensors$/;

/** Names of the files of `dir` ([] when it does not exist). */
export function fileNames(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Complete checkpoints of a directory (a state file with its network file), oldest first. */
export function listCheckpoints(dir: string): CheckpointFiles[] {
  const entries = fileNames(dir);
  const nets = new Map<number, string>();
  for (const name of entries) {
    const m = NET_RE.exec(name);
    if (m && m[1] !== "checkpoint") nets.set(Number(m[2]), name);
  }
  const out: CheckpointFiles[] = [];
  for (const name of entries) {
    const m = STATE_RE.exec(name);
    if (!m) continue;
    const nimg = Number(m[1]);
    const net = nets.get(nimg);
    if (net) out.push({ nimg, network: join(dir, net), state: join(dir, name) });
  }
  return out.sort((a, b) => a.nimg - b.nimg);
}

/** Removes temporaries left by a process killed while saving. */
export function removeStaleTemporaries(dir: string): string[] {
  const removed: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && /\.safetensors\.tmp-\d+$/.test(e.name)) {
        Deno.removeSync(join(dir, e.name));
        removed.push(e.name);
      }
    }
  } catch { /* no directory yet */ }
  return removed;
}

/** Writes one checkpoint (network file, then state file) and prunes to the `keep` most recent (-1: all). */
export async function saveCheckpoint(
  dir: string,
  net: Network,
  className: string,
  moments: { expAvg: Map<string, Float32Array>; expAvgSq: Map<string, Float32Array> },
  state: TrainState,
  config: unknown,
  keep: number,
): Promise<CheckpointFiles> {
  Deno.mkdirSync(dir, { recursive: true });
  const files = {
    nimg: state.curNimg,
    network: join(dir, `${className}.0.${state.curNimg}.safetensors`),
    state: join(dir, `checkpoint.0.${state.curNimg}.safetensors`),
  };
  await saveNetwork(net, files.network, { cur_nimg: String(state.curNimg) });
  failpoint(files.state, state.curNimg);
  const tensors = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
  for (const [key, m] of moments.expAvg) tensors.set(`exp_avg.${key}`, { shape: [m.length], data: m });
  for (const [key, v] of moments.expAvgSq) tensors.set(`exp_avg_sq.${key}`, { shape: [v.length], data: v });
  tensors.set("data_order", {
    shape: [state.sampler.order.length],
    data: BigInt64Array.from(state.sampler.order, BigInt),
  });
  tensors.set("data_rng_key", { shape: [624], data: BigInt64Array.from(state.sampler.rng.key, BigInt) });
  const { sampler, ...rest } = state;
  writeSafetensors(files.state, tensors, {
    format: "corrdiff-webgpu training state 1",
    network: basename(files.network),
    training_state: JSON.stringify({ ...rest, samplerIdx: sampler.idx, samplerPos: sampler.rng.pos }),
    config: JSON.stringify(config),
  });
  if (keep > 0) {
    for (const old of listCheckpoints(dir).slice(0, -keep)) {
      for (const f of [old.state, old.network]) Deno.removeSync(f);
    }
  }
  return files;
}

/**
 * Test hook: `CORRDIFF_FAILPOINT=kill-during-save:<nimg>` kills the process (SIGKILL) while the state
 * file of that checkpoint is half written, as a power cut or an OOM killer would.
 */
function failpoint(statePath: string, nimg: number): void {
  if (Deno.env.get("CORRDIFF_FAILPOINT") !== `kill-during-save:${nimg}`) return;
  Deno.writeFileSync(`${statePath}.tmp-${Deno.pid}`, new Uint8Array(4096).fill(7));
  Deno.kill(Deno.pid, "SIGKILL");
}

/** A checkpoint's training state, read back and checked. */
export interface LoadedState {
  /** The training state. */
  state: TrainState;
  /** Adam's first moments, by parameter key. */
  expAvg: Map<string, Float32Array>;
  /** Adam's second moments, by parameter key. */
  expAvgSq: Map<string, Float32Array>;
  /** The resolved config the run was trained with (null when unreadable). */
  config: unknown;
}

/** Reads a state file written by {@link saveCheckpoint}; every problem is one line naming the file. */
export function loadTrainState(path: string): LoadedState {
  let file: StFile;
  try {
    file = readSafetensors(path);
  } catch (e) {
    throw new Error(
      `checkpoint ${path} is unreadable or damaged: ${(e as Error).message.replace(`${path}: `, "")}`,
    );
  }
  if (file.metadata.format !== "corrdiff-webgpu training state 1") {
    throw new Error(`${path}: not a training-state checkpoint of this program`);
  }
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(file.metadata.training_state);
  } catch {
    throw new Error(`${path}: its training_state metadata is not valid JSON`);
  }
  const int = (k: string) => Number.isSafeInteger(meta[k]) && (meta[k] as number) >= 0;
  const bad = ["curNimg", "step", "samplerIdx", "samplerPos", "nonFiniteGrads"].filter((k) => !int(k));
  if (typeof meta.lr !== "number" || !Number.isFinite(meta.lr)) bad.push("lr");
  if (!Array.isArray(meta.rng) || meta.rng.length !== 4) bad.push("rng");
  if (bad.length) {
    throw new Error(`${path}: its training state lacks valid ${bad.join(", ")}: the file is damaged`);
  }
  const order = file.tensors.get("data_order"), key = file.tensors.get("data_rng_key");
  if (!order || !key || !(order.data instanceof BigInt64Array) || !(key.data instanceof BigInt64Array)) {
    throw new Error(`${path}: the data order is missing`);
  }
  const expAvg = new Map<string, Float32Array>(), expAvgSq = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (!(t.data instanceof Float32Array)) continue;
    if (name.startsWith("exp_avg_sq.")) expAvgSq.set(name.slice(11), t.data);
    else if (name.startsWith("exp_avg.")) expAvg.set(name.slice(8), t.data);
  }
  const state: TrainState = {
    curNimg: meta.curNimg as number,
    step: meta.step as number,
    lr: meta.lr as number,
    rng: meta.rng as number[],
    nonFiniteGrads: meta.nonFiniteGrads as number,
    bestValidation: (meta.bestValidation as number | null) ?? null,
    wallSeconds: (meta.wallSeconds as number) ?? 0,
    sampler: {
      order: Array.from(order.data, Number),
      idx: meta.samplerIdx as number,
      rng: { key: Array.from(key.data, Number), pos: meta.samplerPos as number },
    },
  };
  let config: unknown = null;
  try {
    config = JSON.parse(file.metadata.config ?? "null");
  } catch { /* informational only */ }
  return { state, expAvg, expAvgSq, config };
}
