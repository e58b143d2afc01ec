// Winograd F(4x4, 3x3) for the plain 3x3 convolution (stride 1, zero padding 1) on CPU rasterisers
// (src/ops/conv2d_winograd.ts). A 3x3 convolution of a 6x6 input tile d gives a 4x4 output tile
//   Y = A^T [ (G g G^T) . (B^T d B) ] A
// with 36 products per (input, output) channel pair instead of 144: the products are 36 matrix products
// (one per position of the 6x6 transformed tile), between three passes here:
//   wino_weights  U^T[pos][k][m] = (G g G^T)[pos] for input channel k, output channel m, rows zero-padded
//                 to Cpad = M rounded up to 16 (once per weight version); TRANSPOSED: g = w[k][m] flipped
//                 (the input gradient)
//   (products)    M[pos][m][t] = sum_k U[pos][m][k] V[pos][k][t] with the 1x1 convolution's kernel
//                 (conv2d_k1.wgsl: positions as images, one weight matrix each), or for few tiles
//                 M^T[pos][t][m] = V[pos]^T U^T[pos] with matmul_rb
//   wino_input    V[pos][k][t] = (B^T d B)[pos] of input tile t (UP: of x up-sampled 2x, read through;
//                 NORM: of GroupNorm(x) (+ SiLU), normalised as it is read)
//   wino_output   y = outScale * (A^T M A + bias) + resScale * res, from M[pos][m][t]
//   wino_output_t the same from M^T[pos][t][m] (products with the tiles as rows, for few tiles)
// and the weight gradient of the forward, the same computation's adjoint:
//   wino_grad_output  E[pos][t][m] = (A dy A^T)[pos] of output tile t, m padded to Cpad (a multiple of 4)
//   wino_input_t      V^T[pos][t][k], the input transform tile-major (k padded to 16)
//   (products)        dU^T[pos][k][m] = sum_t V^T[pos][t][k] E[pos][t][m] with the 1x1 convolution's
//                     kernel: the tiles as its input channels, V^T as its weights, m as its pixels
//   wino_grad_weights dw[m][k] = G^T dU G
// Interpolation points 0, -1, 1, 1/2, -2 (and infinity): 3-4x less rounding error than the usual
// 0, +-1, +-2 (Barabasz et al., "Error analysis and improving the accuracy of Winograd convolution").
// Tiles are numbered t = (b * tilesY + ty) * tilesX + tx with tilesX a multiple of 4 (padding tiles see
// zeros and are never stored), so a thread takes 4 tiles along x and every value is a vec4 over them.

struct Params {
  B: u32, Cin: u32, Cout: u32, H: u32,
  W: u32, tilesY: u32, tilesX: u32, N: u32,
  Cpad: u32, hasBias: u32, outScale: f32, resScale: f32,
  rowsPer: u32, // wino_input: tile rows a thread walks down
  cpg: u32,     // wino_input with NORM: channels per GroupNorm group
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> v4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x4: array<vec4<f32>>; // the same buffer as x
@group(0) @binding(1) var<storage, read> m4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> res: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> res4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> du4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;

// wino_weights reads w[k][m] flipped (the input gradient's weights) instead of w[m][k].
override TRANSPOSED: bool = false;
// wino_input reads x nearest-up-sampled 2x (H and W are the grid's, twice x's).
override UP: bool = false;
// wino_input: W a multiple of 16, so a quad's inner input columns are 4 aligned vec4s of a row (not UP).
override ROW4: bool = false;
// wino_input convolves GroupNorm(x) (NORM; + SiLU with NSILU), normalising x as it reads it: the
// normalised tensor is never written (src/ops/conv2d.ts, `normalize`). Zero padding stays zero.
override NORM: bool = false;
override NSILU: bool = false;
@group(0) @binding(4) var<storage, read> nstats: array<f32>; // (mean, rstd) per (sample, group)
@group(0) @binding(5) var<storage, read> ngamma: array<f32>;
@group(0) @binding(6) var<storage, read> nbeta: array<f32>;
// the thread's channel: (x - mean) * scale + shift, as kernels/groupnorm.wgsl computes it
var<private> n_mean: f32;
var<private> n_scale: f32;
var<private> n_shift: f32;
// wino_output: y = ... + resScale * res.
override RESIDUAL: bool = false;
// wino_output: W a multiple of 4, so a tile's output rows are whole aligned vec4s.
override Y4: bool = false;

#include "lib/index.wgsl"

alias Col3 = array<f32, 3>;
alias Col6 = array<f32, 6>;
alias Row6 = array<vec4<f32>, 6>;

// G c for a 3-vector c: the 6 values of the weight's transform along one axis.
fn g6(c0: f32, c1: f32, c2: f32) -> Col6 {
  return Col6(
    c0,
    (-c0 + c1 - c2) / 3.0,
    (c0 + c1 + c2) / 3.0,
    -(16.0 * c0 + 8.0 * c1 + 4.0 * c2) / 15.0,
    (c0 - 2.0 * c1 + 4.0 * c2) / 15.0,
    c2,
  );
}

// B^T d for 6 values along one axis.
fn bt6(d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32>, d4: vec4<f32>, d5: vec4<f32>) -> Row6 {
  return Row6(
    d0 - 1.5 * d1 - 2.0 * d2 + 1.5 * d3 + d4,
    d1 - 2.5 * d2 + 0.5 * d3 + d4,
    -d1 + 0.5 * d2 + 2.5 * d3 + d4,
    -2.0 * d1 - d2 + 2.0 * d3 + d4,
    0.5 * d1 - d2 - 0.5 * d3 + d4,
    d1 - 1.5 * d2 - 2.0 * d3 + 1.5 * d4 + d5,
  );
}

// A^T m for 6 values along one axis: the 4 outputs.
fn at4(m0: vec4<f32>, m1: vec4<f32>, m2: vec4<f32>, m3: vec4<f32>, m4: vec4<f32>, m5: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(
    m0 + m1 + m2 + m3 + m4,
    -m1 + m2 + 0.5 * m3 - 2.0 * m4,
    m1 + m2 + 0.25 * m3 + 4.0 * m4,
    -m1 + m2 + 0.125 * m3 - 8.0 * m4 + m5,
  );
}

// ------------------------------------------------------------------ wino_weights
// grid: x = m < Cpad (workgroups of 64), y = k < Cin: the lanes store consecutive floats of U^T (with k
// along the lanes, each workgroup of m wrote one float of every cache line: 2.2x slower).

fn tap(m: u32, k: u32, ky: u32, kx: u32) -> f32 {
  if (TRANSPOSED) { return w[((k * p.Cout + m) * 3u + 2u - ky) * 3u + 2u - kx]; }
  return w[((m * p.Cin + k) * 3u + ky) * 3u + kx];
}

fn weight_col(at: u32, stride: u32, j: u32, c: Col6) {
  u[(0u * 6u + j) * stride + at] = c[0];
  u[(1u * 6u + j) * stride + at] = c[1];
  u[(2u * 6u + j) * stride + at] = c[2];
  u[(3u * 6u + j) * stride + at] = c[3];
  u[(4u * 6u + j) * stride + at] = c[4];
  u[(5u * 6u + j) * stride + at] = c[5];
}

@compute @workgroup_size(64)
fn wino_weights(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = gid.x;
  let k = gid.y;
  if (m >= p.Cpad) { return; }
  let stride = p.Cin * p.Cpad; // between positions of U^T[pos][k][m]
  let at = k * p.Cpad + m;
  // padding channels m >= Cout: zeros (read the last channel, times 0: no branch, whose both sides run)
  let on = select(0.0, 1.0, m < p.Cout);
  let mc = min(m, p.Cout - 1u);
  // G g along x for each of the 3 rows of the kernel, then G along y for each of the 6 columns.
  let r0 = g6(on * tap(mc, k, 0u, 0u), on * tap(mc, k, 0u, 1u), on * tap(mc, k, 0u, 2u));
  let r1 = g6(on * tap(mc, k, 1u, 0u), on * tap(mc, k, 1u, 1u), on * tap(mc, k, 1u, 2u));
  let r2 = g6(on * tap(mc, k, 2u, 0u), on * tap(mc, k, 2u, 1u), on * tap(mc, k, 2u, 2u));
  weight_col(at, stride, 0u, g6(r0[0], r1[0], r2[0]));
  weight_col(at, stride, 1u, g6(r0[1], r1[1], r2[1]));
  weight_col(at, stride, 2u, g6(r0[2], r1[2], r2[2]));
  weight_col(at, stride, 3u, g6(r0[3], r1[3], r2[3]));
  weight_col(at, stride, 4u, g6(r0[4], r1[4], r2[4]));
  weight_col(at, stride, 5u, g6(r0[5], r1[5], r2[5]));
}

// ------------------------------------------------------------------ wino_input
// grid: x (folded into y) = quad of 4 tiles along x, z = input channel.

// The grid (row, column) of channel plane `base`, 0 outside the image; UP: x nearest-up-sampled 2x, the
// grid H x W reading x's (H / 2) x (W / 2).
fn inside(row: i32, col: i32) -> bool {
  return row >= 0 && row < i32(p.H) && col >= 0 && col < i32(p.W);
}

fn xat(base: u32, row: i32, col: i32) -> f32 {
  let ok = inside(row, col);
  let r = u32(clamp(row, 0, i32(p.H) - 1));
  let c = u32(clamp(col, 0, i32(p.W) - 1));
  if (UP) { return select(0.0, x[base + (r >> 1u) * (p.W >> 1u) + (c >> 1u)], ok); }
  return select(0.0, x[base + r * p.W + c], ok);
}

// GroupNorm (+ SiLU) of values of the thread's channel (NORM).
fn normed(v: vec4<f32>) -> vec4<f32> {
  let a = (v - n_mean) * n_scale + n_shift;
  if (NSILU) { return a / (1.0 + exp(-a)); }
  return a;
}

// xat for wino_input: normalised with NORM, padding left at zero.
fn xin(base: u32, row: i32, col: i32) -> f32 {
  if (!NORM) { return xat(base, row, col); }
  return select(0.0, normed(vec4<f32>(xat(base, row, col))).x, inside(row, col)); // the unused lanes are dead code
}

// Row `row` of the 4 tiles' 6x6 inputs, transformed along x: entry j is vec4 over the tiles.
fn input_row(base: u32, row: i32, col0: i32) -> Row6 {
  var c: array<f32, 18>; // explicit constant indices: a loop's dynamic index would move c to memory
  c[0] = xin(base, row, col0); c[1] = xin(base, row, col0 + 1); c[2] = xin(base, row, col0 + 2);
  c[3] = xin(base, row, col0 + 3); c[4] = xin(base, row, col0 + 4); c[5] = xin(base, row, col0 + 5);
  c[6] = xin(base, row, col0 + 6); c[7] = xin(base, row, col0 + 7); c[8] = xin(base, row, col0 + 8);
  c[9] = xin(base, row, col0 + 9); c[10] = xin(base, row, col0 + 10); c[11] = xin(base, row, col0 + 11);
  c[12] = xin(base, row, col0 + 12); c[13] = xin(base, row, col0 + 13); c[14] = xin(base, row, col0 + 14);
  c[15] = xin(base, row, col0 + 15); c[16] = xin(base, row, col0 + 16); c[17] = xin(base, row, col0 + 17);
  return bt6(
    vec4<f32>(c[0], c[4], c[8], c[12]),
    vec4<f32>(c[1], c[5], c[9], c[13]),
    vec4<f32>(c[2], c[6], c[10], c[14]),
    vec4<f32>(c[3], c[7], c[11], c[15]),
    vec4<f32>(c[4], c[8], c[12], c[16]),
    vec4<f32>(c[5], c[9], c[13], c[17]),
  );
}

// Column j of a transform along y (positions 6i + j, i = 0..5) stored at vec4 index `at` of position 0:
// V for wino_input, E for wino_grad_output (the same binding).
fn store_col(at: u32, stride: u32, j: u32, c: Row6) {
  v4[(0u * 6u + j) * stride + at] = c[0];
  v4[(1u * 6u + j) * stride + at] = c[1];
  v4[(2u * 6u + j) * stride + at] = c[2];
  v4[(3u * 6u + j) * stride + at] = c[3];
  v4[(4u * 6u + j) * stride + at] = c[4];
  v4[(5u * 6u + j) * stride + at] = c[5];
}

// The 6 rows of a transformed-along-x input tile, transformed along y and stored: position 6i + j of V (or
// V^T) at vec4 index at + (6i + j) * stride.
fn store_tile(at: u32, stride: u32, e0: Row6, e1: Row6, e2: Row6, e3: Row6, e4: Row6, e5: Row6) {
  store_col(at, stride, 0u, bt6(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0]));
  store_col(at, stride, 1u, bt6(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1]));
  store_col(at, stride, 2u, bt6(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2]));
  store_col(at, stride, 3u, bt6(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3]));
  store_col(at, stride, 4u, bt6(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4]));
  store_col(at, stride, 5u, bt6(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5]));
}

// Row `row` of the 4 tiles' inputs as input_row, for ROW4: the 16 inner columns col0 + 1 .. col0 + 16 as 4
// aligned vec4 loads (W a multiple of 16, so they never cross the row), the 2 outer ones as scalars.
fn input_row4(base: u32, row: i32, col0: i32) -> Row6 {
  let on = select(0.0, 1.0, row >= 0 && row < i32(p.H));
  let at = (base + u32(clamp(row, 0, i32(p.H) - 1)) * p.W + u32(col0 + 1)) / 4u;
  let a = norm4(x4[at]) * on;
  let b = norm4(x4[at + 1u]) * on;
  let c = norm4(x4[at + 2u]) * on;
  let d = norm4(x4[at + 3u]) * on;
  let l = xin(base, row, col0);
  let r = xin(base, row, col0 + 17);
  return bt6(vec4<f32>(l, a.w, b.w, c.w), vec4<f32>(a.x, b.x, c.x, d.x), vec4<f32>(a.y, b.y, c.y, d.y),
             vec4<f32>(a.z, b.z, c.z, d.z), vec4<f32>(a.w, b.w, c.w, d.w), vec4<f32>(b.x, c.x, d.x, r));
}

fn norm4(v: vec4<f32>) -> vec4<f32> {
  if (NORM) { return normed(v); }
  return v;
}

fn row_of(base: u32, row: i32, col0: i32) -> Row6 {
  if (ROW4) { return input_row4(base, row, col0); }
  return input_row(base, row, col0);
}

// grid: x (folded into y) = quad of 4 tiles along x in one run of rowsPer tile rows of an image, quads
// fastest, z = input channel. A thread walks down its run: the last 2 of a tile's 6 input rows are the
// first 2 of the next one's (a third fewer loads and row transforms).
@compute @workgroup_size(8)
fn wino_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 8u);
  let quads = p.tilesX / 4u;
  let runs = (p.tilesY + p.rowsPer - 1u) / p.rowsPer;
  if (i >= p.B * runs * quads) { return; }
  let ci = gid.z;
  let tx0 = (i % quads) * 4u;
  let run = i / quads;
  let b = run / runs;
  let ty0 = (run % runs) * p.rowsPer;
  let base = (b * p.Cin + ci) * select(p.H * p.W, (p.H >> 1u) * (p.W >> 1u), UP);
  if (NORM) {
    let q = (b * p.Cin + ci) / p.cpg; // groups are contiguous channel blocks
    n_mean = nstats[2u * q];
    n_scale = nstats[2u * q + 1u] * ngamma[ci];
    n_shift = nbeta[ci];
  }
  let col0 = i32(tx0 * 4u) - 1;
  let stride = p.Cin * p.N / 4u;
  var e0 = row_of(base, i32(ty0 * 4u) - 1, col0);
  var e1 = row_of(base, i32(ty0 * 4u), col0);
  for (var ty = ty0; ty < min(ty0 + p.rowsPer, p.tilesY); ty++) {
    let row0 = i32(ty * 4u) - 1;
    let e2 = row_of(base, row0 + 2, col0);
    let e3 = row_of(base, row0 + 3, col0);
    let e4 = row_of(base, row0 + 4, col0);
    let e5 = row_of(base, row0 + 5, col0);
    let t4 = ((b * p.tilesY + ty) * p.tilesX + tx0) / 4u; // vec4 index of the quad within a row of V
    store_tile(ci * p.N / 4u + t4, stride, e0, e1, e2, e3, e4, e5);
    e0 = e4;
    e1 = e5;
  }
}

// ------------------------------------------------------------------ wino_input_t
// V^T[pos][t][k] for k < Cpad (zero past Cin): the same transform tile-major, for the weight gradient's
// products through the 1x1 kernel (src/ops/conv2d_winograd.ts), which take V^T as their weights.
// grid: x = quad of input channels (vec4 values over them), y (folded into z) = tile t < N: a SIMD batch of
// lanes stores 8 consecutive vec4s (tiles along the lanes scattered them 2.5x slower).

// The 4 channel planes' (row, column): `planes` their offsets (clamped to the last channel), `on` 0 for
// channels past Cin.
fn xat4(planes: vec4<u32>, on: vec4<f32>, row: i32, col: i32) -> vec4<f32> {
  return on * vec4<f32>(xat(planes.x, row, col), xat(planes.y, row, col), xat(planes.z, row, col),
                        xat(planes.w, row, col));
}

// Row `row` of the tile's 6x6 input for the 4 channels, transformed along x.
fn input_row_t(planes: vec4<u32>, on: vec4<f32>, row: i32, col0: i32) -> Row6 {
  return bt6(xat4(planes, on, row, col0), xat4(planes, on, row, col0 + 1), xat4(planes, on, row, col0 + 2),
             xat4(planes, on, row, col0 + 3), xat4(planes, on, row, col0 + 4), xat4(planes, on, row, col0 + 5));
}

@compute @workgroup_size(8)
fn wino_input_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = gid.x;
  let t = gid.y + gid.z * nwg.y;
  if (q >= p.Cpad / 4u || t >= p.N) { return; }
  let tx = t % p.tilesX;
  let by = t / p.tilesX;
  let b = by / p.tilesY;
  let ty = by % p.tilesY;
  let k = vec4<u32>(q * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
  let on = select(vec4<f32>(0.0), vec4<f32>(1.0), k < vec4<u32>(p.Cin));
  let plane = select(p.H * p.W, (p.H >> 1u) * (p.W >> 1u), UP);
  let planes = (b * p.Cin + min(k, vec4<u32>(p.Cin - 1u))) * plane;
  let row0 = i32(ty * 4u) - 1;
  let col0 = i32(tx * 4u) - 1;
  let stride = p.N * p.Cpad / 4u;
  let at = t * p.Cpad / 4u + q;
  store_tile(at, stride, input_row_t(planes, on, row0, col0), input_row_t(planes, on, row0 + 1, col0),
             input_row_t(planes, on, row0 + 2, col0), input_row_t(planes, on, row0 + 3, col0),
             input_row_t(planes, on, row0 + 4, col0), input_row_t(planes, on, row0 + 5, col0));
}

// ------------------------------------------------------------------ wino_output
// grid: x (folded into y) = quad of 4 tiles along x, z = output channel.

// Column j of the 6x6 products (rows 0..5), vec4 over the 4 tiles, transformed along y.
fn output_col(at: u32, stride: u32, j: u32) -> mat4x4<f32> {
  return at4(
    m4[(0u * 6u + j) * stride + at], m4[(1u * 6u + j) * stride + at], m4[(2u * 6u + j) * stride + at],
    m4[(3u * 6u + j) * stride + at], m4[(4u * 6u + j) * stride + at], m4[(5u * 6u + j) * stride + at],
  );
}

fn put(i: u32, v: f32) {
  if (RESIDUAL) {
    y[i] = v + p.resScale * res[i];
  } else {
    y[i] = v;
  }
}

fn put4(i: u32, v: vec4<f32>) {
  if (RESIDUAL) {
    y4[i] = v + p.resScale * res4[i];
  } else {
    y4[i] = v;
  }
}

struct OutRow { plane: u32, oy0: u32, ox0: u32, bias: f32 }

// Row r of the quad's 4 output tiles: o[c] is output column c, vec4 over the tiles.
fn out_row(s: OutRow, r: u32, o: mat4x4<f32>) {
  let oy = s.oy0 + r;
  if (oy >= p.H) { return; }
  let at = s.plane + oy * p.W + s.ox0;
  out_px(at, s.ox0, p.outScale * (vec4<f32>(o[0][0], o[1][0], o[2][0], o[3][0]) + s.bias));
  out_px(at + 4u, s.ox0 + 4u, p.outScale * (vec4<f32>(o[0][1], o[1][1], o[2][1], o[3][1]) + s.bias));
  out_px(at + 8u, s.ox0 + 8u, p.outScale * (vec4<f32>(o[0][2], o[1][2], o[2][2], o[3][2]) + s.bias));
  out_px(at + 12u, s.ox0 + 12u, p.outScale * (vec4<f32>(o[0][3], o[1][3], o[2][3], o[3][3]) + s.bias));
}

// 4 output pixels from column ox (index i) on, those inside the image.
fn out_px(i: u32, ox: u32, v: vec4<f32>) {
  if (Y4) {
    if (ox < p.W) { put4(i / 4u, v); }
    return;
  }
  if (ox < p.W) { put(i, v.x); }
  if (ox + 1u < p.W) { put(i + 1u, v.y); }
  if (ox + 2u < p.W) { put(i + 2u, v.z); }
  if (ox + 3u < p.W) { put(i + 3u, v.w); }
}

@compute @workgroup_size(8)
fn wino_output(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let quad = flat_index(gid, nwg, 8u);
  let quads = p.tilesX / 4u;
  if (quad >= p.B * p.tilesY * quads) { return; }
  let co = gid.z;
  let tx0 = (quad % quads) * 4u;
  let by = quad / quads;
  let b = by / p.tilesY;
  let ty = by % p.tilesY;
  let stride = p.Cout * p.N / 4u;
  let at = co * p.N / 4u + (by * p.tilesX + tx0) / 4u;
  // f_j = A^T M[:, j]: row r of the 4x6 intermediate is f_j[r], j = 0..5
  let f0 = output_col(at, stride, 0u);
  let f1 = output_col(at, stride, 1u);
  let f2 = output_col(at, stride, 2u);
  let f3 = output_col(at, stride, 3u);
  let f4 = output_col(at, stride, 4u);
  let f5 = output_col(at, stride, 5u);
  let row = select(0u, b * p.Cout, p.hasBias == 2u);
  let bv = select(0.0, bias[row + co], p.hasBias != 0u);
  let s = OutRow((b * p.Cout + co) * p.H * p.W, ty * 4u, tx0 * 4u, bv);
  out_row(s, 0u, at4(f0[0], f1[0], f2[0], f3[0], f4[0], f5[0]));
  out_row(s, 1u, at4(f0[1], f1[1], f2[1], f3[1], f4[1], f5[1]));
  out_row(s, 2u, at4(f0[2], f1[2], f2[2], f3[2], f4[2], f5[2]));
  out_row(s, 3u, at4(f0[3], f1[3], f2[3], f3[3], f4[3], f5[3]));
}

// ------------------------------------------------------------------ wino_output_t
// grid: x (folded into y) = tile t < N, z = quad of output channels (M^T rows of Cpad, a multiple of 4).

struct OutTile { b: u32, m0: u32, oy0: u32, ox0: u32, bias: vec4<f32> }

// Row r of the tile for the 4 channels: o[c] is output column c, vec4 over the channels (the loads of
// output_col serve both layouts: vec4 index at + position * stride).
fn out_row_t(s: OutTile, r: u32, o: mat4x4<f32>) {
  let oy = s.oy0 + r;
  if (oy >= p.H) { return; }
  let plane = p.H * p.W;
  let at = (s.b * p.Cout + s.m0) * plane + oy * p.W + s.ox0;
  let v = transpose(o); // v[q]: the 4 pixels of channel m0 + q
  if (s.m0 < p.Cout) { out_px(at, s.ox0, p.outScale * (v[0] + s.bias.x)); }
  if (s.m0 + 1u < p.Cout) { out_px(at + plane, s.ox0, p.outScale * (v[1] + s.bias.y)); }
  if (s.m0 + 2u < p.Cout) { out_px(at + 2u * plane, s.ox0, p.outScale * (v[2] + s.bias.z)); }
  if (s.m0 + 3u < p.Cout) { out_px(at + 3u * plane, s.ox0, p.outScale * (v[3] + s.bias.w)); }
}

@compute @workgroup_size(8)
fn wino_output_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_index(gid, nwg, 8u);
  if (t >= p.N) { return; }
  let tx = t % p.tilesX;
  let by = t / p.tilesX;
  let b = by / p.tilesY;
  let m0 = gid.z * 4u;
  let stride = p.N * p.Cpad / 4u;
  let at = t * p.Cpad / 4u + gid.z;
  let f0 = output_col(at, stride, 0u);
  let f1 = output_col(at, stride, 1u);
  let f2 = output_col(at, stride, 2u);
  let f3 = output_col(at, stride, 3u);
  let f4 = output_col(at, stride, 4u);
  let f5 = output_col(at, stride, 5u);
  let row = select(0u, b * p.Cout, p.hasBias == 2u);
  let last = row + p.Cout - 1u;
  let on = p.hasBias != 0u;
  let bv = vec4<f32>(
    select(0.0, bias[min(row + m0, last)], on),
    select(0.0, bias[min(row + m0 + 1u, last)], on),
    select(0.0, bias[min(row + m0 + 2u, last)], on),
    select(0.0, bias[min(row + m0 + 3u, last)], on),
  );
  let s = OutTile(b, m0, (by % p.tilesY) * 4u, tx * 4u, bv);
  out_row_t(s, 0u, at4(f0[0], f1[0], f2[0], f3[0], f4[0], f5[0]));
  out_row_t(s, 1u, at4(f0[1], f1[1], f2[1], f3[1], f4[1], f5[1]));
  out_row_t(s, 2u, at4(f0[2], f1[2], f2[2], f3[2], f4[2], f5[2]));
  out_row_t(s, 3u, at4(f0[3], f1[3], f2[3], f3[3], f4[3], f5[3]));
}

// ------------------------------------------------------------------ wino_grad_output
// grid: x = quad of output channels m < Cpad (M rounded up to 4), y (folded into z) = tile t < N (as
// wino_input_t: the lanes store consecutive vec4s).

// A d for 4 values along one axis (the adjoint of at4): the 6 values.
fn a6(d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32>) -> Row6 {
  return Row6(
    d0,
    d0 - d1 + d2 - d3,
    d0 + d1 + d2 + d3,
    d0 + 0.5 * d1 + 0.25 * d2 + 0.125 * d3,
    d0 - 2.0 * d1 + 4.0 * d2 - 8.0 * d3,
    d3,
  );
}

struct GradTile { b: u32, m0: u32, oy0: u32, ox0: u32 }

// dy at pixel (oy0 + r, ox0 + c) of channels m0..m0+3 (0 outside the image and past Cout).
fn dy4(g: GradTile, r: u32, c: u32) -> vec4<f32> {
  let oy = g.oy0 + r;
  let ox = g.ox0 + c;
  let inside = oy < p.H && ox < p.W;
  let plane = p.H * p.W;
  let at = (g.b * p.Cout + g.m0) * plane + min(oy, p.H - 1u) * p.W + min(ox, p.W - 1u);
  let last = (g.b * p.Cout + p.Cout - 1u) * plane; // channels past Cout re-read the last one, masked
  return vec4<f32>(
    select(0.0, dy[min(at, last + at % plane)], inside && g.m0 < p.Cout),
    select(0.0, dy[min(at + plane, last + at % plane)], inside && g.m0 + 1u < p.Cout),
    select(0.0, dy[min(at + 2u * plane, last + at % plane)], inside && g.m0 + 2u < p.Cout),
    select(0.0, dy[min(at + 3u * plane, last + at % plane)], inside && g.m0 + 3u < p.Cout),
  );
}

// Row r of the tile (4 pixels), transformed along x.
fn grad_row(g: GradTile, r: u32) -> Row6 {
  return a6(dy4(g, r, 0u), dy4(g, r, 1u), dy4(g, r, 2u), dy4(g, r, 3u));
}

@compute @workgroup_size(8)
fn wino_grad_output(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = gid.x;
  let t = gid.y + gid.z * nwg.y;
  if (q >= p.Cpad / 4u || t >= p.N) { return; }
  let tx = t % p.tilesX;
  let by = t / p.tilesX;
  let g = GradTile(by / p.tilesY, q * 4u, (by % p.tilesY) * 4u, tx * 4u);
  let e0 = grad_row(g, 0u);
  let e1 = grad_row(g, 1u);
  let e2 = grad_row(g, 2u);
  let e3 = grad_row(g, 3u);
  let m4n = p.Cpad / 4u;
  let stride = p.N * m4n; // between positions
  let at = t * m4n + q;
  store_col(at, stride, 0u, a6(e0[0], e1[0], e2[0], e3[0]));
  store_col(at, stride, 1u, a6(e0[1], e1[1], e2[1], e3[1]));
  store_col(at, stride, 2u, a6(e0[2], e1[2], e2[2], e3[2]));
  store_col(at, stride, 3u, a6(e0[3], e1[3], e2[3], e3[3]));
  store_col(at, stride, 4u, a6(e0[4], e1[4], e2[4], e3[4]));
  store_col(at, stride, 5u, a6(e0[5], e1[5], e2[5], e3[5]));
}

// ------------------------------------------------------------------ wino_grad_weights
// grid: x = k (workgroups of 64), y = quad of output channels m (values vec4 over the 4: one vec4 load
// per position and 4 workgroups reading each cache line of dU^T instead of 16: 1.6-1.8x at 128 output
// channels).

alias Col3v = array<vec4<f32>, 3>;

// G^T u for 6 values along one axis (the adjoint of g6): the 3 kernel values.
fn gt3(u0: vec4<f32>, u1: vec4<f32>, u2: vec4<f32>, u3: vec4<f32>, u4: vec4<f32>, u5: vec4<f32>) -> Col3v {
  return Col3v(
    u0 + (u2 - u1) / 3.0 + (u4 - 16.0 * u3) / 15.0,
    (u1 + u2) / 3.0 - (8.0 * u3 + 2.0 * u4) / 15.0,
    (u2 - u1) / 3.0 + (4.0 * u4 - 4.0 * u3) / 15.0 + u5,
  );
}

// Row i of dU (positions 6i .. 6i + 5) reduced along x (vec4 index `at` of position 0).
fn du_row(at: u32, stride: u32, i: u32) -> Col3v {
  return gt3(
    du4[(i * 6u) * stride + at], du4[(i * 6u + 1u) * stride + at], du4[(i * 6u + 2u) * stride + at],
    du4[(i * 6u + 3u) * stride + at], du4[(i * 6u + 4u) * stride + at], du4[(i * 6u + 5u) * stride + at],
  );
}

// The 3x3 kernel of output channel m0 + j (component j of the columns c0..c2), from dw index o.
fn put_kernel(o: u32, c0: Col3v, c1: Col3v, c2: Col3v, j: u32) {
  dw[o] = c0[0][j]; dw[o + 1u] = c1[0][j]; dw[o + 2u] = c2[0][j];
  dw[o + 3u] = c0[1][j]; dw[o + 4u] = c1[1][j]; dw[o + 5u] = c2[1][j];
  dw[o + 6u] = c0[2][j]; dw[o + 7u] = c1[2][j]; dw[o + 8u] = c2[2][j];
}

@compute @workgroup_size(64)
fn wino_grad_weights(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  let m0 = gid.y * 4u;
  if (k >= p.Cin) { return; }
  // dU^T[pos][k][Cpad], Cpad a multiple of 4
  let stride = p.Cin * p.Cpad / 4u;
  let at = k * p.Cpad / 4u + gid.y;
  let h0 = du_row(at, stride, 0u);
  let h1 = du_row(at, stride, 1u);
  let h2 = du_row(at, stride, 2u);
  let h3 = du_row(at, stride, 3u);
  let h4 = du_row(at, stride, 4u);
  let h5 = du_row(at, stride, 5u);
  let c0 = gt3(h0[0], h1[0], h2[0], h3[0], h4[0], h5[0]);
  let c1 = gt3(h0[1], h1[1], h2[1], h3[1], h4[1], h5[1]);
  let c2 = gt3(h0[2], h1[2], h2[2], h3[2], h4[2], h5[2]);
  let row = p.Cin * 9u;
  let o = (m0 * p.Cin + k) * 9u;
  put_kernel(o, c0, c1, c2, 0u);
  if (m0 + 1u < p.Cout) { put_kernel(o + row, c0, c1, c2, 1u); }
  if (m0 + 2u < p.Cout) { put_kernel(o + 2u * row, c0, c1, c2, 2u); }
  if (m0 + 3u < p.Cout) { put_kernel(o + 3u * row, c0, c1, c2, 3u); }
}
