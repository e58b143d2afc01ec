/**
 * The convolution's weight gradient: sum over pixels of dy x the (resampled) input, as partial sums over
 * chunks of pixels (kernels/conv2d_k3.wgsl, conv2d_k1.wgsl, conv2d_gpu.wgsl) and one summing pass
 * (kernels/conv2d.wgsl:grad_weight_reduce).
 */
import { IMAGE_SHIFT } from "../gpu/image.ts";
import { rt } from "../gpu/runtime.ts";
import type { KernelProfile } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type Grid, gridRows, isPlain, K, roundUp } from "./conv2d_kernels.ts";

/** Grad-weight partial sums are limited to this many floats (64 MiB) by using fewer chunks. */
const PARTIAL_BUDGET = 1 << 24;
/** Aim for about this many threads in a grad-weight pass (more chunks cost a longer reduction). */
const GRAD_WEIGHT_THREADS_CPU = 512;
const GRAD_WEIGHT_WORKGROUPS_GPU = 256;
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Partial sums of a grad-weight pass: [chunks, Cin, taps, coPad], output channel fastest. */
interface Partials {
  part: Tensor;
  chunks: number;
  coPad: number;
}

/** d loss / d weight [Cout, Cin, k, k]: sum over pixels of gy x the grid read from x, in chunks. */
export function gradWeight(
  profile: KernelProfile,
  k: number,
  x: Tensor,
  gy: Tensor,
  Cout: number,
  grid: Grid,
): Tensor {
  const r = rt();
  const [, Cin] = x.shape;
  const taps = k * k;
  return r.scope(() => {
    const { part, chunks, coPad } = profile === "gpu"
      ? partialsGpu(k, x, gy, Cout, grid)
      : k === 3
      ? partials3(x, gy, Cout, grid)
      : partials1(x, gy, Cout, grid);
    const gw = r.empty([Cout, Cin, k, k]);
    K.gradWeightReduce.run(
      { Cout, Cin, taps, pad: coPad, chunks },
      { src4: part, dst: gw },
      [Math.ceil(Cout / 256), gridRows(Cin * taps), 1],
    );
    return gw;
  });
}

function weightGradCommon(x: Tensor, Cout: number, grid: Grid) {
  const [B, Cin, Hin, Win] = x.shape;
  return { B, Cin, Cout, Hin, Win, Hc: grid.Hc, Wc: grid.Wc };
}

function partialsGpu(k: number, x: Tensor, gy: Tensor, Cout: number, grid: Grid): Partials {
  const r = rt();
  const common = weightGradCommon(x, Cout, grid);
  const { B, Cin } = common;
  const taps = k * k;
  const coPad = roundUp(Cout, 4); // grad_weight_reduce reads vec4s of output channels
  const total = B * grid.Hc * grid.Wc;
  const blocks = Math.ceil(Cout / 16) * Math.ceil((Cin * taps) / 16);
  const wanted = chunkCount(GRAD_WEIGHT_WORKGROUPS_GPU, blocks, Math.ceil(total / 256), Cin * taps * coPad);
  const pixelsPerChunk = roundUp(Math.ceil(total / wanted), 16);
  const chunks = Math.ceil(total / pixelsPerChunk);
  const part = r.empty([chunks, Cin, taps, coPad]);
  const params = {
    ...common,
    k,
    up: grid.up,
    down: grid.down,
    coPad,
    inScale: grid.inScale,
    chunks,
    pixelsPerChunk,
  };
  const groups: [number, number, number] = [Math.ceil(Cout / 16), Math.ceil((Cin * taps) / 16), chunks];
  K.gpuGradWeight.run(params, { x, dy: gy, part }, groups);
  return { part, chunks, coPad };
}

function partials3(x: Tensor, gy: Tensor, Cout: number, grid: Grid): Partials {
  const r = rt();
  const common = weightGradCommon(x, Cout, grid);
  const { B, Cin } = common;
  if (grid.down) throw new Error("conv2d: internal error, the 3x3 cpu kernels read no pooled grid");
  // 16 output channels per thread halve the loads per FMA (8 for narrower layers)
  const co16 = Cout > 8;
  const coBlock = co16 ? 16 : 8;
  const coPad = roundUp(Cout, coBlock);
  const tilesX = Math.ceil(grid.Wc / 8);
  const tilesY = Math.ceil(grid.Hc / 2);
  const ciBlock = 4;
  const blocks = (coPad / coBlock) * Math.ceil(Cin / ciBlock);
  // chunks of tile rows within one image (a thread carries input rows from one tile down to the next);
  // lanes run over the B x perImage chunks: a multiple of 8 keeps every lane busy
  const perImage = chunkCount(
    GRAD_WEIGHT_THREADS_CPU / B,
    blocks,
    tilesY,
    B * Cin * 9 * coPad,
    8 / gcd(B, 8),
  );
  const rowsPerChunk = Math.ceil(tilesY / perImage);
  const chunks = B * Math.ceil(tilesY / rowsPerChunk);
  const part = r.empty([chunks, Cin, 9, coPad]);
  const params = {
    ...common,
    tilesX,
    tilesY,
    up: grid.up,
    down: grid.down,
    coPad,
    inScale: grid.inScale,
    chunks,
    rowsPerChunk,
    CinTotal: Cin,
  };
  const vec4 = isPlain(grid, common.Hin, common.Win) && common.Win % 4 === 0;
  const dy4 = grid.Wc % 4 === 0;
  const kernel = K.conv3GradWeight.with({ CO16: co16, VEC4: vec4, DY4: dy4 });
  const groups: [number, number, number] = [Math.ceil(chunks / 8), coPad / coBlock, Math.ceil(Cin / ciBlock)];
  kernel.run(params, { x, dy: gy, part, x4: x, dy4v: gy }, groups);
  return { part, chunks, coPad };
}

function partials1(x: Tensor, gy: Tensor, Cout: number, grid: Grid): Partials {
  const r = rt();
  const common = weightGradCommon(x, Cout, grid);
  const { B, Cin, Hin, Win } = common;
  const pool = grid.down;
  const coPad = roundUp(Cout, 16);
  const plane = grid.Hc * grid.Wc;
  const groups8 = Math.ceil(plane / 8);
  // pooled reads: 4 input channels per thread (their four loads per value double the code), else 16
  // (WIDE: 1.07-1.12x over 8)
  const wide = !pool;
  const ciBlock = pool ? 4 : wide ? 16 : 8;
  const blocks = (coPad / 16) * Math.ceil(Cin / ciBlock);
  // lanes run over the B x perImage chunks: a multiple of 8 keeps every lane busy
  const perImage = chunkCount(GRAD_WEIGHT_THREADS_CPU / B, blocks, groups8, B * Cin * coPad, 8 / gcd(B, 8));
  const groupsPerChunk = Math.ceil(groups8 / perImage);
  const chunksPerImage = Math.ceil(groups8 / groupsPerChunk);
  const chunks = B * chunksPerImage;
  const part = r.empty([chunks, Cin, 1, coPad]);
  const params = {
    ...common,
    plane,
    up: grid.up,
    down: grid.down,
    coPad,
    inScale: grid.inScale,
    chunksPerImage,
    groupsPerChunk,
  };
  const vec4 = isPlain(grid, Hin, Win) && plane % 4 === 0 ? 1 : 0;
  // x and dy through images (src/gpu/image.ts, copied here): the 1x1 forward and backward together
  // 1.1-1.2x at batch 8, 64-128 channels
  const xi = r.useImages && vec4 && r.imageable(x) ? r.imageOf(x) : null;
  const di = r.useImages && vec4 && r.imageable(gy) ? r.imageOf(gy) : null;
  const kernel = K.conv1GradWeight.with({
    POOL: pool,
    HALF: pool,
    VEC4: vec4,
    WIDE: wide,
    IMG: xi !== null,
    IMGD: di !== null,
    IMG_SHIFT: IMAGE_SHIFT,
  });
  const groups: [number, number, number] = [Math.ceil(chunks / 8), coPad / 16, Math.ceil(Cin / ciBlock)];
  kernel.run(params, { x, dy: gy, part, x4: x, dy4: gy, xi: xi?.view, di: di?.view }, groups);
  xi?.release();
  di?.release();
  return { part, chunks, coPad };
}

/**
 * Number of chunks to split a pixel reduction into: enough that `blocks` x chunks reaches `target`
 * parallel units, at most `maxChunks` (before rounding up to a multiple of `multiple`), and no more
 * than the partial-sum budget allows.
 */
function chunkCount(target: number, blocks: number, maxChunks: number, floatsPerChunk: number, multiple = 1) {
  const wanted = roundUp(Math.min(Math.ceil(target / blocks), maxChunks), multiple);
  return Math.max(1, Math.min(wanted, Math.floor(PARTIAL_BUDGET / floatsPerChunk)));
}
