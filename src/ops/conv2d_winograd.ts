/**
 * The plain 3x3 convolution (stride 1, zero padding 1) through Winograd F(4x4, 3x3), for the "cpu"
 * kernel family (kernels/conv2d_wino.wgsl): 36 multiplies per output tile and channel pair instead of
 * 144. Three passes around the library's matmul: the input tiles' transform, 36 products
 * U[pos] (M x K) V[pos] (K x tiles), and the output transform with the convolution's bias, scale and
 * residual. The weights' transform U is made once per weight version (`Runtime.derived`).
 *
 * On a CPU rasteriser the direct kernel reuses each loaded value more (see kernels/README.md), so this
 * pays only where the products are large: {@link winogradPays} decides from the channel counts.
 */
import { rt } from "../gpu/runtime.ts";
import { declareKernel } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type MatmulDims, matmulInto, type MatrixLayout, readsImageB } from "./matmul.ts";
import { K, roundUp } from "./conv2d_kernels.ts";
import type { GroupNormOnRead } from "./groupnorm.ts";
import { fitsImage, Image, IMAGE_SHIFT } from "../gpu/image.ts";

// deno-fmt-ignore: one line per 16-byte group of the WGSL Params struct
const PARAMS = {
  B: "u32", Cin: "u32", Cout: "u32", H: "u32",
  W: "u32", tilesY: "u32", tilesX: "u32", N: "u32",
  Cpad: "u32", hasBias: "u32", outScale: "f32", resScale: "f32",
  rowsPer: "u32", cpg: "u32",
} as const;
const kernel = (entry: string, bindings: string[]) =>
  declareKernel({ file: "conv2d_wino", entry, params: PARAMS, bindings });
const WEIGHTS = kernel("wino_weights", ["w", "u"]);
const INPUT = kernel("wino_input", ["x", "v4", "x4", "nstats", "ngamma", "nbeta"]);
const INPUT_T = kernel("wino_input_t", ["x", "v4"]);
const OUTPUT = kernel("wino_output", ["m4", "bias", "res", "y", "res4", "y4"]);
const OUTPUT_T = kernel("wino_output_t", ["m4", "bias", "res", "y", "res4", "y4"]);
const GRAD_OUTPUT = kernel("wino_grad_output", ["dy", "v4"]);
const GRAD_WEIGHTS = kernel("wino_grad_weights", ["du4", "dw"]);

/** Positions of the transformed 6x6 tile: the number of matrix products. */
const POSITIONS = 36;
/** Largest temporary (each of V and M) in floats: beyond it the direct kernel runs (no extra memory). */
const MAX_TEMP_FLOATS = 64 * 1024 * 1024;
/**
 * Where Winograd pays on llvmpipe, measured at batch 8 unless said: the products must be long and tall
 * enough to outweigh the two extra passes over memory, and their columns must fill matmul_rb's 128-column
 * blocks. Channel-major products (columns = tiles) need 128 tiles: 64 channels at 64x64: 1.23x (32
 * channels: 0.94x); 128 channels at 32x32 / 16x16: 1.56x / 1.62x; 64 tiles: 0.98x. Below 128 tiles the
 * products take the tiles as rows and the output channels as columns (`T_MAJOR`), which needs 128 of
 * them: 128 channels at batch 1, 32x32 (64 tiles) 1.67x, 16x16 1.33x; 64 channels: 0.84x.
 * Since the products read images (src/gpu/image.ts), 32 channels pay too: forward / forward+backward 1.14x /
 * 1.2x at batch 16, 32x48 (ERA5's recipe), 1.03x / 1.22x at batch 1, 64x64, 1.1x / 1.2x at 128 tiles
 * (batch 2, 32x32); 16 channels do not (0.78x at batch 8, 128x128).
 */
const MIN_CHANNELS = 32;
/** Fewest tiles for channel-major products; below, the products are tile-major. */
const TILE_MAJOR_BELOW = 128;
/** Tile-major products: fewest output channels (the columns) and tiles. */
const TILE_MAJOR_MIN_CHANNELS = 128;
const TILE_MAJOR_MIN_TILES = 16;

/** Whether the Winograd path pays, and fits, for K input and M output channels on B images of H x W. */
export function winogradPays(B: number, K: number, M: number, H: number, W: number): boolean {
  if (K < MIN_CHANNELS || M < MIN_CHANNELS || !winogradFits(B, K, M, H, W)) return false;
  const N = tileCount(B, H, W);
  if (N >= TILE_MAJOR_BELOW) return true;
  return M >= TILE_MAJOR_MIN_CHANNELS && N >= TILE_MAJOR_MIN_TILES;
}

/**
 * Whether the weight gradient pays through Winograd: 64 or more channels each way, and 128 or more tiles
 * or 128 output channels (measured at batch 8: 1.25-1.42x with 64 output channels, 1.36-1.9x with 128;
 * at batch 1 with 64 channels, 1.03x at 32x32 (64 tiles) and 0.87x at 16x16; with 128, 1.55x at 32x32;
 * the products have been 1.04-1.15x faster since).
 */
export function winogradGradPays(B: number, K: number, M: number, H: number, W: number): boolean {
  if (K < MIN_CHANNELS || M < MIN_CHANNELS || !winogradFits(B, K, M, H, W)) return false;
  return tileCount(B, H, W) >= TILE_MAJOR_BELOW || M >= GRAD_FEW_TILES_MIN_CHANNELS;
}

/** Below 128 tiles, the weight gradient pays through Winograd from this many output channels. */
const GRAD_FEW_TILES_MIN_CHANNELS = 128;

/** Tiles of the products' N dimension: 4x4 output tiles, rows of tiles padded to a multiple of 4. */
function tileCount(B: number, H: number, W: number): number {
  return B * Math.ceil(H / 4) * roundUp(Math.ceil(W / 4), 4);
}

/**
 * Whether the transformed weights and tiles fit one binding of this adapter (and the temporaries' bound):
 * beyond that (large images) the direct kernel runs, which needs no extra memory.
 */
export function winogradFits(B: number, K: number, M: number, H: number, W: number): boolean {
  const limit = Math.min(MAX_TEMP_FLOATS, rt().maxBindingElements);
  const N = tileCount(B, H, W);
  // V, V^T and M or E, the input channels and the output channels padded to 16
  return POSITIONS * N * roundUp(Math.max(K, M), 16) <= limit &&
    POSITIONS * roundUp(M, 16) * roundUp(K, 16) <= limit;
}

/** A plain 3x3 convolution for {@link winogradConv3}. */
export interface WinogradCall {
  /** Input [B, K, H, W]. */
  x: Tensor;
  /** [M, K, 3, 3], or with `transposed` [K, M, 3, 3] read as w[k][m] flipped (the input gradient). */
  weight: Tensor;
  /** Read the weight transposed and flipped. */
  transposed: boolean;
  /** [M], [B, M] (one per sample) or null. */
  bias: Tensor | null;
  /** y = scale * (conv + bias + add): see `Conv2dOptions.residual`. */
  residual?: { add: Tensor; scale: number } | null;
  /** y = outScale * (conv + bias) where there is no residual (default 1). */
  outScale?: number;
  /** Products with the tiles as rows; default: below 128 tiles. Tests force both. */
  tileMajor?: boolean;
  /** Convolve x nearest-up-sampled 2x (the output is [B, M, 2H, 2W]), read through. */
  up?: boolean;
  /** Convolve GroupNorm(x) (+SiLU), normalised as the input transform reads x. */
  normalize?: WinogradNormalize;
}

/** A GroupNorm applied to Winograd's input as it is read, with its `stats` from `groupNormStatistics`. */
export type WinogradNormalize = GroupNormOnRead & { stats: Tensor };

/**
 * The kernels' parameters for K input and M output channels on x [B, K, h, w] (up: read 2x up-sampled),
 * with the channel padding `Cpad` of the caller's layouts.
 */
function shapeParams(x: Tensor, M: number, Cpad: number, up = false) {
  const [B, K, h, w] = x.shape;
  const [H, W] = up ? [2 * h, 2 * w] : [h, w];
  const tilesY = Math.ceil(H / 4);
  const tilesX = roundUp(Math.ceil(W / 4), 4);
  const N = B * tilesY * tilesX;
  return {
    B,
    Cin: K,
    Cout: M,
    H,
    W,
    tilesY,
    tilesX,
    N,
    Cpad,
    hasBias: 0,
    outScale: 1,
    resScale: 0,
    rowsPer: 1,
    cpg: 1,
  };
}

/** V[pos][k][t]: the input tiles' transform, for the products (a scope's temporary). */
function inputTransform(
  x: Tensor,
  params: ReturnType<typeof shapeParams>,
  up = false,
  norm?: WinogradNormalize,
): Tensor {
  const r = rt();
  const v = r.empty([POSITIONS, params.Cin, params.N]);
  const { B, tilesX, tilesY } = params;
  // Each thread walks down a run of tile rows of a column of 4 tiles (wino_input: 1.2-1.4x over a tile
  // row each, with ROW4): the whole column, unless the columns would not fill a workgroup's 8 lanes.
  const quads = (B * tilesX) / 4;
  const rowsPer = Math.ceil(tilesY / Math.min(tilesY, Math.ceil(8 / quads)));
  const threads = quads * Math.ceil(tilesY / rowsPer);
  const ROW4 = !up && params.W % 16 === 0;
  const NORM = norm !== undefined, NSILU = norm?.opts.silu ?? false;
  const cpg = norm ? params.Cin / norm.opts.groups : 1;
  // without NORM the GroupNorm bindings are stand-ins the pipeline never reads
  const n = { nstats: norm?.stats ?? x, ngamma: norm?.gamma ?? x, nbeta: norm?.beta ?? x };
  INPUT.with({ UP: up, ROW4, NORM, NSILU }).run({ ...params, rowsPer, cpg }, { x, v4: v, x4: x, ...n }, [
    ...r.grid(threads, 8),
    params.Cin,
  ]);
  return v;
}

/** y [B, M, H, W] = the convolution of `c.x` with `c.weight` (+ bias, residual), in one scope. */
export function winogradConv3(c: WinogradCall): Tensor {
  const r = rt();
  const M = c.transposed ? c.weight.shape[1] : c.weight.shape[0];
  const res = c.residual ?? null;
  const Cpad = roundUp(M, 16); // the 1x1 kernel's 16-channel blocks
  const shape = shapeParams(c.x, M, Cpad, c.up);
  const { B, Cin: K, H, W, N } = shape;
  // Few tiles: products with the tiles as rows (16 a block) and the channels as columns (128 a block).
  const tMajor = c.tileMajor ?? N < TILE_MAJOR_BELOW;
  const params = {
    ...shape,
    hasBias: c.bias ? c.bias.shape.length : 0,
    outScale: res?.scale ?? c.outScale ?? 1,
    resScale: res?.scale ?? 0,
  };
  return r.scope(() => {
    // U^T[pos][k][m], made once per weight version. Where the runtime uses images (src/gpu/image.ts), the
    // products read it through one, which is then all there is of U, and the channel-major ones read V
    // through one too (copied per call): 1.1-1.2x for the whole convolution at batch 8. Tile-major
    // products that go through one of matmul's kernels for small products read U's tensor instead.
    const transform = () => {
      const u = r.empty([POSITIONS, K, Cpad]);
      WEIGHTS.with({ TRANSPOSED: c.transposed }).run(params, { w: c.weight, u }, [
        Math.ceil(Cpad / 64),
        K,
        1,
      ]);
      return u;
    };
    const readsImage = () => {
      const [dims, a, b] = tileMajorLayout(params);
      return readsImageB(dims, a, b);
    };
    const asImage = r.useImages && fitsImage(POSITIONS * K * Cpad, 0, r.images.maxRows) &&
      (!tMajor || readsImage());
    const u: Tensor | Image = asImage
      ? r.derived(c.weight, `winograd ${c.transposed} image`, () => {
        const t = transform();
        const img = r.imageOf(t);
        t.release(); // the copy, recorded before any later use of the buffer, reads it first
        return img;
      })
      : r.derived(c.weight, `winograd ${c.transposed}`, transform);
    const v = inputTransform(c.x, params, c.up, c.normalize);
    const m = r.empty(tMajor ? [POSITIONS, N, Cpad] : [POSITIONS, M, N]);
    r.tagged(
      "winograd",
      () => tMajor ? tileMajorProducts(u, v, m, params) : channelMajorProducts(u, v, m, params, true),
    );
    const y = r.empty([B, M, H, W]);
    const add = res?.add ?? m; // bound either way, read only with RESIDUAL
    const bindings = { m4: m, bias: c.bias ?? m, res: add, y, res4: add, y4: y };
    const overrides = { RESIDUAL: res !== null, Y4: W % 4 === 0 };
    if (tMajor) OUTPUT_T.with(overrides).run(params, bindings, [...r.grid(N, 8), Cpad / 4]);
    else OUTPUT.with(overrides).run(params, bindings, [...r.grid(N / 4, 8), M]);
    return y;
  });
}

type Params = ReturnType<typeof shapeParams>;

/**
 * M[pos][m][t] = U[pos] V[pos] through the 1x1 convolution's kernel, the positions as its images (each
 * with its own weights, `wz` apart): its register block (16 channels x 32 tiles, four input channels a
 * visit) made the batch-8 forward 1.08x faster than matmul_rb did. `u`: the weights as a tensor or an
 * image; `vImage`: read V through an image copied here, where the runtime uses images.
 */
function channelMajorProducts(
  u: Tensor | Image,
  v: Tensor,
  m: Tensor,
  p: Pick<Params, "Cin" | "Cout" | "N" | "Cpad">,
  vImage = false,
): void {
  const r = rt();
  const vi = vImage && r.useImages && r.imageable(v) ? r.imageOf(v) : null; // released after the dispatch
  // U as an image: `wt` is bound to a stand-in the IMGW pipeline never reads
  const [wt, wi] = u instanceof Image ? [v, u.view] : [u, undefined];
  const tiles = Math.ceil(p.N / 32);
  const [gx, gz] = r.grid(Math.ceil((POSITIONS * tiles) / 8) * (p.Cpad / 16), 1);
  const params = {
    B: POSITIONS,
    Cin: p.Cin,
    Cout: p.Cout,
    Hin: 1,
    Win: p.N,
    Hc: 1,
    Wc: p.N,
    plane: p.N,
    tiles,
    coPad: p.Cpad,
    inScale: 1,
    wz: (p.Cin * p.Cpad) / 4,
  };
  const IMG = vi !== null, IMGW = wi !== undefined;
  K.conv1Forward.with({ VEC4: true, CI4: true, Y4: true, IMG, IMGW, IMG_SHIFT: IMAGE_SHIFT }).run(
    params,
    { x: v, wt, bias: wt, y: m, x4: v, y4: m, xi: vi?.view, wi },
    [gx, 1, gz],
  );
  vi?.release();
}

/** M^T[pos][t][m] = V[pos]^T U^T[pos] (matmul_rb with A's columns as V's rows): few tiles, many channels. */
function tileMajorProducts(u: Tensor | Image, v: Tensor, m: Tensor, p: Params): void {
  const [dims, a, b, c] = tileMajorLayout(p);
  // U as an image: B's tensor is a stand-in (v) that the register-blocked kernel, reading the image, never
  // reads (the caller checked with readsImageB that the product runs through it)
  const [bt, bImage] = u instanceof Image ? [v, u] : [u, null];
  matmulInto(dims, { ...a, t: v }, { ...b, t: bt }, { ...c, t: m }, { bImage });
}

/** The dimensions and operand layouts (V, U, M) of {@link tileMajorProducts}. */
function tileMajorLayout(p: Params): [MatmulDims, MatrixLayout, MatrixLayout, MatrixLayout] {
  const { Cin: K, N, Cpad } = p;
  return [
    { Z: POSITIONS, M: N, N: Cpad, K },
    { zs: K * N, is: 1, js: N },
    { zs: K * Cpad, is: Cpad, js: 1 },
    { zs: N * Cpad, is: Cpad, js: 1 },
  ];
}

/**
 * d loss / d weight [M, K, 3, 3] of the plain 3x3 convolution of x [B, K, H, W] (up: of x up-sampled 2x)
 * from gy [B, M, H, W] (or [B, M, 2H, 2W]),
 * through the same transforms: dU[pos] = E[pos] V[pos]^T with E = A gy A^T per output tile, then
 * dw = G^T dU G (the adjoint of the forward's products and transforms).
 */
export function winogradGradWeight(x: Tensor, gy: Tensor, up = false): Tensor {
  const r = rt();
  const M = gy.shape[1];
  const Mpad = roundUp(M, 4);
  const params = shapeParams(x, M, Mpad, up); // the padded channels: here the output's
  const { Cin: K, N } = params;
  return r.scope(() => {
    // dU^T[pos][k][m] = sum_t V^T[pos][t][k] E[pos][t][m]: the 1x1 forward kernel with the tiles as its
    // input channels, V^T as its weights and the output channels as its pixels (1.04-1.15x over
    // matmul_rb or the 1x1 weight-gradient kernel, which needed no V^T, at batch 8 and 1)
    const Kpad = roundUp(K, 16);
    const e = r.empty([POSITIONS, N, Mpad]);
    GRAD_OUTPUT.run(params, { dy: gy, v4: e }, [Math.ceil(Mpad / 32), ...r.grid(N, 1)]);
    const vt = r.empty([POSITIONS, N, Kpad]);
    INPUT_T.with({ UP: up }).run({ ...params, Cpad: Kpad }, { x, v4: vt }, [
      Math.ceil(Kpad / 32),
      ...r.grid(N, 1),
    ]);
    const du = r.empty([POSITIONS, K, Mpad]);
    // E through an image: 1.05-1.2x for the whole weight gradient at batch 8 (V^T's, copied per call too,
    // paid at 128 channels and lost at 64)
    r.tagged(
      "winograd",
      () => channelMajorProducts(vt, e, du, { Cin: N, Cout: K, N: Mpad, Cpad: Kpad }, true),
    );
    const dw = r.empty([M, K, 3, 3]);
    GRAD_WEIGHTS.run(params, { du4: du, dw }, [Math.ceil(K / 64), Mpad / 4, 1]);
    return dw;
  });
}
