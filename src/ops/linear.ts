/**
 * Fully connected layer y = x W^T + b with its gradients (kernels in kernels/linear.wgsl).
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { defineOp } from "../gpu/op.ts";
import { declareKernel } from "../gpu/kernel.ts";
import { sumLeading } from "./elementwise.ts";

/** Rows per thread of the vec4 entry points (TM in the kernel file). */
const TM = 4;

/** Shape and float strides of c [m, n] = sum_k a[m*aM + k*aK] * b[k*bK + n*bN]. */
interface Product {
  m: number;
  n: number;
  k: number;
  aM: number;
  aK: number;
  bK: number;
  bN: number;
}

const PARAMS = {
  m: "u32",
  n: "u32",
  k: "u32",
  a_m: "u32",
  a_k: "u32",
  b_k: "u32",
  b_n: "u32",
  has_bias: "u32",
} as const;
const NT4 = declareKernel({
  file: "linear",
  entry: "matmul_nt4",
  params: PARAMS,
  bindings: ["a4", "b4", "bias", "c"],
});
const NN4 = declareKernel({
  file: "linear",
  entry: "matmul_nn4",
  params: PARAMS,
  bindings: ["a", "b4", "c4"],
});
const STRIDED = declareKernel({
  file: "linear",
  entry: "matmul_strided",
  params: PARAMS,
  bindings: ["a", "b", "bias", "c"],
});

/** Any shape, one output per thread. A bias-free call binds `b` in the bias slot (statically read). */
function strided(a: Tensor, b: Tensor, bias: Tensor | null, c: Tensor, d: Product): void {
  STRIDED.run(
    { m: d.m, n: d.n, k: d.k, a_m: d.aM, a_k: d.aK, b_k: d.bK, b_n: d.bN, has_bias: bias ? 1 : 0 },
    { a, b, bias: bias ?? b, c },
    STRIDED.grid(d.m * d.n),
  );
}

/** y = x W^T + b for x [rows, inF]. */
function forward(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  y: Tensor,
  rows: number,
  inF: number,
  outF: number,
): void {
  if (inF % 4 !== 0) {
    strided(x, w, bias, y, { m: rows, n: outF, k: inF, aM: inF, aK: 1, bK: 1, bN: inF });
    return;
  }
  const k4 = inF / 4;
  NT4.run(
    { m: rows, n: outF, k: k4, a_m: k4, a_k: 1, b_k: 1, b_n: k4, has_bias: bias ? 1 : 0 },
    { a4: x, b4: w, bias: bias ?? w, c: y },
    NT4.grid(Math.ceil(rows / TM) * outF),
  );
}

/** c = a_op b where b's rows are contiguous along c's columns (c [m, n], n = row length of b). */
function productNN(a: Tensor, b: Tensor, c: Tensor, d: Product): void {
  if (d.n % 4 !== 0 || d.bN !== 1) {
    strided(a, b, null, c, d);
    return;
  }
  NN4.run(
    { m: d.m, n: d.n, k: d.k, a_m: d.aM, a_k: d.aK, b_k: d.bK / 4, b_n: 1 },
    { a, b4: b, c4: c },
    NN4.grid(Math.ceil(d.m / TM) * (d.n / 4)),
  );
}

/**
 * Linear layer: x [..., in] (usually [N, in]), weight [out, in], bias [out] or null → [..., out] =
 * x W^T + b. Differentiable in x, weight and bias.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  if (weight.shape.length !== 2) throw new Error(`linear: weight must be [out, in], got [${weight.shape}]`);
  const [outF, inF] = weight.shape;
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== inF) {
    throw new Error(
      `linear: x [${x.shape}] does not end in the weight's ${inF} input features (weight [${weight.shape}])`,
    );
  }
  if (bias && bias.size !== outF) {
    throw new Error(`linear: bias [${bias.shape}] must have ${outF} values (weight [${weight.shape}])`);
  }
  return LINEAR({ x, weight, bias }, { rows: x.size / inF, inF, outF });
}

const LINEAR = defineOp({
  name: "linear",
  forward: ({ x, weight, bias }: { x: Tensor; weight: Tensor; bias: Tensor | null }, d: Dims) => {
    const out = rt().empty([...x.shape.slice(0, -1), d.outF]);
    forward(x, weight, bias, out, d.rows, d.inF, d.outF);
    return out;
  },
  backward: (dy, { inputs: { x, weight, bias }, params: { rows, inF, outF }, need }) => {
    const r = rt();
    let dx: Tensor | null = null, dw: Tensor | null = null;
    if (need.x) {
      dx = r.empty(x.shape);
      productNN(dy, weight, dx, { m: rows, n: inF, k: outF, aM: outF, aK: 1, bK: inF, bN: 1 });
    }
    if (need.weight) {
      dw = r.empty(weight.shape);
      productNN(dy, x, dw, { m: outF, n: inF, k: rows, aM: 1, aK: outF, bK: inF, bN: 1 });
    }
    return { x: dx, weight: dw, bias: need.bias ? sumLeading(dy, rows).reshape(bias!.shape) : null };
  },
});

/** Rows of x and the feature counts of a linear layer. */
interface Dims {
  rows: number;
  inF: number;
  outF: number;
}
