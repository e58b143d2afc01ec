// Convolution (k = 1 or 3, zero padding k / 2, stride 1) for the "gpu" kernel profile: tiles staged in
// workgroup memory, one output value per thread. Forward (also grad-input, with the flipped, transposed
// weights) and grad-weight. Same grids, read modes and store modes as kernels/conv2d_k3.wgsl:
//   the convolution runs on a grid (Hc x Wc) read from x (Hin x Win): plain, up or down (pooled; here
//   chosen at run time by p.down), times inScale (kernels/lib/grid.wgsl); storeMode 0 plain (+ bias), 1 the 2x2 sum of grid pixels per output pixel, 2 each grid pixel spread
//   over a 2x2 output block; times outScale.
//
// gpu_forward: workgroup 16 x 16 threads = a 16 x 16 grid tile x 8 output channels; input channels in
//   chunks of 2: the input tiles with their halo and the chunk's weights are staged in workgroup memory.
//   wt: [Cin][tap][coPad] (coPad a multiple of 8).
// gpu_grad_weight: workgroup 16 x 16 = 16 output channels x 16 (input channel, tap) pairs; the pixels of
//   the chunk are visited 16 at a time, dy and the im2col'd input staged in workgroup memory.
//   part[chunk][ci][tap][coPad] gets the chunk's sums (kernels/conv2d.wgsl:grad_weight_reduce adds them).

struct Params {
  B: u32,
  Cin: u32,
  Cout: u32,
  Hin: u32,
  Win: u32,
  Hc: u32,
  Wc: u32,
  k: u32,
  up: u32,
  down: u32,
  coPad: u32,
  hasBias: u32,
  storeMode: u32,
  Ho: u32,
  Wo: u32,
  inScale: f32,        
  outScale: f32,       
  tilesX: u32,         // forward: 16-wide tiles per row
  chunks: u32,         // grad-weight
  pixelsPerChunk: u32, // grad-weight: grid pixels (over B * Hc * Wc) per chunk
  resScale: f32,       // forward, plain store: y = outScale * (conv + bias) + resScale * res (0: no res)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> part: array<f32>;
@group(0) @binding(7) var<storage, read> res: array<f32>;  // a residual added in the store, shaped like y

// Workgroup arrays stay small: on the OpenGL backend their zero-initialisation compiles in time
// quadratic in their size (3168 floats: 50 s; 800: about 3 s).
const CI = 2u;            // input channels per staged chunk (forward)
const TILE_IN = 324u;     // (16 + 2)^2: input tile with the widest halo
var<workgroup> sh: array<f32, 792>;      // forward: CI * TILE_IN inputs, then 8 * CI * 9 weights; results
var<workgroup> gtile: array<f32, 512>;   // grad-weight: dy[16][16], then the input column[16][16]

#include "lib/grid.wgsl"

// Grid value (gy, gx) of channel plane `base` of x, zero outside the grid and outside x.
fn grid_value(base: u32, gy: i32, gx: i32) -> f32 {
  if (gy < 0 || gx < 0 || gy >= i32(p.Hc) || gx >= i32(p.Wc)) { return 0.0; }
  let src = grid_source(u32(gy), u32(gx));
  if (!src.ok) { return 0.0; }
  return grid_fetch(base + src.at, p.down != 0u) * p.inScale;
}

fn store(b: u32, co: u32, oy: u32, ox: u32, v: f32) {
  if (co < p.Cout && oy < p.Ho && ox < p.Wo) {
    let i = ((b * p.Cout + co) * p.Ho + oy) * p.Wo + ox;
    y[i] = v * p.outScale + select(0.0, p.resScale * res[i], p.resScale != 0.0);
  }
}

// grid: x = tile (tilesX per tile row, then tile rows, then batch) folded as x + y * nwg.x, z = 8-channel block
@compute @workgroup_size(16, 16)
fn gpu_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
  let tilesY = (p.Hc + 15u) / 16u;
  let tile = wid.x + wid.y * nwg.x;
  let b = tile / (p.tilesX * tilesY);
  let valid = b < p.B;  // every thread still takes part in the barriers
  let tt = tile % (p.tilesX * tilesY);
  let gy0 = i32((tt / p.tilesX) * 16u);
  let gx0 = i32((tt % p.tilesX) * 16u);
  let co0 = wid.z * 8u;
  let t = lid.y * 16u + lid.x;
  let half = i32(p.k / 2u);
  let span = 16u + p.k - 1u;           // staged tile side
  let taps = p.k * p.k;
  let plane = p.Hin * p.Win;
  var acc: array<f32, 8>;
  for (var c0 = 0u; c0 < p.Cin; c0 += CI) {
    // stage the input tiles of channels c0..c0+7 and their weights
    for (var i = t; i < CI * span * span; i += 256u) {
      let c = i / (span * span);
      let r = (i / span) % span;
      let q = i % span;
      var v = 0.0;
      if (valid && c0 + c < p.Cin) {
        v = grid_value((b * p.Cin + c0 + c) * plane, gy0 + i32(r) - half, gx0 + i32(q) - half);
      }
      sh[c * TILE_IN + r * span + q] = v;
    }
    for (var i = t; i < CI * taps * 8u; i += 256u) {
      let c = i / (taps * 8u);
      let rest = i % (taps * 8u);
      var v = 0.0;
      if (c0 + c < p.Cin) { v = wt[((c0 + c) * taps + rest / 8u) * p.coPad + co0 + rest % 8u]; }
      sh[CI * TILE_IN + i] = v;
    }
    workgroupBarrier();
    for (var c = 0u; c < CI; c++) {
      for (var tap = 0u; tap < taps; tap++) {
        let v = sh[c * TILE_IN + (lid.y + tap / p.k) * span + lid.x + tap % p.k];
        let wb = CI * TILE_IN + (c * taps + tap) * 8u;
        for (var o = 0u; o < 8u; o++) { acc[o] = fma(v, sh[wb + o], acc[o]); }
      }
    }
    workgroupBarrier();
  }
  let gy = u32(gy0) + lid.y;
  let gx = u32(gx0) + lid.x;
  if (p.storeMode == 1u) {
    // the four grid pixels of each output pixel belong to four threads: meet in workgroup memory
    for (var o = 0u; o < 8u; o++) {
      sh[t] = acc[o];
      workgroupBarrier();
      if (valid && lid.x % 2u == 0u && lid.y % 2u == 0u) {
        store(b, co0 + o, gy / 2u, gx / 2u, sh[t] + sh[t + 1u] + sh[t + 16u] + sh[t + 17u]);
      }
      workgroupBarrier();
    }
    return;
  }
  if (!valid || gy >= p.Hc || gx >= p.Wc) { return; }
  for (var o = 0u; o < 8u; o++) {
    let co = co0 + o;
    var v = acc[o];
    if (p.hasBias != 0u && co < p.Cout) { v += bias[co + select(0u, b * p.Cout, p.hasBias == 2u)]; }
    if (p.storeMode == 2u) {
      store(b, co, 2u * gy, 2u * gx, v); store(b, co, 2u * gy, 2u * gx + 1u, v);
      store(b, co, 2u * gy + 1u, 2u * gx, v); store(b, co, 2u * gy + 1u, 2u * gx + 1u, v);
    } else {
      store(b, co, gy, gx, v);
    }
  }
}

// grid: x = 16-channel output block, y = block of 16 (input channel, tap) pairs, z = chunk
@compute @workgroup_size(16, 16)
fn gpu_grad_weight(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let taps = p.k * p.k;
  let half = i32(p.k / 2u);
  let t = lid.y * 16u + lid.x;
  let plane = p.Hc * p.Wc;
  let total = p.B * plane;
  let start = wid.z * p.pixelsPerChunk;
  let end = min(start + p.pixelsPerChunk, total);
  let co = wid.x * 16u + lid.y;     // this thread's output channel
  let kk = wid.y * 16u + lid.x;     // this thread's (input channel, tap) pair
  var acc = 0.0;
  for (var q0 = start; q0 < end; q0 += 16u) {
    // stage dy[16 channels][16 pixels] at 0 and the input column[16 pairs][16 pixels] at 256
    {
      let px = q0 + lid.x;
      let c = wid.x * 16u + lid.y;
      var v = 0.0;
      if (px < end && c < p.Cout) {
        let b = px / plane;
        v = dy[(b * p.Cout + c) * plane + px % plane];
      }
      gtile[lid.y * 16u + lid.x] = v;
    }
    {
      let px = q0 + lid.x;
      let pair = wid.y * 16u + lid.y;
      var v = 0.0;
      if (px < end && pair < p.Cin * taps) {
        let b = px / plane;
        let g = px % plane;
        let ci = pair / taps;
        let tap = pair % taps;
        let gy = i32(g / p.Wc) + i32(tap / p.k) - half;
        let gx = i32(g % p.Wc) + i32(tap % p.k) - half;
        v = grid_value((b * p.Cin + ci) * p.Hin * p.Win, gy, gx);
      }
      gtile[256u + lid.y * 16u + lid.x] = v;
    }
    workgroupBarrier();
    for (var i = 0u; i < 16u; i++) {
      acc = fma(gtile[lid.y * 16u + i], gtile[256u + lid.x * 16u + i], acc);
    }
    workgroupBarrier();
  }
  if (co < p.Cout && kk < p.Cin * taps) {
    part[(wid.z * p.Cin * taps + kk) * p.coPad + co] = acc;
  }
}
