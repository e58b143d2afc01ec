// 1x1 convolution for the "cpu" kernel profile (llvmpipe, lavapipe): forward (also grad-input, with
// the transposed weights) and grad-weight. See kernels/conv2d_k3.wgsl for why the register blocks are
// written out with constant indices.
//
// A 1x1 convolution is a matrix product over the flattened pixels p of the grid (Hc x Wc):
//   y[b][co][p] = sum_ci w[co][ci] * u[b][ci][p]          (conv1_forward)
//   dw[co][ci]  = sum_b,p dy[b][co][p] * u[b][ci][p]       (conv1_grad_weight)
// where u is the grid read from the tensor x (Hin x Win), plain, up or pooled (POOL), times inScale
// (kernels/lib/grid.wgsl). Because the convolution is per pixel, the adjoints of the resamplings are resamplings
// of dy: grad-input of an up-sampled 1x1 conv is a POOL read (sum) of dy, of a pooled one an up read
// of dy with inScale 0.25.
// VEC4 (plain grids whose plane size is a multiple of 4) reads x and dy as vec4: fewer, cheaper loads.
// HALF halves the register block (forward: 16 pixels; grad-weight: 4 input channels), and with it the
// compile time; used with POOL, whose four loads per value double the code.
//
// conv1_forward: thread = 16 output channels x 32 (HALF: 16) consecutive grid pixels; acc[j*16 + co]
//   holds pixels 4j..4j+3 of channel co. wt: [Cin][coPad/4] vec4 over output channels.
// conv1_grad_weight: thread = 16 output channels x 8 (HALF: 4; WIDE: 16) input channels, over a run of
//   pixel groups of 8 in one image; acc[co*16 + ci] sums each group's 8 products as two dot products
//   (one accumulator visit per 8 pixels: 1.08-1.39x over a vec4 of 4 pixels per pair), stored at the end
//   into part[chunk][ci][coPad/4] (vec4 over output channels).

struct Params {
  B: u32,
  Cin: u32,
  Cout: u32,
  Hin: u32,
  Win: u32,
  Hc: u32,
  Wc: u32,
  plane: u32,          // Hc * Wc
  tiles: u32,          // forward: ceil(plane / 32), or / 16 with HALF
  up: u32,
  down: u32,
  coPad: u32,
  hasBias: u32,
  inScale: f32,        
  chunksPerImage: u32, // grad-weight
  groupsPerChunk: u32, // grad-weight: 8-pixel groups per chunk
  wz: u32,             // forward: vec4s of wt between images' weights (0: one weight for the batch;
                       // Winograd's products, src/ops/conv2d_winograd.ts, take one per position)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> part: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> x4: array<vec4<f32>>;   // the same buffer as x
@group(0) @binding(8) var<storage, read> dy4: array<vec4<f32>>;  // the same buffer as dy
@group(0) @binding(9) var<storage, read_write> y4: array<vec4<f32>>;  // the same buffer as y

override POOL: bool = false;
// conv1_forward: input channels four at a time, then one at a time for the rest: each accumulator takes
// 4 FMAs per visit instead of 1 (1.05-1.2x; not with POOL, whose reads would double the code).
override CI4: bool = false;
override VEC4: bool = false;
override HALF: bool = false;
// conv1_forward's store, fixed per pipeline (llvmpipe runs both sides of every branch, masked):
// SPREAD writes each grid pixel over a 2x2 block of y (nearest 2x up-sampling); Y4 (plain stores,
// plane a multiple of 4) stores each accumulator's 4 pixels as one vec4.
override SPREAD: bool = false;
override Y4: bool = false;
// conv1_forward reads x (IMG, with VEC4) or wt (IMGW) through images: on llvmpipe an image load costs 0.4x
// a storage-buffer load, and these loads are most of the kernel's time (Winograd's products at 64
// channels, 64x64, batch 8: 19 -> 13 ms with both).
override IMG: bool = false;
override IMGW: bool = false;
@group(0) @binding(10) var xi: texture_storage_2d<rgba32float, read>;  // x's image
@group(0) @binding(11) var wi: texture_storage_2d<rgba32float, read>;  // wt's image
// conv1_grad_weight reads x (IMG, with VEC4) and dy (IMGD, with VEC4) through images.
override IMGD: bool = false;
@group(0) @binding(12) var di: texture_storage_2d<rgba32float, read>;  // dy's image

#include "lib/image.wgsl"

// ------------------------------------------------------------------ reading the grid

#include "lib/grid.wgsl"

// q = floor(n / d) through a float division, corrected (vector integer division is scalarised);
// exact for n < 2^24, beyond that the integer division.
fn div_floor(n: u32, d: u32) -> u32 {
  if (p.plane >= 16777216u) { return n / d; }
  var q = u32(f32(n) / f32(d));
  if (q * d > n) { q -= 1u; }
  if ((q + 1u) * d <= n) { q += 1u; }
  return q;
}

// Offset in x and read mask (times inScale) of grid pixel g of one image plane.
struct Tap { at: u32, m: f32 }

fn grid_tap(g: u32) -> Tap {
  let gy = div_floor(g, p.Wc);
  let src = grid_source(gy, g - gy * p.Wc);
  let ok = g < p.plane && src.ok;
  return Tap(select(0u, src.at, ok), select(0.0, p.inScale, ok));
}

// Four consecutive grid pixels g..g+3 of the plane starting at `base`.
fn grid4(base: u32, g: u32) -> vec4<f32> {
  if (VEC4) {
    let ok = g < p.plane;
    let i = (base + min(g, p.plane - 4u)) / 4u;
    if (IMG) { return select(vec4<f32>(0.0), textureLoad(xi, texel(i)) * p.inScale, ok); }
    return select(vec4<f32>(0.0), x4[i] * p.inScale, ok);
  }
  let t0 = grid_tap(g);
  let t1 = grid_tap(g + 1u);
  let t2 = grid_tap(g + 2u);
  let t3 = grid_tap(g + 3u);
  return vec4<f32>(grid_fetch(base + t0.at, POOL) * t0.m, grid_fetch(base + t1.at, POOL) * t1.m,
                   grid_fetch(base + t2.at, POOL) * t2.m, grid_fetch(base + t3.at, POOL) * t3.m);
}

// ------------------------------------------------------------------ conv1_forward

// vec4 i of wt.
fn weight4(i: u32) -> vec4<f32> {
  if (IMGW) { return textureLoad(wi, texel(i)); }
  return wt[i];
}

alias FAcc = array<vec4<f32>, 128>;  // [pixel quad 8][channel 16]
alias FIn = array<vec4<f32>, 8>;     // 32 grid pixels of one input channel
alias FW = array<vec4<f32>, 4>;      // 16 output channels of one input channel

fn col16(acc: ptr<function, FAcc>, xin: ptr<function, FIn>, w: ptr<function, FW>, j: u32) {
  let i = j * 16u;
  let v = (*xin)[j];
  (*acc)[i] = fma(v, vec4<f32>((*w)[0].x), (*acc)[i]);
  (*acc)[i + 1u] = fma(v, vec4<f32>((*w)[0].y), (*acc)[i + 1u]);
  (*acc)[i + 2u] = fma(v, vec4<f32>((*w)[0].z), (*acc)[i + 2u]);
  (*acc)[i + 3u] = fma(v, vec4<f32>((*w)[0].w), (*acc)[i + 3u]);
  (*acc)[i + 4u] = fma(v, vec4<f32>((*w)[1].x), (*acc)[i + 4u]);
  (*acc)[i + 5u] = fma(v, vec4<f32>((*w)[1].y), (*acc)[i + 5u]);
  (*acc)[i + 6u] = fma(v, vec4<f32>((*w)[1].z), (*acc)[i + 6u]);
  (*acc)[i + 7u] = fma(v, vec4<f32>((*w)[1].w), (*acc)[i + 7u]);
  (*acc)[i + 8u] = fma(v, vec4<f32>((*w)[2].x), (*acc)[i + 8u]);
  (*acc)[i + 9u] = fma(v, vec4<f32>((*w)[2].y), (*acc)[i + 9u]);
  (*acc)[i + 10u] = fma(v, vec4<f32>((*w)[2].z), (*acc)[i + 10u]);
  (*acc)[i + 11u] = fma(v, vec4<f32>((*w)[2].w), (*acc)[i + 11u]);
  (*acc)[i + 12u] = fma(v, vec4<f32>((*w)[3].x), (*acc)[i + 12u]);
  (*acc)[i + 13u] = fma(v, vec4<f32>((*w)[3].y), (*acc)[i + 13u]);
  (*acc)[i + 14u] = fma(v, vec4<f32>((*w)[3].z), (*acc)[i + 14u]);
  (*acc)[i + 15u] = fma(v, vec4<f32>((*w)[3].w), (*acc)[i + 15u]);
}

// Four input channels at once: every accumulator takes 4 FMAs per visit instead of 1.
alias FIn4 = array<vec4<f32>, 32>;   // [input channel 4][pixel quad 8]
alias FW4 = array<vec4<f32>, 16>;    // [input channel 4][quad of 16 output channels]

fn fma4(a: vec4<f32>, xin: ptr<function, FIn4>, w: ptr<function, FW4>, j: u32, q: u32, e: u32) -> vec4<f32> {
  var s = fma((*xin)[j], vec4<f32>((*w)[q][e]), a);
  s = fma((*xin)[8u + j], vec4<f32>((*w)[4u + q][e]), s);
  s = fma((*xin)[16u + j], vec4<f32>((*w)[8u + q][e]), s);
  return fma((*xin)[24u + j], vec4<f32>((*w)[12u + q][e]), s);
}

fn col16x4(acc: ptr<function, FAcc>, xin: ptr<function, FIn4>, w: ptr<function, FW4>, j: u32) {
  let i = j * 16u;
  (*acc)[i] = fma4((*acc)[i], xin, w, j, 0u, 0u); (*acc)[i + 1u] = fma4((*acc)[i + 1u], xin, w, j, 0u, 1u);
  (*acc)[i + 2u] = fma4((*acc)[i + 2u], xin, w, j, 0u, 2u); (*acc)[i + 3u] = fma4((*acc)[i + 3u], xin, w, j, 0u, 3u);
  (*acc)[i + 4u] = fma4((*acc)[i + 4u], xin, w, j, 1u, 0u); (*acc)[i + 5u] = fma4((*acc)[i + 5u], xin, w, j, 1u, 1u);
  (*acc)[i + 6u] = fma4((*acc)[i + 6u], xin, w, j, 1u, 2u); (*acc)[i + 7u] = fma4((*acc)[i + 7u], xin, w, j, 1u, 3u);
  (*acc)[i + 8u] = fma4((*acc)[i + 8u], xin, w, j, 2u, 0u); (*acc)[i + 9u] = fma4((*acc)[i + 9u], xin, w, j, 2u, 1u);
  (*acc)[i + 10u] = fma4((*acc)[i + 10u], xin, w, j, 2u, 2u); (*acc)[i + 11u] = fma4((*acc)[i + 11u], xin, w, j, 2u, 3u);
  (*acc)[i + 12u] = fma4((*acc)[i + 12u], xin, w, j, 3u, 0u); (*acc)[i + 13u] = fma4((*acc)[i + 13u], xin, w, j, 3u, 1u);
  (*acc)[i + 14u] = fma4((*acc)[i + 14u], xin, w, j, 3u, 2u); (*acc)[i + 15u] = fma4((*acc)[i + 15u], xin, w, j, 3u, 3u);
}

fn load_in4(xin: ptr<function, FIn4>, w: ptr<function, FW4>, base: u32, g0: u32, c: u32, wb: u32) {
  let k = c * 8u;
  (*xin)[k] = grid4(base, g0); (*xin)[k + 1u] = grid4(base, g0 + 4u); (*xin)[k + 2u] = grid4(base, g0 + 8u);
  (*xin)[k + 3u] = grid4(base, g0 + 12u);
  if (!HALF) {
    (*xin)[k + 4u] = grid4(base, g0 + 16u); (*xin)[k + 5u] = grid4(base, g0 + 20u);
    (*xin)[k + 6u] = grid4(base, g0 + 24u); (*xin)[k + 7u] = grid4(base, g0 + 28u);
  }
  let q = c * 4u;
  (*w)[q] = weight4(wb); (*w)[q + 1u] = weight4(wb + 1u); (*w)[q + 2u] = weight4(wb + 2u);
  (*w)[q + 3u] = weight4(wb + 3u);
}

fn put(b: u32, co: u32, g: u32, v: f32) {
  if (co >= p.Cout || g >= p.plane) { return; }
  if (!SPREAD) {
    y[(b * p.Cout + co) * p.plane + g] = v;
    return;
  }
  // a 1x1 convolution commutes with nearest up-sampling: convolve the coarse grid, write each value 4 times
  let gy = div_floor(g, p.Wc);
  let gx = g - gy * p.Wc;
  let Wo = 2u * p.Wc;
  let at = ((b * p.Cout + co) * 2u * p.Hc + 2u * gy) * Wo + 2u * gx;
  y[at] = v;
  y[at + 1u] = v;
  y[at + Wo] = v;
  y[at + Wo + 1u] = v;
}

// hasBias: 0 none, 1 bias[c], 2 bias[b][c] (one per sample)
fn bias_at(b: u32, c: u32) -> f32 {
  let row = select(0u, b * p.Cout, p.hasBias == 2u);
  return select(0.0, bias[row + min(c, p.Cout - 1u)], p.hasBias != 0u && c < p.Cout);
}

// Component e of the 16 channels of pixel quad j (pixel g), plus the bias.
fn put16(acc: ptr<function, FAcc>, bq: ptr<function, array<vec4<f32>, 4>>, b: u32, co0: u32, g: u32, j: u32, e: u32) {
  let i = j * 16u;
  put(b, co0, g, (*acc)[i][e] + (*bq)[0].x); put(b, co0 + 1u, g, (*acc)[i + 1u][e] + (*bq)[0].y);
  put(b, co0 + 2u, g, (*acc)[i + 2u][e] + (*bq)[0].z); put(b, co0 + 3u, g, (*acc)[i + 3u][e] + (*bq)[0].w);
  put(b, co0 + 4u, g, (*acc)[i + 4u][e] + (*bq)[1].x); put(b, co0 + 5u, g, (*acc)[i + 5u][e] + (*bq)[1].y);
  put(b, co0 + 6u, g, (*acc)[i + 6u][e] + (*bq)[1].z); put(b, co0 + 7u, g, (*acc)[i + 7u][e] + (*bq)[1].w);
  put(b, co0 + 8u, g, (*acc)[i + 8u][e] + (*bq)[2].x); put(b, co0 + 9u, g, (*acc)[i + 9u][e] + (*bq)[2].y);
  put(b, co0 + 10u, g, (*acc)[i + 10u][e] + (*bq)[2].z); put(b, co0 + 11u, g, (*acc)[i + 11u][e] + (*bq)[2].w);
  put(b, co0 + 12u, g, (*acc)[i + 12u][e] + (*bq)[3].x); put(b, co0 + 13u, g, (*acc)[i + 13u][e] + (*bq)[3].y);
  put(b, co0 + 14u, g, (*acc)[i + 14u][e] + (*bq)[3].z); put(b, co0 + 15u, g, (*acc)[i + 15u][e] + (*bq)[3].w);
}

// Pixels 4j..4j+3 after g0 of the 16 channels as vec4 stores (Y4).
fn put16v(acc: ptr<function, FAcc>, bq: ptr<function, array<vec4<f32>, 4>>, b: u32, co0: u32, g0: u32, j: u32) {
  let g = g0 + 4u * j;
  let n = select(0u, p.Cout - co0, g < p.plane);
  let at = ((b * p.Cout + co0) * p.plane + g) / 4u;
  let q = p.plane / 4u;
  let i = j * 16u;
  if (n > 0u) { y4[at] = (*acc)[i] + (*bq)[0].x; }
  if (n > 1u) { y4[at + q] = (*acc)[i + 1u] + (*bq)[0].y; }
  if (n > 2u) { y4[at + 2u * q] = (*acc)[i + 2u] + (*bq)[0].z; }
  if (n > 3u) { y4[at + 3u * q] = (*acc)[i + 3u] + (*bq)[0].w; }
  if (n > 4u) { y4[at + 4u * q] = (*acc)[i + 4u] + (*bq)[1].x; }
  if (n > 5u) { y4[at + 5u * q] = (*acc)[i + 5u] + (*bq)[1].y; }
  if (n > 6u) { y4[at + 6u * q] = (*acc)[i + 6u] + (*bq)[1].z; }
  if (n > 7u) { y4[at + 7u * q] = (*acc)[i + 7u] + (*bq)[1].w; }
  if (n > 8u) { y4[at + 8u * q] = (*acc)[i + 8u] + (*bq)[2].x; }
  if (n > 9u) { y4[at + 9u * q] = (*acc)[i + 9u] + (*bq)[2].y; }
  if (n > 10u) { y4[at + 10u * q] = (*acc)[i + 10u] + (*bq)[2].z; }
  if (n > 11u) { y4[at + 11u * q] = (*acc)[i + 11u] + (*bq)[2].w; }
  if (n > 12u) { y4[at + 12u * q] = (*acc)[i + 12u] + (*bq)[3].x; }
  if (n > 13u) { y4[at + 13u * q] = (*acc)[i + 13u] + (*bq)[3].y; }
  if (n > 14u) { y4[at + 14u * q] = (*acc)[i + 14u] + (*bq)[3].z; }
  if (n > 15u) { y4[at + 15u * q] = (*acc)[i + 15u] + (*bq)[3].w; }
}

// grid: one flat run of workgroups (x, folded into z): run of 8 32-pixel tiles x 16-channel block, blocks fastest.
@compute @workgroup_size(8)
fn conv1_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  // Consecutive workgroups take the channel blocks of one run of 8 tiles, so that all blocks read those
  // pixels while they are in the cache (1.05-1.1x over the blocks along y, each streaming the whole input).
  let group = wid.x + wid.z * nwg.x;
  let blocks = p.coPad / 16u;
  let blk = group % blocks;
  let tile = (group / blocks) * 8u + lid.x;
  if (tile >= p.tiles * p.B) { return; }
  let b = tile / p.tiles;
  let g0 = (tile % p.tiles) * select(32u, 16u, HALF);
  var acc: FAcc;
  var xin: FIn;
  var w: FW;
  let s = p.coPad / 4u;
  let inPlane = p.Hin * p.Win;
  var ci = 0u;
  if (CI4) {
    var xin4: FIn4;
    var w4: FW4;
    for (; ci + 4u <= p.Cin; ci += 4u) {
      let base = (b * p.Cin + ci) * inPlane;
      let wb = b * p.wz + ci * s + blk * 4u;
      load_in4(&xin4, &w4, base, g0, 0u, wb); load_in4(&xin4, &w4, base + inPlane, g0, 1u, wb + s);
      load_in4(&xin4, &w4, base + 2u * inPlane, g0, 2u, wb + 2u * s);
      load_in4(&xin4, &w4, base + 3u * inPlane, g0, 3u, wb + 3u * s);
      col16x4(&acc, &xin4, &w4, 0u); col16x4(&acc, &xin4, &w4, 1u); col16x4(&acc, &xin4, &w4, 2u);
      col16x4(&acc, &xin4, &w4, 3u);
      if (!HALF) {
        col16x4(&acc, &xin4, &w4, 4u); col16x4(&acc, &xin4, &w4, 5u); col16x4(&acc, &xin4, &w4, 6u);
        col16x4(&acc, &xin4, &w4, 7u);
      }
    }
  }
  for (; ci < p.Cin; ci++) {
    let base = (b * p.Cin + ci) * inPlane;
    xin[0] = grid4(base, g0); xin[1] = grid4(base, g0 + 4u); xin[2] = grid4(base, g0 + 8u);
    xin[3] = grid4(base, g0 + 12u);
    if (!HALF) {
      xin[4] = grid4(base, g0 + 16u); xin[5] = grid4(base, g0 + 20u); xin[6] = grid4(base, g0 + 24u);
      xin[7] = grid4(base, g0 + 28u);
    }
    let wb = b * p.wz + ci * s + blk * 4u;
    w[0] = weight4(wb); w[1] = weight4(wb + 1u); w[2] = weight4(wb + 2u); w[3] = weight4(wb + 3u);
    col16(&acc, &xin, &w, 0u); col16(&acc, &xin, &w, 1u); col16(&acc, &xin, &w, 2u); col16(&acc, &xin, &w, 3u);
    if (!HALF) {
      col16(&acc, &xin, &w, 4u); col16(&acc, &xin, &w, 5u); col16(&acc, &xin, &w, 6u); col16(&acc, &xin, &w, 7u);
    }
  }
  let co0 = blk * 16u;
  var bq: array<vec4<f32>, 4>;
  for (var k = 0u; k < 4u; k++) {
    let c = co0 + 4u * k;
    bq[k] = vec4<f32>(bias_at(b, c), bias_at(b, c + 1u), bias_at(b, c + 2u), bias_at(b, c + 3u));
  }
  if (Y4 && !SPREAD) {
    put16v(&acc, &bq, b, co0, g0, 0u); put16v(&acc, &bq, b, co0, g0, 1u);
    put16v(&acc, &bq, b, co0, g0, 2u); put16v(&acc, &bq, b, co0, g0, 3u);
    if (!HALF) {
      put16v(&acc, &bq, b, co0, g0, 4u); put16v(&acc, &bq, b, co0, g0, 5u);
      put16v(&acc, &bq, b, co0, g0, 6u); put16v(&acc, &bq, b, co0, g0, 7u);
    }
    return;
  }
  // one store per accumulator in the code, the loop runs over the vector component
  for (var e = 0u; e < 4u; e++) {
    put16(&acc, &bq, b, co0, g0 + e, 0u, e); put16(&acc, &bq, b, co0, g0 + 4u + e, 1u, e);
    put16(&acc, &bq, b, co0, g0 + 8u + e, 2u, e); put16(&acc, &bq, b, co0, g0 + 12u + e, 3u, e);
    if (!HALF) {
      put16(&acc, &bq, b, co0, g0 + 16u + e, 4u, e); put16(&acc, &bq, b, co0, g0 + 20u + e, 5u, e);
      put16(&acc, &bq, b, co0, g0 + 24u + e, 6u, e); put16(&acc, &bq, b, co0, g0 + 28u + e, 7u, e);
    }
  }
}

// ------------------------------------------------------------------ conv1_grad_weight

// WIDE: 16 input channels per thread instead of 8: every dy value loaded feeds twice the FMAs (loads are
// most of this kernel's cost).
override WIDE: bool = false;

alias GAcc = array<f32, 256>;        // [output channel 16][input channel 16]
alias GU = array<vec4<f32>, 32>;     // [input channel 16][pixel quad 2]
alias GD = array<vec4<f32>, 32>;     // [output channel 16][pixel quad 2]

// dy of grid pixels g..g+3 of the plane starting at `base` (dy has the grid's size, read plainly).
fn dy_quad(base: u32, g: u32) -> vec4<f32> {
  if (VEC4) {
    let i = (base + min(g, p.plane - 4u)) / 4u;
    if (IMGD) { return select(vec4<f32>(0.0), textureLoad(di, texel(i)), g < p.plane); }
    return select(vec4<f32>(0.0), dy4[i], g < p.plane);
  }
  let last = p.plane - 1u;
  let m = vec4<f32>(select(0.0, 1.0, g < p.plane), select(0.0, 1.0, g + 1u < p.plane),
                    select(0.0, 1.0, g + 2u < p.plane), select(0.0, 1.0, g + 3u < p.plane));
  return vec4<f32>(dy[base + min(g, last)], dy[base + min(g + 1u, last)], dy[base + min(g + 2u, last)],
                   dy[base + min(g + 3u, last)]) * m;
}

// Input channels per thread: 4 (HALF), 8, or 16 (WIDE).
fn ci_block() -> u32 {
  return select(select(8u, 16u, WIDE), 4u, HALF);
}

// One accumulator per channel pair, visited once per 8 pixels (its stores dominated with a vec4 per pair).
fn fma2(acc: ptr<function, GAcc>, u: ptr<function, GU>, i: u32, c: u32, d0: vec4<f32>, d1: vec4<f32>) {
  (*acc)[i + c] += dot(d0, (*u)[2u * c]) + dot(d1, (*u)[2u * c + 1u]);
}

// Output channel co's sums with the block's input channels over 8 pixels.
fn row_co(acc: ptr<function, GAcc>, u: ptr<function, GU>, d: ptr<function, GD>, co: u32) {
  let i = co * 16u;
  let d0 = (*d)[co * 2u];
  let d1 = (*d)[co * 2u + 1u];
  fma2(acc, u, i, 0u, d0, d1); fma2(acc, u, i, 1u, d0, d1); fma2(acc, u, i, 2u, d0, d1); fma2(acc, u, i, 3u, d0, d1);
  if (!HALF) {
    fma2(acc, u, i, 4u, d0, d1); fma2(acc, u, i, 5u, d0, d1); fma2(acc, u, i, 6u, d0, d1); fma2(acc, u, i, 7u, d0, d1);
  }
  if (WIDE) {
    fma2(acc, u, i, 8u, d0, d1); fma2(acc, u, i, 9u, d0, d1); fma2(acc, u, i, 10u, d0, d1);
    fma2(acc, u, i, 11u, d0, d1); fma2(acc, u, i, 12u, d0, d1); fma2(acc, u, i, 13u, d0, d1);
    fma2(acc, u, i, 14u, d0, d1); fma2(acc, u, i, 15u, d0, d1);
  }
}

fn co_quad(acc: ptr<function, GAcc>, co: u32, c: u32) -> vec4<f32> {
  return vec4<f32>((*acc)[co * 16u + c], (*acc)[(co + 1u) * 16u + c], (*acc)[(co + 2u) * 16u + c],
                   (*acc)[(co + 3u) * 16u + c]);
}

// Input channel c's sums for the 16 output channels, as 4 vec4 over output channels.
fn put_channel(acc: ptr<function, GAcc>, chunk: u32, ci0: u32, c: u32, qb: u32) {
  let ci = ci0 + c;
  if (ci >= p.Cin) { return; }
  let at = (chunk * p.Cin + ci) * (p.coPad / 4u) + qb;
  part[at] = co_quad(acc, 0u, c);
  part[at + 1u] = co_quad(acc, 4u, c);
  part[at + 2u] = co_quad(acc, 8u, c);
  part[at + 3u] = co_quad(acc, 12u, c);
}

fn load_u(u: ptr<function, GU>, ub: ptr<function, array<u32, 16>>, c: u32, g: u32) {
  (*u)[2u * c] = grid4((*ub)[c], g);
  (*u)[2u * c + 1u] = grid4((*ub)[c], g + 4u);
}

fn load_d(d: ptr<function, GD>, db: ptr<function, array<u32, 16>>, co: u32, g: u32) {
  (*d)[2u * co] = dy_quad((*db)[co], g);
  (*d)[2u * co + 1u] = dy_quad((*db)[co], g + 4u);
}

// grid: x = chunk (B * chunksPerImage), y = 16-channel output block, z = input block (ci_block()).
@compute @workgroup_size(8)
fn conv1_grad_weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let chunk = gid.x;
  if (chunk >= p.B * p.chunksPerImage) { return; }
  let b = chunk / p.chunksPerImage;
  let g0 = (chunk % p.chunksPerImage) * p.groupsPerChunk * 8u;
  let g1 = min(g0 + p.groupsPerChunk * 8u, p.plane);
  let co0 = wid.y * 16u;
  let ci0 = wid.z * ci_block();
  let inPlane = p.Hin * p.Win;
  // Channels past the end are clamped: their sums are computed but never stored.
  var ub: array<u32, 16>;
  for (var k = 0u; k < 16u; k++) { ub[k] = (b * p.Cin + min(ci0 + k, p.Cin - 1u)) * inPlane; }
  var db: array<u32, 16>;
  for (var k = 0u; k < 16u; k++) { db[k] = (b * p.Cout + min(co0 + k, p.Cout - 1u)) * p.plane; }
  var acc: GAcc;
  var u: GU;
  var d: GD;
  for (var g = g0; g < g1; g += 8u) {
    load_u(&u, &ub, 0u, g); load_u(&u, &ub, 1u, g); load_u(&u, &ub, 2u, g); load_u(&u, &ub, 3u, g);
    if (!HALF) {
      load_u(&u, &ub, 4u, g); load_u(&u, &ub, 5u, g); load_u(&u, &ub, 6u, g); load_u(&u, &ub, 7u, g);
    }
    if (WIDE) {
      load_u(&u, &ub, 8u, g); load_u(&u, &ub, 9u, g); load_u(&u, &ub, 10u, g); load_u(&u, &ub, 11u, g);
      load_u(&u, &ub, 12u, g); load_u(&u, &ub, 13u, g); load_u(&u, &ub, 14u, g); load_u(&u, &ub, 15u, g);
    }
    load_d(&d, &db, 0u, g); load_d(&d, &db, 1u, g); load_d(&d, &db, 2u, g); load_d(&d, &db, 3u, g);
    load_d(&d, &db, 4u, g); load_d(&d, &db, 5u, g); load_d(&d, &db, 6u, g); load_d(&d, &db, 7u, g);
    load_d(&d, &db, 8u, g); load_d(&d, &db, 9u, g); load_d(&d, &db, 10u, g); load_d(&d, &db, 11u, g);
    load_d(&d, &db, 12u, g); load_d(&d, &db, 13u, g); load_d(&d, &db, 14u, g); load_d(&d, &db, 15u, g);
    row_co(&acc, &u, &d, 0u); row_co(&acc, &u, &d, 1u); row_co(&acc, &u, &d, 2u); row_co(&acc, &u, &d, 3u);
    row_co(&acc, &u, &d, 4u); row_co(&acc, &u, &d, 5u); row_co(&acc, &u, &d, 6u); row_co(&acc, &u, &d, 7u);
    row_co(&acc, &u, &d, 8u); row_co(&acc, &u, &d, 9u); row_co(&acc, &u, &d, 10u); row_co(&acc, &u, &d, 11u);
    row_co(&acc, &u, &d, 12u); row_co(&acc, &u, &d, 13u); row_co(&acc, &u, &d, 14u); row_co(&acc, &u, &d, 15u);
  }
  let qb = wid.y * 4u;
  put_channel(&acc, chunk, ci0, 0u, qb); put_channel(&acc, chunk, ci0, 1u, qb);
  put_channel(&acc, chunk, ci0, 2u, qb); put_channel(&acc, chunk, ci0, 3u, qb);
  if (!HALF) {
    put_channel(&acc, chunk, ci0, 4u, qb); put_channel(&acc, chunk, ci0, 5u, qb);
    put_channel(&acc, chunk, ci0, 6u, qb); put_channel(&acc, chunk, ci0, 7u, qb);
  }
  if (WIDE) {
    put_channel(&acc, chunk, ci0, 8u, qb); put_channel(&acc, chunk, ci0, 9u, qb);
    put_channel(&acc, chunk, ci0, 10u, qb); put_channel(&acc, chunk, ci0, 11u, qb);
    put_channel(&acc, chunk, ci0, 12u, qb); put_channel(&acc, chunk, ci0, 13u, qb);
    put_channel(&acc, chunk, ci0, 14u, qb); put_channel(&acc, chunk, ci0, 15u, qb);
  }
}
