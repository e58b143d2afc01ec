/**
 * The Adam state of a CorrDiff training checkpoint `checkpoint.0.<N>.pt` (PhysicsNeMo's
 * `save_checkpoint`): `{optimizer_state_dict: {state: {i: {step, exp_avg, exp_avg_sq}},
 * param_groups: [...]}, epoch}`. Indices follow `model.parameters()`, i.e. the state-dict order
 * without buffers, which is the order of our `ParamStore.params`.
 */
import { countNonFinite, withFileErrors } from "./file_errors.ts";
import { type PyValue, readTorchFile, TorchTensor } from "./torch_pickle.ts";

/** Adam moments and hyper-parameters, by parameter index. */
export interface TorchAdamState {
  /** Path the checkpoint was read from. */
  path: string;
  /** train.py's "epoch": cur_nimg, the number of training samples seen. */
  epoch: number;
  /** Adam's step count (the first parameter's; all are equal in a normal run). */
  step: number;
  /** Learning rate of the first param group. */
  lr: number;
  /** Adam's (beta1, beta2) of the first param group. */
  betas: [number, number];
  /** Adam's epsilon of the first param group. */
  eps: number;
  /** Weight decay of the first param group (0 when absent). */
  weightDecay: number;
  /** Whether the first param group uses AMSGrad. */
  amsgrad: boolean;
  /** Number of parameters the optimizer covers (param_groups' `params`, all groups). */
  numParams: number;
  /** Per index: first moment, or an empty array when the parameter has no state yet. */
  exp_avg: Float32Array[];
  /** Per index: second moment, or an empty array when the parameter has no state yet. */
  exp_avg_sq: Float32Array[];
  /** Per index: the moments' shape, or null when the parameter has no state. */
  shapes: (number[] | null)[];
  /** Per index: Adam's step for that parameter (0 without state). */
  steps: number[];
}

function get(m: PyValue, key: PyValue, what: string, source: string): PyValue {
  if (!(m instanceof Map) || !m.has(key)) throw new Error(`${source}: ${what} has no ${String(key)}`);
  return m.get(key)!;
}

function num(v: PyValue, what: string, source: string): number {
  if (v instanceof TorchTensor) {
    if (v.numel !== 1) {
      throw new Error(`${source}: ${what} is a tensor of shape [${v.shape}], expected a scalar`);
    }
    return v.data[0];
  }
  if (typeof v === "number" || typeof v === "bigint") return Number(v);
  throw new Error(`${source}: ${what} is not a number`);
}

/**
 * Reads the Adam state and epoch of a `checkpoint.<rank>.<N>.pt`. Errors are one line naming the
 * file, whatever the damage; NaN/infinite moments are reported with the parameter index and count.
 */
export function readTorchOptimizerState(path: string): TorchAdamState {
  return withFileErrors(path, "PyTorch training checkpoint", () => readAdamState(path));
}

function readAdamState(path: string): TorchAdamState {
  const { value } = readTorchFile(path);
  const osd = get(value, "optimizer_state_dict", "the checkpoint", path);
  const state = get(osd, "state", "optimizer_state_dict", path);
  const groups = get(osd, "param_groups", "optimizer_state_dict", path);
  if (!(state instanceof Map)) throw new Error(`${path}: optimizer state is not a dict`);
  if (!Array.isArray(groups) || !groups.length) throw new Error(`${path}: optimizer has no param_groups`);
  const g = groups[0];
  const indices = groups.flatMap((gr) => get(gr, "params", "param_groups entry", path) as number[]).map(
    Number,
  );
  const n = indices.length ? Math.max(...indices) + 1 : 0;
  const betas = get(g, "betas", "param_groups[0]", path) as number[];
  const out: TorchAdamState = {
    path,
    epoch: value instanceof Map && value.has("epoch") ? num(value.get("epoch")!, "epoch", path) : NaN,
    step: NaN,
    lr: num(get(g, "lr", "param_groups[0]", path), "lr", path),
    betas: [Number(betas[0]), Number(betas[1])],
    eps: num(get(g, "eps", "param_groups[0]", path), "eps", path),
    weightDecay: g instanceof Map && g.has("weight_decay")
      ? num(g.get("weight_decay")!, "weight_decay", path)
      : 0,
    amsgrad: g instanceof Map && g.get("amsgrad") === true,
    numParams: n,
    exp_avg: Array.from({ length: n }, () => new Float32Array(0)),
    exp_avg_sq: Array.from({ length: n }, () => new Float32Array(0)),
    shapes: new Array(n).fill(null),
    steps: new Array(n).fill(0),
  };
  for (const [k, s] of state) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new Error(`${path}: optimizer state for parameter ${String(k)} outside 0..${n - 1}`);
    }
    const ea = get(s, "exp_avg", `state[${i}]`, path), eq = get(s, "exp_avg_sq", `state[${i}]`, path);
    if (!(ea instanceof TorchTensor) || !(eq instanceof TorchTensor)) {
      throw new Error(`${path}: state[${i}] moments are not tensors`);
    }
    if (ea.shape.join() !== eq.shape.join()) {
      throw new Error(`${path}: state[${i}] exp_avg and exp_avg_sq shapes differ`);
    }
    for (const [name, t] of [["exp_avg", ea], ["exp_avg_sq", eq]] as const) {
      const bad = countNonFinite(t.data);
      if (bad) {
        throw new Error(
          `${path}: optimizer state[${i}].${name} has ${bad} NaN/infinite value(s) among ${t.numel}`,
        );
      }
    }
    out.exp_avg[i] = ea.data;
    out.exp_avg_sq[i] = eq.data;
    out.shapes[i] = ea.shape;
    out.steps[i] = num(get(s, "step", `state[${i}]`, path), `state[${i}].step`, path);
    if (!Number.isFinite(out.steps[i])) {
      throw new Error(`${path}: optimizer state[${i}].step is ${out.steps[i]}`);
    }
  }
  out.step = out.steps.find((_, i) => out.shapes[i]) ?? 0;
  return out;
}

/** Adam moments of one of our parameters. */
export interface ParamAdamState {
  /** Index of the parameter in the optimizer state. */
  index: number;
  /** Adam's step for this parameter (0 without state). */
  step: number;
  /** First moment, shaped like the parameter (zeros without state). */
  exp_avg: Float32Array;
  /** Second moment, shaped like the parameter (zeros without state). */
  exp_avg_sq: Float32Array;
}

/**
 * Maps optimizer indices to our parameter keys (`params` in state-dict order without buffers, e.g.
 * `ParamStore.params`) and checks counts and shapes. A parameter without state gets zero moments
 * and step 0, as Adam would start it.
 */
export function adamStateByParam(
  state: TorchAdamState,
  params: Map<string, { shape: readonly number[] }>,
): Map<string, ParamAdamState> {
  if (state.numParams !== params.size) {
    throw new Error(
      `${state.path}: optimizer covers ${state.numParams} parameters, the network has ${params.size}`,
    );
  }
  const out = new Map<string, ParamAdamState>();
  let i = 0;
  for (const [key, p] of params) {
    const shape = state.shapes[i];
    const numel = p.shape.reduce((a, s) => a * s, 1);
    if (shape && shape.join() !== p.shape.join()) {
      throw new Error(
        `${state.path}: optimizer state ${i} has shape [${shape}], parameter ${key} is [${p.shape}]`,
      );
    }
    out.set(
      key,
      shape
        ? { index: i, step: state.steps[i], exp_avg: state.exp_avg[i], exp_avg_sq: state.exp_avg_sq[i] }
        : { index: i, step: 0, exp_avg: new Float32Array(numel), exp_avg_sq: new Float32Array(numel) },
    );
    i++;
  }
  return out;
}
