/**
 * Where a run resumes from: the newest checkpoint of its directory, ours
 * (`<Class>.0.<N>.safetensors` + `checkpoint.0.<N>.safetensors`) or PhysicsNeMo's
 * (`<Class>.0.<N>.mdlus` + `checkpoint.0.<N>.pt`, as train.py writes them), whichever is newer.
 */
import { join } from "node:path";
import { adamStateByParam, readTorchOptimizerState } from "../io/torch_optimizer.ts";
import { type LoadedNetwork, loadNetwork } from "../nn/checkpoint.ts";
import { fileNames, listCheckpoints, loadTrainState, type TrainState } from "./checkpoint.ts";

/** A checkpoint to resume from, loaded. */
export interface ResumePoint {
  /** Which program wrote the checkpoint: this one or PhysicsNeMo's train.py. */
  origin: "ours" | "physicsnemo";
  /** Training samples seen when it was written (`cur_nimg`). */
  nimg: number;
  /** The file the training state came from (named in messages). */
  statePath: string;
  /** The network, built and loaded from the checkpoint's network file. */
  loaded: LoadedNetwork;
  /** What the checkpoint restores; PhysicsNeMo's holds no data order nor generator state. */
  state: Pick<TrainState, "curNimg" | "step" | "lr"> & Partial<TrainState>;
  /** Adam's first moments, by parameter key. */
  expAvg: Map<string, Float32Array>;
  /** Adam's second moments, by parameter key. */
  expAvgSq: Map<string, Float32Array>;
}

/** PhysicsNeMo training checkpoints of `dir` (network + optimizer file pairs), oldest first. */
export function listPhysicsNemoCheckpoints(dir: string): { nimg: number; network: string; state: string }[] {
  const names = fileNames(dir);
  const nets = new Map<number, string>();
  for (const n of names) {
    const m = /^([A-Za-z_]\w*)\.0\.(\d+)\.mdlus$/.exec(n);
    if (m) nets.set(Number(m[2]), n);
  }
  return names.flatMap((n) => {
    const m = /^checkpoint\.0\.(\d+)\.pt$/.exec(n);
    const net = m && nets.get(Number(m[1]));
    return net ? [{ nimg: Number(m![1]), network: join(dir, net), state: join(dir, n) }] : [];
  }).sort((a, b) => a.nimg - b.nimg);
}

/** The newest checkpoint of `dir`, loaded (network built, moments by parameter key), or null. */
export function findResumePoint(dir: string): ResumePoint | null {
  const ours = listCheckpoints(dir).at(-1);
  const theirs = listPhysicsNemoCheckpoints(dir).at(-1);
  if (!ours && !theirs) return null;
  if (ours && (!theirs || ours.nimg >= theirs.nimg)) {
    const t = loadTrainState(ours.state);
    const loaded = loadNetwork(ours.network);
    return {
      origin: "ours",
      nimg: ours.nimg,
      statePath: ours.state,
      loaded,
      state: t.state,
      expAvg: t.expAvg,
      expAvgSq: t.expAvgSq,
    };
  }
  const pt = readTorchOptimizerState(theirs!.state);
  const loaded = loadNetwork(theirs!.network);
  let byKey;
  try {
    byKey = adamStateByParam(pt, loaded.net.ps.params);
  } catch (e) {
    loaded.net.ps.dispose();
    throw e;
  }
  const expAvg = new Map<string, Float32Array>(), expAvgSq = new Map<string, Float32Array>();
  for (const [k, v] of byKey) {
    expAvg.set(k, v.exp_avg);
    expAvgSq.set(k, v.exp_avg_sq);
  }
  return {
    origin: "physicsnemo",
    nimg: theirs!.nimg,
    statePath: theirs!.state,
    loaded,
    state: { curNimg: pt.epoch, step: pt.step, lr: pt.lr },
    expAvg,
    expAvgSq,
  };
}
