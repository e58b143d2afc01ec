/**
 * Multi-head self-attention over the pixels of an image, with its gradient (products by
 * src/ops/matmul.ts, layout moves in kernels/attention.wgsl): the core of the U-Net's UNetAttention layer, between its qkv and proj
 * 1x1 convolutions.
 *
 * Every slice z = b * heads + a (one sample, one head) is a few dense products C = A B over rows of
 * its operands. The weights are kept keys-major (PT[s', s], one matrix per slice) so that the products
 * read the interleaved qkv rows (Q^T, K^T, V^T: [c, S] each) in place; the pixel-major K, V, Q and dO
 * ([S, c], the other operand orientation) come from small transposes. When S is not a multiple of 4,
 * pixel rows are zero-padded to Sp (the kernels load vec4 rows and step through k four at a time);
 * padded keys get weight 0 and padded queries are dropped.
 */
import type { KernelProfile } from "../gpu/device.ts";
import { rt } from "../gpu/runtime.ts";
import { declareKernel } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { softmaxAxis, softmaxAxisBackward } from "./softmax.ts";
import { matmulInto } from "./matmul.ts";

// deno-fmt-ignore: one line per 16-byte group of the WGSL Params struct
const PARAMS = {
  M: "u32", N: "u32", K: "u32",
  a_off: "u32", a_z: "u32", a_m: "u32", a_k: "u32",
  c_off: "u32", c_z: "u32", c_m: "u32", c_n: "u32",
} as const;
const COPY = declareKernel({
  file: "attention",
  entry: "strided_copy",
  params: PARAMS,
  bindings: ["src", "dst"],
});

/** Options for tests and tuning; the defaults follow the adapter. */
export interface AttentionOptions {
  /** Kernel family: "cpu" (register blocking) or "gpu" (workgroup tiles). Default: the adapter's profile. */
  profile?: KernelProfile;
  /**
   * Largest attention-weight block, in float32 elements, one launch may bind. Default: the adapter's
   * maxStorageBufferBindingSize. Slices are processed in groups that fit.
   */
  maxScoreElements?: number;
}

/** Sizes of one attention call. */
interface Geometry {
  B: number;
  C: number;
  /** Channels per head. */
  c: number;
  /** c rounded up to a multiple of 4 (row length of the pixel-major operands). */
  cp: number;
  H: number;
  W: number;
  /** Pixels per image, H * W. */
  S: number;
  /** S rounded up to a multiple of 4 (row length of every pixel row). */
  Sp: number;
  /** Slices: B * heads. */
  Z: number;
}

function geometry(qkv: Tensor, heads: number): Geometry {
  const shape = qkv.shape;
  if (shape.length !== 4) throw new Error(`attention: qkv must be [B, 3C, H, W], got [${shape}]`);
  const [B, C3, H, W] = shape;
  if (C3 % 3 !== 0) throw new Error(`attention: qkv [${shape}] has ${C3} channels, not a multiple of 3`);
  const C = C3 / 3;
  if (!Number.isInteger(heads) || heads <= 0 || C % heads !== 0) {
    throw new Error(`attention: ${C} channels of qkv [${shape}] do not split into ${heads} heads`);
  }
  const c = C / heads;
  const S = H * W;
  return { B, C, c, cp: ceil4(c), H, W, S, Sp: ceil4(S), Z: B * heads };
}

function ceil4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** Matrices with contiguous rows: M[z][i, j] = t[off + z*zs + i*rs + j]. */
interface Rows {
  t: Tensor;
  off: number;
  zs: number;
  rs: number;
}

/** Matrices with any strides: M[z][i, j] = t[off + z*zs + i*is + j*js]. */
interface Strided {
  t: Tensor;
  off: number;
  zs: number;
  is: number;
  js: number;
}

/**
 * C[z][m, n] = alpha * sum_{k < K} A[z][m, k] * B[z][k, n] for z < Z, m < M, n < N. A[m, k] is readable
 * and 0 for K <= k < ceil4(K) (zero-padded pixel and channel rows), which lets the register-blocked
 * kernel take any K.
 */
function matmul(
  profile: KernelProfile,
  dims: { Z: number; M: number; N: number; K: number },
  alpha: number,
  a: Rows,
  b: Rows,
  c: Strided,
): void {
  matmulInto(
    dims,
    { t: a.t, off: a.off, zs: a.zs, is: a.rs, js: 1 },
    { t: b.t, off: b.off, zs: b.zs, is: b.rs, js: 1 },
    c,
    { alpha, profile, aZeroTail: true },
  );
}

/** dst[z][m, n] = n < K ? src[z][m, n] : 0 for z < Z, m < M, n < N. */
function stridedCopy(dims: { Z: number; M: number; N: number; K: number }, src: Strided, dst: Strided): void {
  const { Z, M, N, K } = dims;
  const params = {
    M,
    N,
    K,
    a_off: src.off,
    a_z: src.zs,
    a_m: src.is,
    a_k: src.js,
    c_off: dst.off,
    c_z: dst.zs,
    c_m: dst.is,
    c_n: dst.js,
  };
  COPY.run(params, { src: src.t, dst: dst.t }, [Math.ceil(M / 64), Z]);
}

/** Pixel rows of length `from` copied into rows of length `to` (zero-filled beyond `from`): pads or unpads. */
function repadPixels(x: Tensor, shape: number[], from: number, to: number): Tensor {
  const [B, channels] = shape;
  const out = rt().empty(shape);
  stridedCopy(
    { Z: B, M: channels, N: to, K: Math.min(from, to) },
    { t: x, off: 0, zs: channels * from, is: from, js: 1 },
    { t: out, off: 0, zs: channels * to, is: to, js: 1 },
  );
  return out;
}

/**
 * The [c, Sp] head-channel rows of every slice (first row at `off`, slices `sliceStride` apart, rows
 * `rowStride` apart) transposed to pixel-major [Z, Sp, cp], zero beyond c.
 */
function pixelsMajor(g: Geometry, x: Tensor, off: number, sliceStride: number, rowStride: number): Tensor {
  const out = rt().empty([g.Z, g.Sp, g.cp]);
  stridedCopy(
    { Z: g.Z, M: g.Sp, N: g.cp, K: g.c },
    { t: x, off, zs: sliceStride, is: 1, js: rowStride },
    { t: out, off: 0, zs: g.Sp * g.cp, is: g.cp, js: 1 },
  );
  return out;
}

/** Slices per launch so that their [Sp, Sp] weight matrices fit a binding; throws when one does not. */
function sliceGroup(g: Geometry, qkv: Tensor, maxElements: number): number {
  const perSlice = g.Sp * g.Sp;
  const fit = Math.floor(maxElements / perSlice);
  if (fit < 1) {
    throw new Error(
      `attention: qkv [${qkv.shape}] needs a [${g.S}, ${g.S}] attention-weight matrix per (sample, head) ` +
        `(${perSlice * 4} bytes), above this adapter's limit of ${maxElements * 4} bytes per binding ` +
        `(maxStorageBufferBindingSize); use smaller patches`,
    );
  }
  return Math.min(fit, g.Z, rt().gpu.limits.maxComputeWorkgroupsPerDimension);
}

/** The operands every product of one call shares. */
interface Plan {
  g: Geometry;
  profile: KernelProfile;
  /** Slices per launch. */
  group: number;
  /** qkv with pixel rows padded to Sp ([B, 3C, Sp]; qkv itself when S = Sp). */
  x: Tensor;
}

/** Row views of role r (0 q, 1 k, 2 v) of the padded qkv: [c, Sp] per slice, from slice z0 on. */
function roleRows(p: Plan, role: number, z0: number): Rows {
  const { c, Sp } = p.g;
  return { t: p.x, off: (z0 * 3 * c + role) * Sp, zs: 3 * c * Sp, rs: 3 * Sp };
}

/**
 * The rows of role r in a qkv-shaped output t (the gradient of qkv), as a product's output: [c, Sp] per
 * slice, or its transpose [Sp, c] when `pixelMajor` (the product yields pixels as rows).
 */
function roleOut(p: Plan, t: Tensor, role: number, z0: number, pixelMajor: boolean): Strided {
  const { c, Sp } = p.g;
  const off = (z0 * 3 * c + role) * Sp;
  return pixelMajor
    ? { t, off, zs: 3 * c * Sp, is: 1, js: 3 * Sp }
    : { t, off, zs: 3 * c * Sp, is: 3 * Sp, js: 1 };
}

/** Row views of a pixel-major [Z, Sp, cp] operand from slice z0 on. */
function pixelRows(p: Plan, t: Tensor, z0: number): Rows {
  const { Sp, cp } = p.g;
  return { t, off: z0 * Sp * cp, zs: Sp * cp, rs: cp };
}

/** Row views of [nz, Sp, Sp] weight matrices. */
function weightRows(p: Plan, t: Tensor): Rows {
  return { t, off: 0, zs: p.g.Sp * p.g.Sp, rs: p.g.Sp };
}

/** The same matrices as a product's output. */
function weightOut(p: Plan, t: Tensor): Strided {
  return { t, off: 0, zs: p.g.Sp * p.g.Sp, is: p.g.Sp, js: 1 };
}

/** Output-shaped [B, C, Sp] tensors (o, dO) as [c, Sp] rows per slice, from slice z0 on. */
function outRows(p: Plan, t: Tensor, z0: number): Rows {
  const { c, Sp } = p.g;
  return { t, off: z0 * c * Sp, zs: c * Sp, rs: Sp };
}

/**
 * Self-attention of every pixel over all pixels of its image.
 *
 * qkv [B, 3C, H, W] in the reference's INTERLEAVED layout: channel (a*c + j)*3 + r is head a,
 * head-channel j, role r (0=q,1=k,2=v), c = C/heads.
 * Returns o [B, C, H, W] with o[b, a*c+j, s] = sum_{s'} softmax_{s'}(sum_j q[j,s] k[j,s'] / sqrt(c)) * v[j,s'],
 * s = row-major pixel index. Records its backward (gradient w.r.t. qkv, same layout) on the tape.
 */
export function attention(qkv: Tensor, heads: number, options: AttentionOptions = {}): Tensor {
  const r = rt();
  const g = geometry(qkv, heads);
  const { B, C, c, S, Sp, Z } = g;
  const padded = S !== Sp;
  const p: Plan = {
    g,
    profile: options.profile ?? r.gpu.profile,
    group: sliceGroup(g, qkv, options.maxScoreElements ?? r.maxBindingElements),
    x: padded ? repadPixels(qkv, [B, 3 * C, Sp], S, Sp) : qkv,
  };
  const scale = 1 / Math.sqrt(c);
  const kT = pixelsMajor(g, p.x, Sp, 3 * c * Sp, 3 * Sp); // K[s', j]
  const oP = r.empty(padded ? [B, C, Sp] : [B, C, g.H, g.W]);
  const weights: Tensor[] = [];
  for (let z0 = 0; z0 < Z; z0 += p.group) {
    const nz = Math.min(p.group, Z - z0);
    // ScT[s', s] = sum_j K[s', j] Q^T[j, s] / sqrt(c)
    const scores = r.empty([nz, Sp, Sp]);
    const q = roleRows(p, 0, z0);
    matmul(p.profile, { Z: nz, M: S, N: Sp, K: c }, scale, pixelRows(p, kT, z0), q, weightOut(p, scores));
    const pt = softmaxAxis(scores, nz, Sp, Sp, S); // padded keys get weight 0
    scores.release();
    // O^T[j, s] = sum_s' V^T[j, s'] PT[s', s]
    const out = { ...outRows(p, oP, z0), is: Sp, js: 1 };
    matmul(p.profile, { Z: nz, M: c, N: Sp, K: Sp }, 1, roleRows(p, 2, z0), weightRows(p, pt), out);
    weights.push(pt);
  }
  kT.release();
  let o = oP;
  if (padded) {
    o = repadPixels(oP, [B, C, g.H, g.W], Sp, S);
    oP.release();
  }
  if (r.tape?.wants(qkv)) {
    r.tape.record([qkv], o, (gO) => [attentionBackward(p, weights, gO)], [p.x, ...weights]);
  } else {
    for (const w of weights) w.release();
    if (padded) p.x.release();
  }
  return o;
}

/** Gradient w.r.t. qkv (interleaved layout, shape of qkv) from the saved weights PT. */
function attentionBackward(p: Plan, weights: Tensor[], gO: Tensor): Tensor {
  const r = rt();
  const { g } = p;
  const { B, C, c, S, Sp, Z } = g;
  const scale = 1 / Math.sqrt(c);
  const padded = S !== Sp;
  const gOP = padded ? repadPixels(gO, [B, C, Sp], S, Sp) : gO;
  const dO = pixelsMajor(g, gOP, 0, c * Sp, Sp); // dO[s, j]
  const q = pixelsMajor(g, p.x, 0, 3 * c * Sp, 3 * Sp); // Q[s, j]
  const v = pixelsMajor(g, p.x, 2 * Sp, 3 * c * Sp, 3 * Sp); // V[s', j]
  const gX = r.empty(padded ? [B, 3 * C, Sp] : [B, 3 * C, g.H, g.W]);
  weights.forEach((pt, i) => {
    const z0 = i * p.group;
    const nz = Math.min(p.group, Z - z0);
    // dV[s', j] = sum_s PT[s', s] dO[s, j]
    matmul(
      p.profile,
      { Z: nz, M: S, N: c, K: Sp },
      1,
      weightRows(p, pt),
      pixelRows(p, dO, z0),
      roleOut(p, gX, 2, z0, true),
    );
    // dPT[s', s] = sum_j V[s', j] dO^T[j, s]
    const dpt = r.empty([nz, Sp, Sp]);
    matmul(
      p.profile,
      { Z: nz, M: S, N: Sp, K: c },
      1,
      pixelRows(p, v, z0),
      outRows(p, gOP, z0),
      weightOut(p, dpt),
    );
    const dst = softmaxAxisBackward(pt, dpt, nz, Sp, Sp, S);
    dpt.release();
    // dQ^T[j, s] = sum_s' K^T[j, s'] dST[s', s] / sqrt(c)
    matmul(
      p.profile,
      { Z: nz, M: c, N: Sp, K: Sp },
      scale,
      roleRows(p, 1, z0),
      weightRows(p, dst),
      roleOut(p, gX, 0, z0, false),
    );
    // dK[s', j] = sum_s dST[s', s] Q[s, j] / sqrt(c)
    matmul(
      p.profile,
      { Z: nz, M: S, N: c, K: Sp },
      scale,
      weightRows(p, dst),
      pixelRows(p, q, z0),
      roleOut(p, gX, 1, z0, true),
    );
    dst.release();
  });
  for (const t of [dO, q, v]) t.release();
  if (!padded) return gX;
  gOP.release();
  const gqkv = repadPixels(gX, [B, 3 * C, g.H, g.W], Sp, S);
  gX.release();
  return gqkv;
}
