/**
 * Elementwise and broadcast ops with their gradients (kernels in kernels/elementwise.wgsl).
 */
import { f32bits, rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";

const WG = 256;
const FILE = "elementwise";

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size) throw new Error(`${op}: shapes [${a.shape}] and [${b.shape}] differ`);
}

function launch(entry: string, params: number[], bufs: (Tensor | null)[], n: number): void {
  const r = rt();
  r.dispatch(r.kernel(FILE, entry), params, bufs, r.grid(n, WG));
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number): Tensor {
  const out = rt().empty(shape);
  launch("fill", [out.size, f32bits(value), 0, 0], [null, null, out], out.size);
  return out;
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[]): Tensor {
  return full(shape, 0);
}

/** alpha * x + beta * y. */
export function axpby(alpha: number, x: Tensor, beta: number, y: Tensor): Tensor {
  sameShape("axpby", x, y);
  const r = rt();
  const out = r.empty(x.shape);
  launch("axpby", [x.size, f32bits(alpha), f32bits(beta), 0], [x, y, out], x.size);
  if (r.tape?.wants(x, y)) {
    r.tape.record([x, y], out, (g) => [scale(g, alpha), scale(g, beta)]);
  }
  return out;
}

/** x + y. */
export function add(x: Tensor, y: Tensor): Tensor {
  return axpby(1, x, 1, y);
}

/** x - y. */
export function sub(x: Tensor, y: Tensor): Tensor {
  return axpby(1, x, -1, y);
}

/** alpha * x. */
export function scale(x: Tensor, alpha: number): Tensor {
  const r = rt();
  const out = r.empty(x.shape);
  launch("scale", [x.size, f32bits(alpha), 0, 0], [x, null, out], x.size);
  if (r.tape?.wants(x)) r.tape.record([x], out, (g) => [scale(g, alpha)]);
  return out;
}

/** x * y elementwise. */
export function mul(x: Tensor, y: Tensor): Tensor {
  sameShape("mul", x, y);
  const r = rt();
  const out = r.empty(x.shape);
  launch("mul", [x.size, 0, 0, 0], [x, y, out], x.size);
  if (r.tape?.wants(x, y)) r.tape.record([x, y], out, (g) => [mul(g, y), mul(g, x)], [x, y]);
  return out;
}

/** SiLU, x * sigmoid(x). */
export function silu(x: Tensor): Tensor {
  const r = rt();
  const out = r.empty(x.shape);
  launch("silu_fwd", [x.size, 0, 0, 0], [x, null, out], x.size);
  if (r.tape?.wants(x)) {
    r.tape.record([x], out, (g) => {
      const gx = r.empty(x.shape);
      launch("silu_bwd", [x.size, 0, 0, 0], [x, g, gx], x.size);
      return [gx];
    }, [x]);
  }
  return out;
}

/**
 * Multiplies each sample of x (leading axis B) by its own coefficient `coef` of shape [B] (the EDM
 * preconditioning's c_in, c_skip, c_out). The coefficient gets no gradient.
 */
export function mulPerSample(x: Tensor, coef: Tensor): Tensor {
  const r = rt();
  const B = x.shape[0];
  if (coef.size !== B) throw new Error(`mulPerSample: ${coef.size} coefficients for batch ${B}`);
  const out = r.empty(x.shape);
  launch("mul_rows", [x.size, B, 0, x.size / B], [x, coef, out], x.size);
  if (r.tape?.wants(x)) r.tape.record([x], out, (g) => [mulPerSample(g, coef)], [coef]);
  return out;
}

/** Sums contiguous rows: x viewed as [rows, inner] → [rows]. */
export function sumRows(x: Tensor, rows: number): Tensor {
  const r = rt();
  const inner = x.size / rows;
  const out = r.empty([rows]);
  launch("sum_rows", [rows, 0, 0, inner], [x, null, out], rows);
  // d/dx: each row's gradient spread over its `inner` elements.
  if (r.tape?.wants(x)) r.tape.record([x], out, (g) => [spread(g, x.shape, rows, inner)]);
  return out;
}

/** Sums over a leading axis: x viewed as [lead, inner] → [inner]. */
export function sumLeading(x: Tensor, lead: number): Tensor {
  const r = rt();
  const inner = x.size / lead;
  const out = r.empty([inner]);
  launch("sum_leading", [inner, lead, 0, inner], [x, null, out], inner);
  // d/dx: the gradient of [inner] repeated for every leading index.
  if (r.tape?.wants(x)) r.tape.record([x], out, (g) => [spread(g, x.shape, inner, 1)]);
  return out;
}

/** out[i] = g[(i / every) % n] over `shape`: a gradient broadcast back over summed elements. */
function spread(g: Tensor, shape: readonly number[], n: number, every: number): Tensor {
  const out = rt().empty(shape);
  launch("mul_rows", [out.size, n, 0, every], [ones(shape), g, out], out.size);
  return out;
}

/**
 * x [B, C, H, W] + bias [R, C] broadcast over H, W (R = B, or 1 to broadcast over the batch): the
 * UNetBlock's `h + affine(emb)[:, :, None, None]`.
 */
export function addChannelBias(x: Tensor, bias: Tensor): Tensor {
  const r = rt();
  const [B, C, H, W] = x.shape;
  const R = bias.size / C;
  if (!Number.isInteger(R) || (R !== 1 && R !== B)) {
    throw new Error(`addChannelBias: bias [${bias.shape}] does not broadcast to [${x.shape}]`);
  }
  const out = r.empty(x.shape);
  launch("add_channel_bias", [x.size, C, R, H * W], [x, bias, out], x.size);
  if (r.tape?.wants(x, bias)) {
    r.tape.record([x, bias], out, (g) => {
      const perBC = sumRows(g, B * C); // [B*C]
      const gb = R === 1 ? sumLeading(perBC, B) : perBC;
      return [g, gb.reshape(bias.shape)];
    });
  }
  return out;
}

/** Sum of all elements, as a [1] tensor (for scalar losses). */
export function sumAll(x: Tensor): Tensor {
  const r = rt();
  // Two passes keep each thread's loop short: rows of ~sqrt(n), then the row sums.
  const rows = Math.max(1, Math.round(Math.sqrt(x.size)));
  let out: Tensor;
  if (x.size % rows === 0) out = sumRows(sumRows(x, rows), 1);
  else out = sumRows(x, 1);
  if (r.tape?.wants(x)) r.tape.record([x], out, (g) => [spread(g, x.shape, 1, x.size)]);
  return out;
}

function ones(shape: readonly number[]): Tensor {
  return full(shape, 1);
}
