/**
 * Elementwise and broadcast ops with their gradients (kernels in kernels/elementwise.wgsl).
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { ELEMENTWISE, launchElementwise } from "../gpu/elementwise_kernels.ts";

const K = ELEMENTWISE;

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size) throw new Error(`${op}: shapes [${a.shape}] and [${b.shape}] differ`);
}

const launch = launchElementwise;

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number): Tensor {
  const out = rt().empty(shape);
  launch(K.fill, { n: out.size, alpha: value }, { out });
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
  launch(K.axpby, { n: x.size, alpha, beta }, { x, y, out });
  if (r.tape?.wants(x, y)) {
    // gradients are never written in place, so equal coefficients share one tensor (and 1 is g itself)
    r.tape.record([x, y], out, (g) => {
      const gx = alpha === 1 ? g : scale(g, alpha);
      return [gx, beta === alpha ? gx : beta === 1 ? g : scale(g, beta)];
    });
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
  launch(K.scale, { n: x.size, alpha }, { x, out });
  if (r.tape?.wants(x)) r.tape.record([x], out, (g) => [scale(g, alpha)]);
  return out;
}

/** x * y elementwise. */
export function mul(x: Tensor, y: Tensor): Tensor {
  sameShape("mul", x, y);
  const r = rt();
  const out = r.empty(x.shape);
  launch(K.mul, { n: x.size }, { x, y, out });
  if (r.tape?.wants(x, y)) r.tape.record([x, y], out, (g) => [mul(g, y), mul(g, x)], [x, y]);
  return out;
}

/** SiLU, x * sigmoid(x). */
export function silu(x: Tensor): Tensor {
  const r = rt();
  const out = r.empty(x.shape);
  launch(K.silu_fwd, { n: x.size }, { x, out });
  if (r.tape?.wants(x)) {
    r.tape.record([x], out, (g) => {
      const gx = r.empty(x.shape);
      launch(K.silu_bwd, { n: x.size }, { x, y: g, out: gx });
      return [gx];
    }, [x]);
  }
  return out;
}

/**
 * Multiplies each sample of x (leading axis B) by its own coefficient `coef` of shape [B] (the EDM
 * preconditioning's c_in, c_skip, c_out). Differentiable in x and coef.
 */
export function mulPerSample(x: Tensor, coef: Tensor): Tensor {
  const r = rt();
  const B = x.shape[0];
  if (coef.size !== B) throw new Error(`mulPerSample: ${coef.size} coefficients for batch ${B}`);
  const out = r.empty(x.shape);
  launch(K.mul_rows, { n: x.size, count: B, inner: x.size / B }, { x, y: coef, out });
  if (r.tape?.wants(x, coef)) {
    const needX = r.tape.wants(x);
    const needCoef = r.tape.wants(coef);
    r.tape.record([x, coef], out, (g) => [
      needX ? mulPerSample(g, coef) : null,
      needCoef ? sampleDot(g, x) : null,
    ], needCoef ? [x, coef] : [coef]);
  }
  return out;
}

/**
 * x [B, C, H, W] times a per-channel factor `scale` of C values (SongUNetPosLtEmbd's `scalar` on its
 * probability channels). Differentiable in x and scale.
 */
export function mulChannels(x: Tensor, scale: Tensor): Tensor {
  const r = rt();
  const [B, C, H, W] = x.shape;
  if (x.shape.length !== 4 || scale.size !== C) {
    throw new Error(
      `mulChannels: scale [${scale.shape}] does not have one value per channel of x [${x.shape}]`,
    );
  }
  const out = r.empty(x.shape);
  launch(K.mul_rows, { n: x.size, count: C, inner: H * W }, { x, y: scale, out });
  if (r.tape?.wants(x, scale)) {
    const needX = r.tape.wants(x);
    const needScale = r.tape.wants(scale);
    r.tape.record([x, scale], out, (g) => [
      needX ? mulChannels(g, scale) : null,
      needScale ? sumLeading(sampleDot(g, x.reshape([B * C, H * W])), B).reshape(scale.shape) : null,
    ], needScale ? [x, scale] : [scale]);
  }
  return out;
}

/** [B]: sum over each sample of g * x (unrecorded: the product of a tracked x would join the tape). */
function sampleDot(g: Tensor, x: Tensor): Tensor {
  const prod = rt().empty(x.shape);
  launch(K.mul, { n: x.size }, { x: g, y: x, out: prod });
  const out = sumRows(prod, x.shape[0]);
  prod.release();
  return out;
}

/** Sums contiguous rows: x viewed as [rows, inner] → [rows]. */
export function sumRows(x: Tensor, rows: number): Tensor {
  const r = rt();
  const inner = x.size / rows;
  const out = r.empty([rows]);
  launch(K.sum_rows, { n: rows, inner }, { x, out });
  // d/dx: each row's gradient spread over its `inner` elements.
  if (r.tape?.wants(x)) r.tape.record([x], out, (g) => [spread(g, x.shape, rows, inner)]);
  return out;
}

/** Sums over a leading axis: x viewed as [lead, inner] → [inner]. */
export function sumLeading(x: Tensor, lead: number): Tensor {
  const r = rt();
  const inner = x.size / lead;
  const out = r.empty([inner]);
  launch(K.sum_leading, { n: inner, rows: lead, inner }, { x, out });
  // d/dx: the gradient of [inner] repeated for every leading index.
  if (r.tape?.wants(x)) r.tape.record([x], out, (g) => [spread(g, x.shape, inner, 1)]);
  return out;
}

/** out[i] = g[(i / every) % n] over `shape`: a gradient broadcast back over summed elements. */
function spread(g: Tensor, shape: readonly number[], n: number, every: number): Tensor {
  const out = rt().empty(shape);
  launch(K.mul_rows, { n: out.size, count: n, inner: every }, { x: ones(shape), y: g, out });
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
  launch(K.add_channel_bias, { n: x.size, count: C, rows: R, inner: H * W }, { x, y: bias, out });
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
