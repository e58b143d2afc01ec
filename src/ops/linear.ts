/**
 * Fully connected layer y = x W^T + b with its gradients (kernels in kernels/linear.wgsl).
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { sumLeading } from "./elementwise.ts";

const FILE = "linear";
const WG = 64;
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

function dispatch(entry: string, params: number[], bufs: (Tensor | null)[], threads: number): void {
  const r = rt();
  r.dispatch(r.kernel(FILE, entry), params, bufs, r.grid(threads, WG));
}

/** Any shape, one output per thread. A bias-free call binds `b` in the bias slot (statically read). */
function strided(a: Tensor, b: Tensor, bias: Tensor | null, c: Tensor, d: Product): void {
  dispatch(
    "matmul_strided",
    [d.m, d.n, d.k, d.aM, d.aK, d.bK, d.bN, bias ? 1 : 0],
    [a, b, bias ?? b, c],
    d.m * d.n,
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
  dispatch(
    "matmul_nt4",
    [rows, outF, k4, k4, 1, 1, k4, bias ? 1 : 0],
    [x, w, bias ?? w, y],
    Math.ceil(rows / TM) * outF,
  );
}

/** c = a_op b where b's rows are contiguous along c's columns (c [m, n], n = row length of b). */
function productNN(a: Tensor, b: Tensor, c: Tensor, d: Product): void {
  if (d.n % 4 !== 0 || d.bN !== 1) {
    strided(a, b, null, c, d);
    return;
  }
  dispatch(
    "matmul_nn4",
    [d.m, d.n, d.k, d.aM, d.aK, d.bK / 4, 1, 0],
    [a, b, null, c],
    Math.ceil(d.m / TM) * (d.n / 4),
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
  const rows = x.size / inF;
  const r = rt();
  const out = r.empty([...x.shape.slice(0, -1), outF]);
  forward(x, weight, bias, out, rows, inF, outF);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (r.tape?.wants(...inputs)) {
    const [needX, needW, needB] = inputs.map((t) => r.tape!.wants(t));
    r.tape.record(inputs, out, (dy) => {
      let dx: Tensor | null = null, dw: Tensor | null = null;
      if (needX) {
        dx = r.empty(x.shape);
        productNN(dy, weight, dx, { m: rows, n: inF, k: outF, aM: outF, aK: 1, bK: inF, bN: 1 });
      }
      if (needW) {
        dw = r.empty(weight.shape);
        productNN(dy, x, dw, { m: outF, n: inF, k: rows, aM: 1, aK: outF, bK: inF, bN: 1 });
      }
      const grads = [dx, dw];
      if (bias) grads.push(needB ? sumLeading(dy, rows).reshape(bias.shape) : null);
      return grads;
    }, [x, weight]);
  }
  return out;
}
