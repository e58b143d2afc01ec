// 3x3 convolution (zero padding 1, stride 1) for the "cpu" kernel profile (llvmpipe, lavapipe),
// forward and grad-weight. Grad-input is `conv3_forward` run on dy with the flipped, transposed weights
// (see src/ops/conv2d.ts), so one register block serves both.
//
// Why it looks like this: on a software rasteriser every storage load is a loop over the 8 SIMD lanes
// (~13 cycles, whether or not the address is uniform) while an 8-wide FMA costs about one cycle. So
// each thread computes a large register block and every loaded value feeds many FMAs. Register arrays
// are indexed by constants only (helper functions called with literal arguments, never a loop): a
// dynamic index sends an array to scratch memory, which is 5x slower and compiles for minutes. The
// block size is a compromise with compile time (a few seconds per pipeline, roughly linear in the FMAs
// written out).
//
// Tensors are NCHW float32. The convolution runs on a "grid" (Hc x Wc) read from a tensor (Hin x Win):
//   plain:          grid = tensor
//   up   (up = 1):  grid (y, x) reads tensor (y >> 1, x >> 1)            (nearest 2x up-sampling)
// (A down-sampling convolution pools first, src/ops/pool.ts, and then runs plainly: pooled reads would
// cost four loads per value.)
// Output modes (conv3_forward, override STORE): 0 plain (+ bias), 1 sum of 2x2 grid pixels into one output
// pixel (adjoint of nearest-up), 2 spread of each grid pixel over a 2x2 output block (adjoint of pooling;
// outScale 0.25).
//
// conv3_forward: thread = 16 output channels x a tile of 4 rows x 8 columns of the grid.
//   wu: weights as vec4 over output channels, [ci][tap = ky*3+kx][4 quads], one uniform buffer per
//   16-channel block and chunk of input channels; later chunks add to y.
//   Accumulators acc[(t*2 + j)*16 + co] hold pixels (row t, columns 4j..4j+3) of channel co.
// conv3_grad_weight: thread = 8 (CO16: 16) output channels x 4 input channels x 9 taps, summed
//   over a chunk of grid rows of one image (tiles of 2 x 8 pixels); partial sums go to part[chunk][ci][tap][coPad/4]
//   (vec4 over output channels) and kernels/conv2d.wgsl:grad_weight_reduce adds the chunks.

struct Params {
  B: u32,
  Cin: u32,          // channels read
  Cout: u32,         // channels written (forward) / output channels of the weight (grad-weight)
  Hin: u32,
  Win: u32,
  Hc: u32,           // convolution grid
  Wc: u32,
  tilesX: u32,
  tilesY: u32,
  up: u32,
  down: u32,         // 0 here (kernels/lib/grid.wgsl reads it)
  coPad: u32,        // Cout rounded up to the channel block (weight / partial-sum stride)
  hasBias: u32,
  Ho: u32,           // output tensor
  Wo: u32,
  inScale: f32,      
  outScale: f32,     
  chunks: u32,       // grad-weight: number of row chunks (= threads along x)
  rowsPerChunk: u32, // grad-weight: tile rows (over B * tilesY) per chunk
  coBlock: u32,      // forward: the 16-channel block written by this dispatch
  ci0: u32,          // forward: first channel read by this dispatch (Cin channels from there)
  CinTotal: u32,     // forward: channels of the tensor read
  resScale: f32,     // forward, plain store: y = outScale * (conv + bias) + resScale * res (0: no res)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> part: array<vec4<f32>>;
// Forward weights of one 16-channel block and up to 113 input channels, [ci][tap][quad] (vec4 over 4
// output channels). A uniform buffer, not storage: llvmpipe reads it with a branch-free gather, 15-25%
// faster here than the per-lane loop of a storage read; its 64 KiB limit is why the input channels
// come in chunks (src/ops/conv2d.ts).
@group(0) @binding(7) var<uniform> wu: array<vec4<f32>, 4096>;
// A residual added in the store (a UNet block's skip), shaped like y.
@group(0) @binding(10) var<storage, read> res: array<f32>;
// Y4: y and res as vec4s (the same buffers), for plain stores into rows a multiple of 4 long: the
// accumulators already hold 4 columns each, stored with one vec4 store instead of four scalar ones.
@group(0) @binding(11) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read> res4: array<vec4<f32>>;
override Y4: bool = false;
// WSTORAGE: the weights of every block, [block][ci][tap][quad], read from storage instead, so that one
// dispatch covers all blocks (y = block) and channels.
@group(0) @binding(2) var<storage, read> wts: array<vec4<f32>>;
override WSTORAGE: bool = false;
// x and dy as vec4s (the same buffers), for rows whose length is a multiple of 4, x read plainly
// (VEC4) and dy (DY4, grad-weight): a vec4 load costs about 2.6 scalar ones here, so 8 columns cost
// 5.2 loads instead of 8.
@group(0) @binding(8) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read> dy4v: array<vec4<f32>>;
override VEC4: bool = false;
override DY4: bool = false;

// conv3_forward's store, fixed per pipeline: llvmpipe runs both sides of every branch (masked), so a
// mode chosen by a uniform would pay for the loads and stores of all of them.
override STORE: u32 = 0u;        // 0 plain, 1 sum of 2x2 grid pixels, 2 spread over 2x2 (see above)
override ACCUMULATE: bool = false;  // add to y (input-channel chunks after the first)
override RESIDUAL: bool = false;    // y = ... + resScale * res

// conv3_grad_weight: 16 output channels per thread instead of 8 (each input value loaded feeds twice
// the FMAs; for the plain and up-sampled reads, where the code size allows it).
override CO16: bool = false;

// ------------------------------------------------------------------ shared: reading the grid

#include "lib/grid.wgsl"

// ------------------------------------------------------------------ conv3_forward

alias FTile = array<f32, 60>;        // 6 rows x 10 columns of one input channel (with the halo)
alias FTaps = array<vec4<f32>, 36>;  // [tap][4 quads of output channels] of one input channel
alias FAcc = array<vec4<f32>, 128>;  // [row 4][column quad 2][channel 16], vec4 over 4 columns

struct FOffsets { row: array<u32, 6>, rowMask: array<f32, 6>, col: array<u32, 10>, colMask: array<f32, 10> }

fn xrow4(tile: ptr<function, FTile>, r: u32, c: u32) -> vec4<f32> {
  let i = r * 10u + c;
  return vec4<f32>((*tile)[i], (*tile)[i + 1u], (*tile)[i + 2u], (*tile)[i + 3u]);
}

// The 9 taps of output channel co at pixels (t, 4j..4j+3).
fn taps9(a: vec4<f32>, tile: ptr<function, FTile>, t: u32, j: u32, w: ptr<function, FTaps>, co: u32) -> vec4<f32> {
  let q = co / 4u;
  let e = co % 4u;
  let c = 4u * j;
  var s = a;
  s = fma(xrow4(tile, t, c), vec4<f32>((*w)[q][e]), s);
  s = fma(xrow4(tile, t, c + 1u), vec4<f32>((*w)[4u + q][e]), s);
  s = fma(xrow4(tile, t, c + 2u), vec4<f32>((*w)[8u + q][e]), s);
  s = fma(xrow4(tile, t + 1u, c), vec4<f32>((*w)[12u + q][e]), s);
  s = fma(xrow4(tile, t + 1u, c + 1u), vec4<f32>((*w)[16u + q][e]), s);
  s = fma(xrow4(tile, t + 1u, c + 2u), vec4<f32>((*w)[20u + q][e]), s);
  s = fma(xrow4(tile, t + 2u, c), vec4<f32>((*w)[24u + q][e]), s);
  s = fma(xrow4(tile, t + 2u, c + 1u), vec4<f32>((*w)[28u + q][e]), s);
  s = fma(xrow4(tile, t + 2u, c + 2u), vec4<f32>((*w)[32u + q][e]), s);
  return s;
}

// All 16 output channels at pixels (t, 4j..4j+3).
fn block16(acc: ptr<function, FAcc>, tile: ptr<function, FTile>, w: ptr<function, FTaps>, t: u32, j: u32) {
  let i = (t * 2u + j) * 16u;
  (*acc)[i] = taps9((*acc)[i], tile, t, j, w, 0u);
  (*acc)[i + 1u] = taps9((*acc)[i + 1u], tile, t, j, w, 1u);
  (*acc)[i + 2u] = taps9((*acc)[i + 2u], tile, t, j, w, 2u);
  (*acc)[i + 3u] = taps9((*acc)[i + 3u], tile, t, j, w, 3u);
  (*acc)[i + 4u] = taps9((*acc)[i + 4u], tile, t, j, w, 4u);
  (*acc)[i + 5u] = taps9((*acc)[i + 5u], tile, t, j, w, 5u);
  (*acc)[i + 6u] = taps9((*acc)[i + 6u], tile, t, j, w, 6u);
  (*acc)[i + 7u] = taps9((*acc)[i + 7u], tile, t, j, w, 7u);
  (*acc)[i + 8u] = taps9((*acc)[i + 8u], tile, t, j, w, 8u);
  (*acc)[i + 9u] = taps9((*acc)[i + 9u], tile, t, j, w, 9u);
  (*acc)[i + 10u] = taps9((*acc)[i + 10u], tile, t, j, w, 10u);
  (*acc)[i + 11u] = taps9((*acc)[i + 11u], tile, t, j, w, 11u);
  (*acc)[i + 12u] = taps9((*acc)[i + 12u], tile, t, j, w, 12u);
  (*acc)[i + 13u] = taps9((*acc)[i + 13u], tile, t, j, w, 13u);
  (*acc)[i + 14u] = taps9((*acc)[i + 14u], tile, t, j, w, 14u);
  (*acc)[i + 15u] = taps9((*acc)[i + 15u], tile, t, j, w, 15u);
}

// Ten values of one row of the grid (columns ox0 - 1 .. ox0 + 8 through `col`), masked and scaled.
fn row10(b: u32, m: f32, col: array<u32, 10>, mask: array<f32, 10>) -> array<f32, 10> {
  var v: array<f32, 10>;
  v[0] = x[b + col[0]] * (m * mask[0]);
  v[9] = x[b + col[9]] * (m * mask[9]);
  if (VEC4) {
    // columns ox0 .. ox0 + 7 as two aligned vec4 loads, each all inside or all outside the row
    let q0 = x4[(b + col[1]) / 4u] * (m * mask[1]);
    let q1 = x4[(b + col[5]) / 4u] * (m * mask[5]);
    v[1] = q0.x; v[2] = q0.y; v[3] = q0.z; v[4] = q0.w;
    v[5] = q1.x; v[6] = q1.y; v[7] = q1.z; v[8] = q1.w;
    return v;
  }
  v[1] = x[b + col[1]] * (m * mask[1]);
  v[2] = x[b + col[2]] * (m * mask[2]);
  v[3] = x[b + col[3]] * (m * mask[3]);
  v[4] = x[b + col[4]] * (m * mask[4]);
  v[5] = x[b + col[5]] * (m * mask[5]);
  v[6] = x[b + col[6]] * (m * mask[6]);
  v[7] = x[b + col[7]] * (m * mask[7]);
  v[8] = x[b + col[8]] * (m * mask[8]);
  return v;
}

fn load_row(tile: ptr<function, FTile>, o: ptr<function, FOffsets>, base: u32, r: u32) {
  let v = row10(base + (*o).row[r], (*o).rowMask[r], (*o).col, (*o).colMask);
  let i = r * 10u;
  (*tile)[i] = v[0]; (*tile)[i + 1u] = v[1]; (*tile)[i + 2u] = v[2]; (*tile)[i + 3u] = v[3];
  (*tile)[i + 4u] = v[4]; (*tile)[i + 5u] = v[5]; (*tile)[i + 6u] = v[6]; (*tile)[i + 7u] = v[7];
  (*tile)[i + 8u] = v[8]; (*tile)[i + 9u] = v[9];
}

fn weight(at: u32) -> vec4<f32> {
  if (WSTORAGE) { return wts[at]; }
  return wu[at];
}

fn load_tap(w: ptr<function, FTaps>, k: u32, at: u32) {
  (*w)[k] = weight(at);
  (*w)[k + 1u] = weight(at + 1u);
  (*w)[k + 2u] = weight(at + 2u);
  (*w)[k + 3u] = weight(at + 3u);
}

// the 9 taps x 4 quads of weights of one input channel
fn load_taps(w: ptr<function, FTaps>, base: u32) {
  load_tap(w, 0u, base); load_tap(w, 4u, base + 4u); load_tap(w, 8u, base + 8u);
  load_tap(w, 12u, base + 12u); load_tap(w, 16u, base + 16u); load_tap(w, 20u, base + 20u);
  load_tap(w, 24u, base + 24u); load_tap(w, 28u, base + 28u); load_tap(w, 32u, base + 32u);
}

fn forward_offsets(o: ptr<function, FOffsets>, oy0: i32, ox0: i32) {
  let s = p.inScale;
  (*o).row[0] = grid_offset(oy0 - 1, p.Hc) * p.Win; (*o).rowMask[0] = s * inside(oy0 - 1, p.Hc);
  (*o).row[1] = grid_offset(oy0, p.Hc) * p.Win; (*o).rowMask[1] = s * inside(oy0, p.Hc);
  (*o).row[2] = grid_offset(oy0 + 1, p.Hc) * p.Win; (*o).rowMask[2] = s * inside(oy0 + 1, p.Hc);
  (*o).row[3] = grid_offset(oy0 + 2, p.Hc) * p.Win; (*o).rowMask[3] = s * inside(oy0 + 2, p.Hc);
  (*o).row[4] = grid_offset(oy0 + 3, p.Hc) * p.Win; (*o).rowMask[4] = s * inside(oy0 + 3, p.Hc);
  (*o).row[5] = grid_offset(oy0 + 4, p.Hc) * p.Win; (*o).rowMask[5] = s * inside(oy0 + 4, p.Hc);
  (*o).col[0] = grid_offset(ox0 - 1, p.Wc); (*o).colMask[0] = inside(ox0 - 1, p.Wc);
  (*o).col[1] = grid_offset(ox0, p.Wc); (*o).colMask[1] = inside(ox0, p.Wc);
  (*o).col[2] = grid_offset(ox0 + 1, p.Wc); (*o).colMask[2] = inside(ox0 + 1, p.Wc);
  (*o).col[3] = grid_offset(ox0 + 2, p.Wc); (*o).colMask[3] = inside(ox0 + 2, p.Wc);
  (*o).col[4] = grid_offset(ox0 + 3, p.Wc); (*o).colMask[4] = inside(ox0 + 3, p.Wc);
  (*o).col[5] = grid_offset(ox0 + 4, p.Wc); (*o).colMask[5] = inside(ox0 + 4, p.Wc);
  (*o).col[6] = grid_offset(ox0 + 5, p.Wc); (*o).colMask[6] = inside(ox0 + 5, p.Wc);
  (*o).col[7] = grid_offset(ox0 + 6, p.Wc); (*o).colMask[7] = inside(ox0 + 6, p.Wc);
  (*o).col[8] = grid_offset(ox0 + 7, p.Wc); (*o).colMask[8] = inside(ox0 + 7, p.Wc);
  (*o).col[9] = grid_offset(ox0 + 8, p.Wc); (*o).colMask[9] = inside(ox0 + 8, p.Wc);
}

// STORE 1: rows (2t', 2t'+1) and column pairs of the tile summed into coarse row t', columns 0..3
// of slot (t', 0), so that the plain store loop below writes them.
fn sum_pairs(acc: ptr<function, FAcc>, t: u32, co: u32) {
  let a = (*acc)[(2u * t * 2u) * 16u + co] + (*acc)[((2u * t + 1u) * 2u) * 16u + co];
  let b = (*acc)[(2u * t * 2u + 1u) * 16u + co] + (*acc)[((2u * t + 1u) * 2u + 1u) * 16u + co];
  (*acc)[(t * 2u) * 16u + co] = vec4<f32>(a.x + a.y, a.z + a.w, b.x + b.y, b.z + b.w);
}

fn sum_pairs_all(acc: ptr<function, FAcc>, t: u32) {
  sum_pairs(acc, t, 0u); sum_pairs(acc, t, 1u); sum_pairs(acc, t, 2u); sum_pairs(acc, t, 3u);
  sum_pairs(acc, t, 4u); sum_pairs(acc, t, 5u); sum_pairs(acc, t, 6u); sum_pairs(acc, t, 7u);
  sum_pairs(acc, t, 8u); sum_pairs(acc, t, 9u); sum_pairs(acc, t, 10u); sum_pairs(acc, t, 11u);
  sum_pairs(acc, t, 12u); sum_pairs(acc, t, 13u); sum_pairs(acc, t, 14u); sum_pairs(acc, t, 15u);
}

struct Store { b: u32, co0: u32, oy0: u32, ox0: u32, e: u32, sub: u32, scale: f32 }

// Component e of the 16 channels at slot (t, j), plus the bias of each channel.
fn put16(acc: ptr<function, FAcc>, s: ptr<function, Store>, bq: ptr<function, array<vec4<f32>, 4>>, t: u32, j: u32) {
  var oy = (*s).oy0 + t;
  var ox = (*s).ox0 + 4u * j + (*s).e;
  var ok = oy < p.Hc && ox < p.Wc;  // the tile may overhang the grid
  if (STORE == 1u) {
    // coarse tile of 2 x 4 pixels in slots (t < 2, j = 0)
    oy = (*s).oy0 / 2u + t;
    ox = (*s).ox0 / 2u + (*s).e;
    ok = t < 2u && j == 0u;
  } else if (STORE == 2u) {
    oy = 2u * oy + ((*s).sub >> 1u);
    ox = 2u * ox + ((*s).sub & 1u);
  }
  ok = ok && oy < p.Ho && ox < p.Wo;
  let plane = p.Ho * p.Wo;
  let at = ((*s).b * p.Cout + (*s).co0) * plane + oy * p.Wo + ox;
  let n = select(0u, p.Cout - (*s).co0, ok);  // channels to write
  let i = (t * 2u + j) * 16u;
  let e = (*s).e;
  let f = (*s).scale;
  if (n > 0u) { emit(at, f * ((*acc)[i][e] + (*bq)[0].x)); }
  if (n > 1u) { emit(at + plane, f * ((*acc)[i + 1u][e] + (*bq)[0].y)); }
  if (n > 2u) { emit(at + 2u * plane, f * ((*acc)[i + 2u][e] + (*bq)[0].z)); }
  if (n > 3u) { emit(at + 3u * plane, f * ((*acc)[i + 3u][e] + (*bq)[0].w)); }
  if (n > 4u) { emit(at + 4u * plane, f * ((*acc)[i + 4u][e] + (*bq)[1].x)); }
  if (n > 5u) { emit(at + 5u * plane, f * ((*acc)[i + 5u][e] + (*bq)[1].y)); }
  if (n > 6u) { emit(at + 6u * plane, f * ((*acc)[i + 6u][e] + (*bq)[1].z)); }
  if (n > 7u) { emit(at + 7u * plane, f * ((*acc)[i + 7u][e] + (*bq)[1].w)); }
  if (n > 8u) { emit(at + 8u * plane, f * ((*acc)[i + 8u][e] + (*bq)[2].x)); }
  if (n > 9u) { emit(at + 9u * plane, f * ((*acc)[i + 9u][e] + (*bq)[2].y)); }
  if (n > 10u) { emit(at + 10u * plane, f * ((*acc)[i + 10u][e] + (*bq)[2].z)); }
  if (n > 11u) { emit(at + 11u * plane, f * ((*acc)[i + 11u][e] + (*bq)[2].w)); }
  if (n > 12u) { emit(at + 12u * plane, f * ((*acc)[i + 12u][e] + (*bq)[3].x)); }
  if (n > 13u) { emit(at + 13u * plane, f * ((*acc)[i + 13u][e] + (*bq)[3].y)); }
  if (n > 14u) { emit(at + 14u * plane, f * ((*acc)[i + 14u][e] + (*bq)[3].z)); }
  if (n > 15u) { emit(at + 15u * plane, f * ((*acc)[i + 15u][e] + (*bq)[3].w)); }
}

// The 16 channels at slot (t, j) as vec4s over the slot's 4 columns (Y4, plain store).
fn put16v(acc: ptr<function, FAcc>, s: ptr<function, Store>, bq: ptr<function, array<vec4<f32>, 4>>, t: u32, j: u32) {
  let oy = (*s).oy0 + t;
  let ox = (*s).ox0 + 4u * j;
  let ok = oy < p.Hc && ox < p.Wc;
  let q = p.Ho * p.Wo / 4u;
  let at = (((*s).b * p.Cout + (*s).co0) * p.Ho * p.Wo + oy * p.Wo + ox) / 4u;
  let n = select(0u, p.Cout - (*s).co0, ok);
  let i = (t * 2u + j) * 16u;
  let f = (*s).scale;
  if (n > 0u) { emit4(at, f * ((*acc)[i] + (*bq)[0].x)); }
  if (n > 1u) { emit4(at + q, f * ((*acc)[i + 1u] + (*bq)[0].y)); }
  if (n > 2u) { emit4(at + 2u * q, f * ((*acc)[i + 2u] + (*bq)[0].z)); }
  if (n > 3u) { emit4(at + 3u * q, f * ((*acc)[i + 3u] + (*bq)[0].w)); }
  if (n > 4u) { emit4(at + 4u * q, f * ((*acc)[i + 4u] + (*bq)[1].x)); }
  if (n > 5u) { emit4(at + 5u * q, f * ((*acc)[i + 5u] + (*bq)[1].y)); }
  if (n > 6u) { emit4(at + 6u * q, f * ((*acc)[i + 6u] + (*bq)[1].z)); }
  if (n > 7u) { emit4(at + 7u * q, f * ((*acc)[i + 7u] + (*bq)[1].w)); }
  if (n > 8u) { emit4(at + 8u * q, f * ((*acc)[i + 8u] + (*bq)[2].x)); }
  if (n > 9u) { emit4(at + 9u * q, f * ((*acc)[i + 9u] + (*bq)[2].y)); }
  if (n > 10u) { emit4(at + 10u * q, f * ((*acc)[i + 10u] + (*bq)[2].z)); }
  if (n > 11u) { emit4(at + 11u * q, f * ((*acc)[i + 11u] + (*bq)[2].w)); }
  if (n > 12u) { emit4(at + 12u * q, f * ((*acc)[i + 12u] + (*bq)[3].x)); }
  if (n > 13u) { emit4(at + 13u * q, f * ((*acc)[i + 13u] + (*bq)[3].y)); }
  if (n > 14u) { emit4(at + 14u * q, f * ((*acc)[i + 14u] + (*bq)[3].z)); }
  if (n > 15u) { emit4(at + 15u * q, f * ((*acc)[i + 15u] + (*bq)[3].w)); }
}

fn emit4(i: u32, v: vec4<f32>) {
  if (ACCUMULATE) {
    y4[i] += v;
  } else if (RESIDUAL) {
    y4[i] = v + p.resScale * res4[i];
  } else {
    y4[i] = v;
  }
}

fn emit(i: u32, v: f32) {
  if (ACCUMULATE) {
    y[i] += v;
  } else if (RESIDUAL) {
    y[i] = v + p.resScale * res[i];
  } else {
    y[i] = v;
  }
}

// hasBias: 0 none, 1 bias[c], 2 bias[b][c] (one per sample)
fn bias_at(b: u32, c: u32) -> f32 {
  let row = select(0u, b * p.Cout, p.hasBias == 2u);
  return select(0.0, bias[row + min(c, p.Cout - 1u)], p.hasBias != 0u && c < p.Cout);
}

fn bias_quad(b: u32, c: u32) -> vec4<f32> {
  return vec4<f32>(bias_at(b, c), bias_at(b, c + 1u), bias_at(b, c + 2u), bias_at(b, c + 3u));
}

// grid: x = tile index (folded into z beyond the workgroup-count limit); WSTORAGE: y = block.
@compute @workgroup_size(8)
fn conv3_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  let block = select(p.coBlock, wid.y, WSTORAGE);
  let wbase = select(0u, (block * p.CinTotal + p.ci0) * 36u, WSTORAGE);
  let tiles = p.tilesX * p.tilesY;
  let tile = gid.x + wid.z * nwg.x * 8u;
  if (tile >= tiles * p.B) { return; }
  let b = tile / tiles;
  let tt = tile % tiles;
  let oy0 = (tt / p.tilesX) * 4u;
  let ox0 = (tt % p.tilesX) * 8u;
  var o: FOffsets;
  forward_offsets(&o, i32(oy0), i32(ox0));

  var acc: FAcc;
  var tile_v: FTile;
  var w: FTaps;
  let plane = p.Hin * p.Win;
  for (var ci = 0u; ci < p.Cin; ci++) {
    let base = (b * p.CinTotal + p.ci0 + ci) * plane;
    load_row(&tile_v, &o, base, 0u); load_row(&tile_v, &o, base, 1u); load_row(&tile_v, &o, base, 2u);
    load_row(&tile_v, &o, base, 3u);
    load_row(&tile_v, &o, base, 4u); load_row(&tile_v, &o, base, 5u);
    load_taps(&w, wbase + ci * 36u);
    block16(&acc, &tile_v, &w, 0u, 0u); block16(&acc, &tile_v, &w, 0u, 1u);
    block16(&acc, &tile_v, &w, 1u, 0u); block16(&acc, &tile_v, &w, 1u, 1u);
    block16(&acc, &tile_v, &w, 2u, 0u); block16(&acc, &tile_v, &w, 2u, 1u);
    block16(&acc, &tile_v, &w, 3u, 0u); block16(&acc, &tile_v, &w, 3u, 1u);
  }

  if (STORE == 1u) {
    sum_pairs_all(&acc, 0u);
    sum_pairs_all(&acc, 1u);
  }
  let co0 = block * 16u;
  var bq: array<vec4<f32>, 4>;
  bq[0] = bias_quad(b, co0); bq[1] = bias_quad(b, co0 + 4u); bq[2] = bias_quad(b, co0 + 8u);
  bq[3] = bias_quad(b, co0 + 12u);
  var s = Store(b, co0, oy0, ox0, 0u, 0u, p.outScale);
  if (STORE == 0u && Y4) {
    put16v(&acc, &s, &bq, 0u, 0u); put16v(&acc, &s, &bq, 0u, 1u);
    put16v(&acc, &s, &bq, 1u, 0u); put16v(&acc, &s, &bq, 1u, 1u);
    put16v(&acc, &s, &bq, 2u, 0u); put16v(&acc, &s, &bq, 2u, 1u);
    put16v(&acc, &s, &bq, 3u, 0u); put16v(&acc, &s, &bq, 3u, 1u);
    return;
  }
  // One store per accumulator in the code; the loop runs over the vector component (and, when
  // spreading, over the 2x2 sub-pixel), which only needs a cheap dynamic vector index.
  let subs = select(1u, 4u, STORE == 2u);
  for (var k = 0u; k < 4u * subs; k++) {
    s.e = k % 4u;
    s.sub = k / 4u;
    put16(&acc, &s, &bq, 0u, 0u); put16(&acc, &s, &bq, 0u, 1u);
    put16(&acc, &s, &bq, 1u, 0u); put16(&acc, &s, &bq, 1u, 1u);
    put16(&acc, &s, &bq, 2u, 0u); put16(&acc, &s, &bq, 2u, 1u);
    put16(&acc, &s, &bq, 3u, 0u); put16(&acc, &s, &bq, 3u, 1u);
  }
}

// ------------------------------------------------------------------ conv3_grad_weight

alias GTile = array<f32, 160>;       // [input channel 4][row 4][column 10]
alias GDy = array<vec4<f32>, 64>;    // [quad 4][row 2][column 8], vec4 over 4 output channels
alias GAcc = array<vec4<f32>, 144>;  // [input channel 4][tap 9][quad 4], vec4 over 4 output channels

struct GOffsets { row: array<u32, 4>, rowMask: array<f32, 4>, col: array<u32, 10>, colMask: array<f32, 10> }

// Sum over the 16 pixels of the tile of dy (4 output channels of quad q) x u shifted by the tap.
fn tap16(a: vec4<f32>, d: ptr<function, GDy>, q: u32, u: ptr<function, GTile>, ci: u32, ky: u32, kx: u32) -> vec4<f32> {
  let di = q * 16u;
  let ui = (ci * 4u + ky) * 10u + kx;
  var s = a;
  s = fma((*d)[di], vec4<f32>((*u)[ui]), s);
  s = fma((*d)[di + 1u], vec4<f32>((*u)[ui + 1u]), s);
  s = fma((*d)[di + 2u], vec4<f32>((*u)[ui + 2u]), s);
  s = fma((*d)[di + 3u], vec4<f32>((*u)[ui + 3u]), s);
  s = fma((*d)[di + 4u], vec4<f32>((*u)[ui + 4u]), s);
  s = fma((*d)[di + 5u], vec4<f32>((*u)[ui + 5u]), s);
  s = fma((*d)[di + 6u], vec4<f32>((*u)[ui + 6u]), s);
  s = fma((*d)[di + 7u], vec4<f32>((*u)[ui + 7u]), s);
  s = fma((*d)[di + 8u], vec4<f32>((*u)[ui + 10u]), s);
  s = fma((*d)[di + 9u], vec4<f32>((*u)[ui + 11u]), s);
  s = fma((*d)[di + 10u], vec4<f32>((*u)[ui + 12u]), s);
  s = fma((*d)[di + 11u], vec4<f32>((*u)[ui + 13u]), s);
  s = fma((*d)[di + 12u], vec4<f32>((*u)[ui + 14u]), s);
  s = fma((*d)[di + 13u], vec4<f32>((*u)[ui + 15u]), s);
  s = fma((*d)[di + 14u], vec4<f32>((*u)[ui + 16u]), s);
  s = fma((*d)[di + 15u], vec4<f32>((*u)[ui + 17u]), s);
  return s;
}

// The 9 taps x quads q0, q0 + 1 of input channel c.
fn channel18(acc: ptr<function, GAcc>, d: ptr<function, GDy>, u: ptr<function, GTile>, c: u32, q0: u32) {
  let i = c * 36u + q0;
  let q1 = q0 + 1u;
  (*acc)[i] = tap16((*acc)[i], d, q0, u, c, 0u, 0u); (*acc)[i + 1u] = tap16((*acc)[i + 1u], d, q1, u, c, 0u, 0u);
  (*acc)[i + 4u] = tap16((*acc)[i + 4u], d, q0, u, c, 0u, 1u); (*acc)[i + 5u] = tap16((*acc)[i + 5u], d, q1, u, c, 0u, 1u);
  (*acc)[i + 8u] = tap16((*acc)[i + 8u], d, q0, u, c, 0u, 2u); (*acc)[i + 9u] = tap16((*acc)[i + 9u], d, q1, u, c, 0u, 2u);
  (*acc)[i + 12u] = tap16((*acc)[i + 12u], d, q0, u, c, 1u, 0u); (*acc)[i + 13u] = tap16((*acc)[i + 13u], d, q1, u, c, 1u, 0u);
  (*acc)[i + 16u] = tap16((*acc)[i + 16u], d, q0, u, c, 1u, 1u); (*acc)[i + 17u] = tap16((*acc)[i + 17u], d, q1, u, c, 1u, 1u);
  (*acc)[i + 20u] = tap16((*acc)[i + 20u], d, q0, u, c, 1u, 2u); (*acc)[i + 21u] = tap16((*acc)[i + 21u], d, q1, u, c, 1u, 2u);
  (*acc)[i + 24u] = tap16((*acc)[i + 24u], d, q0, u, c, 2u, 0u); (*acc)[i + 25u] = tap16((*acc)[i + 25u], d, q1, u, c, 2u, 0u);
  (*acc)[i + 28u] = tap16((*acc)[i + 28u], d, q0, u, c, 2u, 1u); (*acc)[i + 29u] = tap16((*acc)[i + 29u], d, q1, u, c, 2u, 1u);
  (*acc)[i + 32u] = tap16((*acc)[i + 32u], d, q0, u, c, 2u, 2u); (*acc)[i + 33u] = tap16((*acc)[i + 33u], d, q1, u, c, 2u, 2u);
}

fn load_urow(u: ptr<function, GTile>, o: ptr<function, GOffsets>, base: u32, c: u32, r: u32) {
  let v = row10(base + (*o).row[r], (*o).rowMask[r], (*o).col, (*o).colMask);
  let i = (c * 4u + r) * 10u;
  (*u)[i] = v[0]; (*u)[i + 1u] = v[1]; (*u)[i + 2u] = v[2]; (*u)[i + 3u] = v[3];
  (*u)[i + 4u] = v[4]; (*u)[i + 5u] = v[5]; (*u)[i + 6u] = v[6]; (*u)[i + 7u] = v[7];
  (*u)[i + 8u] = v[8]; (*u)[i + 9u] = v[9];
}

// dy of 4 output channels (planes at `planes`) at column `at` of a row, masked.
fn dy4(planes: vec4<u32>, at: u32, m: f32) -> vec4<f32> {
  return vec4<f32>(dy[planes.x + at], dy[planes.y + at], dy[planes.z + at], dy[planes.w + at]) * m;
}

fn load_dyrow(d: ptr<function, GDy>, planes: vec4<u32>, row: u32, m: f32, q: u32, t: u32, cols: ptr<function, array<u32, 8>>,
              cm: ptr<function, GOffsets>) {
  let i = (q * 2u + t) * 8u;
  if (DY4) {
    // each channel's 8 columns as two aligned vec4 loads, then turned into vec4s over the 4 channels
    let a = row + (*cols)[0];
    let b = row + (*cols)[4];
    let ma = m * (*cm).colMask[1];
    let mb = m * (*cm).colMask[5];
    let lo = mat4x4<f32>(dy4v[(planes.x + a) / 4u], dy4v[(planes.y + a) / 4u], dy4v[(planes.z + a) / 4u],
                         dy4v[(planes.w + a) / 4u]);
    let hi = mat4x4<f32>(dy4v[(planes.x + b) / 4u], dy4v[(planes.y + b) / 4u], dy4v[(planes.z + b) / 4u],
                         dy4v[(planes.w + b) / 4u]);
    let l = transpose(lo) * ma;
    let h = transpose(hi) * mb;
    (*d)[i] = l[0]; (*d)[i + 1u] = l[1]; (*d)[i + 2u] = l[2]; (*d)[i + 3u] = l[3];
    (*d)[i + 4u] = h[0]; (*d)[i + 5u] = h[1]; (*d)[i + 6u] = h[2]; (*d)[i + 7u] = h[3];
    return;
  }
  (*d)[i] = dy4(planes, row + (*cols)[0], m * (*cm).colMask[1]);
  (*d)[i + 1u] = dy4(planes, row + (*cols)[1], m * (*cm).colMask[2]);
  (*d)[i + 2u] = dy4(planes, row + (*cols)[2], m * (*cm).colMask[3]);
  (*d)[i + 3u] = dy4(planes, row + (*cols)[3], m * (*cm).colMask[4]);
  (*d)[i + 4u] = dy4(planes, row + (*cols)[4], m * (*cm).colMask[5]);
  (*d)[i + 5u] = dy4(planes, row + (*cols)[5], m * (*cm).colMask[6]);
  (*d)[i + 6u] = dy4(planes, row + (*cols)[6], m * (*cm).colMask[7]);
  (*d)[i + 7u] = dy4(planes, row + (*cols)[7], m * (*cm).colMask[8]);
}

// Both tile rows of dy for quads q0 (planes pa) and q0 + 1 (planes pb).
fn load_dy2(d: ptr<function, GDy>, pa: vec4<u32>, pb: vec4<u32>, q0: u32, rows: vec2<u32>, m: vec2<f32>,
            cols: ptr<function, array<u32, 8>>, cm: ptr<function, GOffsets>) {
  load_dyrow(d, pa, rows.x, m.x, q0, 0u, cols, cm);
  load_dyrow(d, pa, rows.y, m.y, q0, 1u, cols, cm);
  load_dyrow(d, pb, rows.x, m.x, q0 + 1u, 0u, cols, cm);
  load_dyrow(d, pb, rows.y, m.y, q0 + 1u, 1u, cols, cm);
}

// Quads q0, q0 + 1 of input channel c's 9 taps into the partial sums (quad qb + q0 of the output).
fn put_channel(acc: ptr<function, GAcc>, chunk: u32, ci0: u32, c: u32, s: u32, qb: u32, q0: u32) {
  let ci = ci0 + c;
  if (ci >= p.Cin) { return; }
  let base = (chunk * p.Cin + ci) * 9u * s + qb + q0;
  let i = c * 36u + q0;
  part[base] = (*acc)[i]; part[base + 1u] = (*acc)[i + 1u];
  part[base + s] = (*acc)[i + 4u]; part[base + s + 1u] = (*acc)[i + 5u];
  part[base + 2u * s] = (*acc)[i + 8u]; part[base + 2u * s + 1u] = (*acc)[i + 9u];
  part[base + 3u * s] = (*acc)[i + 12u]; part[base + 3u * s + 1u] = (*acc)[i + 13u];
  part[base + 4u * s] = (*acc)[i + 16u]; part[base + 4u * s + 1u] = (*acc)[i + 17u];
  part[base + 5u * s] = (*acc)[i + 20u]; part[base + 5u * s + 1u] = (*acc)[i + 21u];
  part[base + 6u * s] = (*acc)[i + 24u]; part[base + 6u * s + 1u] = (*acc)[i + 25u];
  part[base + 7u * s] = (*acc)[i + 28u]; part[base + 7u * s + 1u] = (*acc)[i + 29u];
  part[base + 8u * s] = (*acc)[i + 32u]; part[base + 8u * s + 1u] = (*acc)[i + 33u];
}

// Rows 2, 3 of each input channel's tile become rows 0, 1 of the next tile down (2 grid rows lower).
fn shift_rows(u: ptr<function, GTile>, c: u32) {
  let i = c * 40u;
  (*u)[i] = (*u)[i + 20u]; (*u)[i + 1u] = (*u)[i + 21u]; (*u)[i + 2u] = (*u)[i + 22u]; (*u)[i + 3u] = (*u)[i + 23u];
  (*u)[i + 4u] = (*u)[i + 24u]; (*u)[i + 5u] = (*u)[i + 25u]; (*u)[i + 6u] = (*u)[i + 26u]; (*u)[i + 7u] = (*u)[i + 27u];
  (*u)[i + 8u] = (*u)[i + 28u]; (*u)[i + 9u] = (*u)[i + 29u]; (*u)[i + 10u] = (*u)[i + 30u]; (*u)[i + 11u] = (*u)[i + 31u];
  (*u)[i + 12u] = (*u)[i + 32u]; (*u)[i + 13u] = (*u)[i + 33u]; (*u)[i + 14u] = (*u)[i + 34u]; (*u)[i + 15u] = (*u)[i + 35u];
  (*u)[i + 16u] = (*u)[i + 36u]; (*u)[i + 17u] = (*u)[i + 37u]; (*u)[i + 18u] = (*u)[i + 38u]; (*u)[i + 19u] = (*u)[i + 39u];
}

// Grid rows gy + r - 1 of the tile at grid row gy into the tile's row slot r.
fn set_row(o: ptr<function, GOffsets>, r: u32, gy: i32) {
  (*o).row[r] = grid_offset(gy + i32(r) - 1, p.Hc) * p.Win;
  (*o).rowMask[r] = p.inScale * inside(gy + i32(r) - 1, p.Hc);
}

// grid: x = chunk, y = 8-channel (CO16: 16-channel) output block, z = 4-channel input block.
// A chunk is a run of tile rows (2 grid rows each) of one image: p.chunks / p.B chunks per image,
// p.rowsPerChunk tile rows each. A thread walks each column of tiles downwards, so that the two
// lower input rows of a tile are the upper rows of the next: each step reads 2 new rows, not 4.
// dw[co][ci][ky][kx] = sum over b, grid pixels (gy, gx) of dy[b][co][gy][gx] * u[b][ci][gy + ky - 1][gx + kx - 1]
// where u is the grid read from x; dy has the grid's size.
@compute @workgroup_size(8)
fn conv3_grad_weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let chunk = gid.x;
  if (chunk >= p.chunks) { return; }
  let perImage = p.chunks / p.B;
  let b = chunk / perImage;
  let t0 = (chunk % perImage) * p.rowsPerChunk;
  let t1 = min(t0 + p.rowsPerChunk, p.tilesY);
  let co0 = wid.y * select(8u, 16u, CO16);
  let ci0 = wid.z * 4u;
  // Channels past the end are clamped: their sums are computed but never stored.
  let last = p.Cin - 1u;
  let cis = vec4<u32>(min(ci0, last), min(ci0 + 1u, last), min(ci0 + 2u, last), min(ci0 + 3u, last));
  let lo = p.Cout - 1u;
  let q0 = vec4<u32>(min(co0, lo), min(co0 + 1u, lo), min(co0 + 2u, lo), min(co0 + 3u, lo));
  let q1 = vec4<u32>(min(co0 + 4u, lo), min(co0 + 5u, lo), min(co0 + 6u, lo), min(co0 + 7u, lo));
  let q2 = vec4<u32>(min(co0 + 8u, lo), min(co0 + 9u, lo), min(co0 + 10u, lo), min(co0 + 11u, lo));
  let q3 = vec4<u32>(min(co0 + 12u, lo), min(co0 + 13u, lo), min(co0 + 14u, lo), min(co0 + 15u, lo));
  let uplane = p.Hin * p.Win;
  let dplane = p.Hc * p.Wc;
  var acc: GAcc;
  var u: GTile;
  var d: GDy;
  var o: GOffsets;
  var cols: array<u32, 8>;
  let ub = b * p.Cin;
  let db = b * p.Cout;
  let planes0 = (vec4<u32>(db) + q0) * dplane;
  let planes1 = (vec4<u32>(db) + q1) * dplane;
  let planes2 = (vec4<u32>(db) + q2) * dplane;
  let planes3 = (vec4<u32>(db) + q3) * dplane;
  let u0 = (ub + cis.x) * uplane;
  let u1 = (ub + cis.y) * uplane;
  let u2 = (ub + cis.z) * uplane;
  let u3 = (ub + cis.w) * uplane;
  for (var tx = 0u; tx < p.tilesX; tx++) {
    let gx = i32(tx * 8u);
    o.col[0] = grid_offset(gx - 1, p.Wc); o.colMask[0] = inside(gx - 1, p.Wc);
    o.col[1] = grid_offset(gx, p.Wc); o.colMask[1] = inside(gx, p.Wc);
    o.col[2] = grid_offset(gx + 1, p.Wc); o.colMask[2] = inside(gx + 1, p.Wc);
    o.col[3] = grid_offset(gx + 2, p.Wc); o.colMask[3] = inside(gx + 2, p.Wc);
    o.col[4] = grid_offset(gx + 3, p.Wc); o.colMask[4] = inside(gx + 3, p.Wc);
    o.col[5] = grid_offset(gx + 4, p.Wc); o.colMask[5] = inside(gx + 4, p.Wc);
    o.col[6] = grid_offset(gx + 5, p.Wc); o.colMask[6] = inside(gx + 5, p.Wc);
    o.col[7] = grid_offset(gx + 6, p.Wc); o.colMask[7] = inside(gx + 6, p.Wc);
    o.col[8] = grid_offset(gx + 7, p.Wc); o.colMask[8] = inside(gx + 7, p.Wc);
    o.col[9] = grid_offset(gx + 8, p.Wc); o.colMask[9] = inside(gx + 8, p.Wc);
    let lastCol = i32(p.Wc) - 1;
    cols[0] = u32(min(gx, lastCol)); cols[1] = u32(min(gx + 1, lastCol));
    cols[2] = u32(min(gx + 2, lastCol)); cols[3] = u32(min(gx + 3, lastCol));
    cols[4] = u32(min(gx + 4, lastCol)); cols[5] = u32(min(gx + 5, lastCol));
    cols[6] = u32(min(gx + 6, lastCol)); cols[7] = u32(min(gx + 7, lastCol));
    // the first tile's upper rows
    let gyFirst = i32(t0 * 2u);
    set_row(&o, 0u, gyFirst); set_row(&o, 1u, gyFirst);
    load_urow(&u, &o, u0, 0u, 0u); load_urow(&u, &o, u0, 0u, 1u);
    load_urow(&u, &o, u1, 1u, 0u); load_urow(&u, &o, u1, 1u, 1u);
    load_urow(&u, &o, u2, 2u, 0u); load_urow(&u, &o, u2, 2u, 1u);
    load_urow(&u, &o, u3, 3u, 0u); load_urow(&u, &o, u3, 3u, 1u);
    for (var t = t0; t < t1; t++) {
      let gy = i32(t * 2u);
      set_row(&o, 2u, gy); set_row(&o, 3u, gy);
      load_urow(&u, &o, u0, 0u, 2u); load_urow(&u, &o, u0, 0u, 3u);
      load_urow(&u, &o, u1, 1u, 2u); load_urow(&u, &o, u1, 1u, 3u);
      load_urow(&u, &o, u2, 2u, 2u); load_urow(&u, &o, u2, 2u, 3u);
      load_urow(&u, &o, u3, 3u, 2u); load_urow(&u, &o, u3, 3u, 3u);
      let dm0 = inside(gy, p.Hc);
      let dm1 = inside(gy + 1, p.Hc);
      let drow0 = u32(min(gy, i32(p.Hc) - 1)) * p.Wc;
      let drow1 = u32(min(gy + 1, i32(p.Hc) - 1)) * p.Wc;
      load_dy2(&d, planes0, planes1, 0u, vec2<u32>(drow0, drow1), vec2<f32>(dm0, dm1), &cols, &o);
      channel18(&acc, &d, &u, 0u, 0u); channel18(&acc, &d, &u, 1u, 0u);
      channel18(&acc, &d, &u, 2u, 0u); channel18(&acc, &d, &u, 3u, 0u);
      if (CO16) {
        load_dy2(&d, planes2, planes3, 2u, vec2<u32>(drow0, drow1), vec2<f32>(dm0, dm1), &cols, &o);
        channel18(&acc, &d, &u, 0u, 2u); channel18(&acc, &d, &u, 1u, 2u);
        channel18(&acc, &d, &u, 2u, 2u); channel18(&acc, &d, &u, 3u, 2u);
      }
      shift_rows(&u, 0u); shift_rows(&u, 1u); shift_rows(&u, 2u); shift_rows(&u, 3u);
    }
  }
  let s = p.coPad / 4u;
  let qb = wid.y * select(2u, 4u, CO16);
  put_channel(&acc, chunk, ci0, 0u, s, qb, 0u);
  put_channel(&acc, chunk, ci0, 1u, s, qb, 0u);
  put_channel(&acc, chunk, ci0, 2u, s, qb, 0u);
  put_channel(&acc, chunk, ci0, 3u, s, qb, 0u);
  if (CO16) {
    put_channel(&acc, chunk, ci0, 0u, s, qb, 2u);
    put_channel(&acc, chunk, ci0, 1u, s, qb, 2u);
    put_channel(&acc, chunk, ci0, 2u, s, qb, 2u);
    put_channel(&acc, chunk, ci0, 3u, s, qb, 2u);
  }
}
