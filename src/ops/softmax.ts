/**
 * Softmax along one axis, with its gradient (kernels in kernels/softmax.wgsl).
 *
 * The kernels see x as [outer, n, inner] and normalise along n. `softmax` is the familiar last-axis
 * form (inner = 1); attention normalises its keys-major weight matrices along the key axis, which is
 * a middle axis (inner = number of queries).
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { declareKernel } from "../gpu/kernel.ts";
import { defineOp } from "../gpu/op.ts";

const PARAMS = { lines: "u32", n: "u32", inner: "u32", valid: "u32" } as const;
const kernel = (entry: string, bindings: string[]) =>
  declareKernel({ file: "softmax", entry, params: PARAMS, bindings });
const FWD = kernel("softmax_fwd", ["x", "out"]);
const BWD = kernel("softmax_bwd", ["x", "gy", "out"]);
const CE_FWD = kernel("cross_entropy_fwd", ["x", "target_p", "out"]);
const CE_BWD = kernel("cross_entropy_bwd", ["x", "target_p", "gline", "out"]);

function checkAxis(op: string, x: Tensor, outer: number, n: number, inner: number, valid: number): void {
  const ok = [outer, n, inner].every((v) => Number.isInteger(v) && v > 0) && outer * n * inner === x.size;
  if (!ok) throw new Error(`${op}: ${x} cannot be viewed as [outer ${outer}, n ${n}, inner ${inner}]`);
  if (!Number.isInteger(valid) || valid < 1 || valid > n) {
    throw new Error(`${op}: valid length ${valid} outside 1..${n}`);
  }
}

/**
 * Softmax of x viewed as [outer, n, inner] along the n axis (max-subtracted):
 * y[o, k, t] = exp(x[o, k, t] - m) / sum_k' exp(x[o, k', t] - m), m = max_k x[o, k, t], over the first
 * `valid` entries k < valid of the axis; y is 0 for k >= valid (padding). Records its backward.
 */
export function softmaxAxis(x: Tensor, outer: number, n: number, inner: number, valid = n): Tensor {
  checkAxis("softmaxAxis", x, outer, n, inner, valid);
  const r = rt();
  const y = r.empty(x.shape);
  const lines = outer * inner;
  FWD.run({ lines, n, inner, valid }, { x, out: y }, FWD.grid(lines));
  if (r.tape?.wants(x)) {
    r.tape.record([x], y, (gy) => [softmaxAxisBackward(y, gy, outer, n, inner, valid)], [y]);
  }
  return y;
}

/**
 * Gradient of `softmaxAxis` given its output y and the output gradient gy (same view):
 * gx = y * (gy - sum_k gy * y) along the n axis, over k < valid; gx is 0 for k >= valid.
 * A backward pass, recorded by no tape (as every op's backward kernels): it runs while the tape
 * replays, on a y the tape tracks, and second derivatives are not supported.
 */
export function softmaxAxisBackward(
  y: Tensor,
  gy: Tensor,
  outer: number,
  n: number,
  inner: number,
  valid = n,
): Tensor {
  checkAxis("softmaxAxisBackward", y, outer, n, inner, valid);
  if (gy.size !== y.size) throw new Error(`softmaxAxisBackward: gradient ${gy} does not match output ${y}`);
  const r = rt();
  const gx = r.empty(y.shape);
  const lines = outer * inner;
  BWD.run({ lines, n, inner, valid }, { x: y, gy, out: gx }, BWD.grid(lines));
  return gx;
}

/** Softmax over the last axis of x viewed as [rows, n] (max-subtracted). */
export function softmax(x: Tensor, rows: number): Tensor {
  const n = x.size / rows;
  if (!Number.isInteger(n) || rows <= 0) throw new Error(`softmax: ${x} does not split into ${rows} rows`);
  return softmaxAxis(x, rows, n, 1);
}

/** The [outer, n, inner] view of the cross entropy's logits. */
interface Lines {
  outer: number;
  n: number;
  inner: number;
}

const CROSS_ENTROPY = defineOp({
  name: "softmaxCrossEntropy",
  forward: ({ logits, target }: { logits: Tensor; target: Tensor }, v: Lines) => {
    const out = rt().empty([v.outer * v.inner]);
    const lines = v.outer * v.inner;
    CE_FWD.run(
      { lines, n: v.n, inner: v.inner, valid: v.n },
      { x: logits, target_p: target, out },
      CE_FWD.grid(lines),
    );
    return out;
  },
  backward: (g, { inputs: { logits, target }, params: v }) => {
    const gx = rt().empty(logits.shape);
    const lines = v.outer * v.inner;
    CE_BWD.run(
      { lines, n: v.n, inner: v.inner, valid: v.n },
      { x: logits, target_p: target, gline: g, out: gx },
      CE_BWD.grid(lines),
    );
    return { logits: gx, target: null };
  },
});

/**
 * Cross entropy with probability targets along the n axis of logits viewed as [outer, n, inner]:
 * loss[o * inner + t] = -sum_k target[o, k, t] log softmax(logits[o, :, t])_k, as torch's
 * CrossEntropyLoss(reduction="none") with class probabilities (RegressionLossCE's probability channels).
 * Differentiable in the logits; the targets are data.
 */
export function softmaxCrossEntropy(
  logits: Tensor,
  target: Tensor,
  outer: number,
  n: number,
  inner: number,
): Tensor {
  checkAxis("softmaxCrossEntropy", logits, outer, n, inner, n);
  if (target.size !== logits.size) {
    throw new Error(`softmaxCrossEntropy: target ${target} does not match logits ${logits}`);
  }
  return CROSS_ENTROPY({ logits, target }, { outer, n, inner });
}
