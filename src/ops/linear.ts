/**
 * Fully connected layer y = x W^T + b with its gradients, as products of src/ops/matmul.ts (the bias
 * gradient is a column sum of dy, elementwise.ts's sumLeading).
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { defineOp } from "../gpu/op.ts";
import { sumLeading } from "./elementwise.ts";
import { matmulInto } from "./matmul.ts";

/** y = x W^T + b for x [rows, inF]: dot products of two rows contiguous along the features. */
function forward(x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, d: Dims): void {
  matmulInto(
    { M: d.rows, N: d.outF, K: d.inF },
    { t: x, is: d.inF, js: 1 },
    { t: w, is: 1, js: d.inF },
    { t: y, is: d.outF, js: 1 },
    { bias },
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
    forward(x, weight, bias, out, d);
    return out;
  },
  backward: (dy, { inputs: { x, weight, bias }, params: { rows, inF, outF }, need }) => {
    const r = rt();
    let dx: Tensor | null = null, dw: Tensor | null = null;
    if (need.x) {
      dx = r.empty(x.shape);
      // dx = dy W
      matmulInto(
        { M: rows, N: inF, K: outF },
        { t: dy, is: outF, js: 1 },
        { t: weight, is: inF, js: 1 },
        { t: dx, is: inF, js: 1 },
      );
    }
    if (need.weight) {
      dw = r.empty(weight.shape);
      // dW = dy^T x
      matmulInto(
        { M: outF, N: inF, K: rows },
        { t: dy, is: 1, js: outF },
        { t: x, is: inF, js: 1 },
        { t: dw, is: inF, js: 1 },
      );
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
