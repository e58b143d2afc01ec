/**
 * Batched strided matrix products (kernels/matmul.wgsl): the one matmul of the library, used by the
 * Linear layer (forward and both gradients) and by attention (scores, weighted values and their
 * gradients).
 *
 * {@link matmulInto} records C[z] = alpha A[z] B[z] (+ bias) into views of existing tensors, with
 * any offsets and strides; the kernel comes from the adapter's profile ("gpu": workgroup tiles;
 * "cpu": register blocking where the operands' layout allows it, vec4 dot products where both run
 * along k, one output per thread otherwise). {@link matmul} is the differentiable op on whole
 * [Z, M, K] x [Z, K, N] tensors.
 */
import type { KernelProfile } from "../gpu/device.ts";
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { declareKernel } from "../gpu/kernel.ts";
import { defineOp } from "../gpu/op.ts";
import { type Image, IMAGE_SHIFT } from "../gpu/image.ts";

// deno-fmt-ignore: one line per 16-byte group of the WGSL Params struct
const PARAMS = {
  M: "u32", N: "u32", K: "u32", alpha: "f32",
  a_off: "u32", a_z: "u32", a_m: "u32", a_k: "u32",
  b_off: "u32", b_z: "u32", b_k: "u32", b_n: "u32",
  c_off: "u32", c_z: "u32", c_m: "u32", c_n: "u32",
  has_bias: "u32",
} as const;
const kernel = (entry: string, bindings: string[]) =>
  declareKernel({ file: "matmul", entry, params: PARAMS, bindings });
// Register-blocked and narrow products store vec4s and take no bias.
const RB = kernel("matmul_rb", ["a4", "b4", "c4", "bi"]);
const RB_COLS = RB.with({ A_COLS: true });
const NARROW = kernel("matmul_narrow", ["a", "b4", "c4"]);
const DOT = kernel("matmul_dot", ["a4", "b4", "bias", "c"]);
const STRIDED = kernel("matmul_strided", ["a", "b", "bias", "c"]);
const TILED = kernel("matmul_tiled", ["a", "b", "bias", "c"]);

/**
 * A batch of matrices stored in a tensor, in float32 elements: M[z][i, j] = t[off + z*zs + i*is + j*js].
 */
export interface MatrixView {
  /** The tensor holding the matrices. */
  t: Tensor;
  /** First element of matrix 0 (default 0). */
  off?: number;
  /** Distance between matrices (default 0: the same matrix for every z). */
  zs?: number;
  /** Distance between rows. */
  is: number;
  /** Distance between columns. */
  js: number;
}

/** A {@link MatrixView}'s layout without its tensor. */
export type MatrixLayout = Omit<MatrixView, "t">;

/** Sizes of C[z][m, n] = sum_k A[z][m, k] B[z][k, n]: Z matrices (default 1) of M x N, reduction K. */
export interface MatmulDims {
  /** Number of matrices in the batch (default 1). */
  Z?: number;
  /** Rows of A and C. */
  M: number;
  /** Columns of B and C. */
  N: number;
  /** Columns of A, rows of B (the reduction length). */
  K: number;
}

/** Options of {@link matmulInto}. */
export interface MatmulOptions {
  /** Scale of the product (default 1), applied before the bias. */
  alpha?: number;
  /** bias[n] added to every row (N values), or null (with a bias, the "cpu" profile never register-blocks). */
  bias?: Tensor | null;
  /** Kernel family; default: the adapter's profile. */
  profile?: KernelProfile;
  /**
   * A's rows (contiguous along k) may be read up to K rounded up to 4 and hold 0 there (zero-padded rows):
   * lets the register-blocked kernel take a K that is not a multiple of 4.
   */
  aZeroTail?: boolean;
  /**
   * An image of B's tensor (src/gpu/image.ts, e.g. a derived weight's): the register-blocked kernel reads B
   * through it (2.5x cheaper loads on llvmpipe); other kernels ignore it.
   */
  bImage?: Image | null;
}

const vec4 = (...vs: number[]) => vs.every((v) => v % 4 === 0);

/** The entry point for a product on the "cpu" profile (see kernels/matmul.wgsl for each one's layout). */
function cpuKernel(
  d: Required<MatmulDims>,
  a: Required<MatrixLayout>,
  b: Required<MatrixLayout>,
  o: MatmulOptions,
) {
  const bRows = !o.bias && b.js === 1 && vec4(b.off, b.zs, b.is);
  // Small narrow products (the Linear gradients of small layers) leave most of matmul_rb's 16x128
  // blocks empty; a larger product amortises them.
  if (bRows && d.N < 64 && d.Z * d.M * d.N * d.K <= 1 << 17) return NARROW;
  if (bRows && a.js === 1 && vec4(a.off, a.zs, a.is) && (d.K % 4 === 0 || o.aZeroTail)) return RB;
  if (bRows && a.is === 1 && vec4(a.off, a.zs, a.js)) return RB_COLS;
  if (a.js === 1 && b.is === 1 && vec4(a.off, a.zs, a.is, b.off, b.zs, b.js, d.K)) return DOT;
  return STRIDED;
}

/**
 * Whether {@link matmulInto} would run this product through the register-blocked kernel on the "cpu"
 * profile, the one that reads `bImage`: then B's tensor may be a stand-in that is never read.
 */
export function readsImageB(
  dims: MatmulDims,
  a: MatrixLayout,
  b: MatrixLayout,
  options: MatmulOptions = {},
): boolean {
  const full = (v: MatrixLayout) => ({ off: 0, zs: 0, ...v });
  const k = cpuKernel({ Z: 1, ...dims }, full(a), full(b), options);
  return (options.profile ?? rt().gpu.profile) === "cpu" && (k === RB || k === RB_COLS);
}

/**
 * Records C[z][m, n] = alpha * sum_k A[z][m, k] B[z][k, n] (+ bias[n]) into `c` for z < Z, m < M, n < N.
 * Not differentiable (no tape): ops call it from their forward and backward.
 */
export function matmulInto(
  dims: MatmulDims,
  a: MatrixView,
  b: MatrixView,
  c: MatrixView,
  options: MatmulOptions = {},
): void {
  const d = { Z: 1, ...dims };
  const full = (v: MatrixView) => ({ off: 0, zs: 0, ...v });
  const [A, B, C] = [full(a), full(b), full(c)];
  if (d.Z === 0 || d.M === 0 || d.N === 0) return;
  const params = {
    M: d.M,
    N: d.N,
    K: d.K,
    alpha: options.alpha ?? 1,
    a_off: A.off,
    a_z: A.zs,
    a_m: A.is,
    a_k: A.js,
    b_off: B.off,
    b_z: B.zs,
    b_k: B.is,
    b_n: B.js,
    c_off: C.off,
    c_z: C.zs,
    c_m: C.is,
    c_n: C.js,
    has_bias: options.bias ? 1 : 0,
  };
  const profile = options.profile ?? rt().gpu.profile;
  // A bias-free call binds A in the bias slot: the binding is there, its reads are skipped.
  const bias = options.bias ?? A.t;
  if (profile === "gpu") {
    TILED.run(params, { a: A.t, b: B.t, bias, c: C.t }, [Math.ceil(d.N / 64), Math.ceil(d.M / 64), d.Z]);
    return;
  }
  const k = cpuKernel(d, A, B, options);
  const c4 = C.js === 1 && (C.off | C.zs | C.is) % 4 === 0 && d.N % 4 === 0;
  if (k === RB || k === RB_COLS) {
    const bi = options.bImage?.view;
    k.with({ C4: c4, IMGB: !!bi, IMG_SHIFT: IMAGE_SHIFT }).run(params, { a4: A.t, b4: B.t, c4: C.t, bi }, [
      Math.ceil(d.N / 128),
      Math.ceil(d.M / 16),
      d.Z,
    ]);
  } else if (k === NARROW) {
    k.with({ C4: c4 }).run(params, { a: A.t, b4: B.t, c4: C.t }, [
      ...k.grid(Math.ceil(d.M / 4) * Math.ceil(d.N / 4)),
      d.Z,
    ]);
  } else if (k === DOT) {
    k.run(params, { a4: A.t, b4: B.t, bias, c: C.t }, [...k.grid(Math.ceil(d.M / 4) * d.N), d.Z]);
  } else {
    k.run(params, { a: A.t, b: B.t, bias, c: C.t }, [...k.grid(d.M * d.N), d.Z]);
  }
}

/** Which operands a {@link matmul} reads transposed. */
export interface MatmulTranspose {
  /** a is [Z, K, M] (or [K, M]) and A = a^T. */
  transA?: boolean;
  /** b is [Z, N, K] (or [N, K]) and B = b^T. */
  transB?: boolean;
}

/** Rows, columns and the matrix view of a [Z, r, c] or [r, c] tensor, read transposed or not. */
function operand(t: Tensor, trans: boolean): { rows: number; cols: number; z: number; view: MatrixView } {
  const s = t.shape;
  if (s.length !== 2 && s.length !== 3) {
    throw new Error(`matmul: operands are [Z, r, c] or [r, c], got [${s}]`);
  }
  const [r, c] = s.slice(-2);
  const z = s.length === 3 ? s[0] : 1;
  const view = trans ? { t, zs: r * c, is: 1, js: c } : { t, zs: r * c, is: c, js: 1 };
  return trans ? { rows: c, cols: r, z, view } : { rows: r, cols: c, z, view };
}

const MATMUL = defineOp({
  name: "matmul",
  forward: ({ a, b }: { a: Tensor; b: Tensor }, t: Required<MatmulTranspose>) => {
    const A = operand(a, t.transA), B = operand(b, t.transB);
    if (A.cols !== B.rows || A.z !== B.z) {
      throw new Error(
        `matmul: [${a.shape}]${t.transA ? "^T" : ""} x [${b.shape}]${t.transB ? "^T" : ""} do not chain`,
      );
    }
    const shape = a.shape.length === 3 ? [A.z, A.rows, B.cols] : [A.rows, B.cols];
    const out = rt().empty(shape);
    const dims = { Z: A.z, M: A.rows, N: B.cols, K: A.cols };
    matmulInto(dims, A.view, B.view, { t: out, zs: A.rows * B.cols, is: B.cols, js: 1 });
    return out;
  },
  // dA = dC B^T, dB = A^T dC, each written in its operand's own orientation.
  backward: (g, { inputs: { a, b }, params: t, need }) => {
    const r = rt();
    const A = operand(a, t.transA), B = operand(b, t.transB);
    const [Z, M, N, K] = [A.z, A.rows, B.cols, A.cols];
    const G = { t: g, zs: M * N, is: N, js: 1 };
    const gT = { t: g, zs: M * N, is: 1, js: N };
    let da: Tensor | null = null, db: Tensor | null = null;
    if (need.a) {
      da = r.empty(a.shape);
      // a = A: da[m, k] = sum_n G[m, n] B[k, n]; a = A^T: da[k, m] = sum_n B[k, n] G^T[n, m].
      const bT = { ...B.view, is: B.view.js, js: B.view.is };
      if (t.transA) matmulInto({ Z, M: K, N: M, K: N }, B.view, gT, { t: da, zs: M * K, is: M, js: 1 });
      else matmulInto({ Z, M, N: K, K: N }, G, bT, { t: da, zs: M * K, is: K, js: 1 });
    }
    if (need.b) {
      db = r.empty(b.shape);
      // b = B: db[k, n] = sum_m A[m, k] G[m, n]; b = B^T: db[n, k] = sum_m G^T[n, m] A[m, k].
      const aT = { ...A.view, is: A.view.js, js: A.view.is };
      if (t.transB) matmulInto({ Z, M: N, N: K, K: M }, gT, A.view, { t: db, zs: N * K, is: K, js: 1 });
      else matmulInto({ Z, M: K, N, K: M }, aT, G, { t: db, zs: K * N, is: N, js: 1 });
    }
    return { a: da, b: db };
  },
});

/**
 * Batched matrix product a b of [Z, M, K] x [Z, K, N] tensors (or [M, K] x [K, N]), either read
 * transposed on request; differentiable in both.
 */
export function matmul(a: Tensor, b: Tensor, transpose: MatmulTranspose = {}): Tensor {
  return MATMUL({ a, b }, { transA: transpose.transA ?? false, transB: transpose.transB ?? false });
}
