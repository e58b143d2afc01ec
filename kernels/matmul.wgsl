// Batched strided matrix product, the one matmul of the library (src/ops/matmul.ts):
//   C[z][m, n] = alpha * sum_{k < K} A[z][m, k] * B[z][k, n] (+ bias[n])   for z < Z, m < M, n < N
// with every operand at any offset and strides (float units):
//   A[z][m, k] = a[a_off + z*a_z + m*a_m + k*a_k], B[z][k, n] = b[b_off + z*b_z + k*b_k + n*b_n],
//   C[z][m, n] = c[c_off + z*c_z + m*c_m + n*c_n].
// Users: the Linear layer (y = x W^T, dx = dy W, dW = dy^T x) and attention (q.k, p.v and their gradients).
// The host picks the entry point from the adapter's profile and the operands' layout:
//   matmul_rb       "cpu": register-blocked, no workgroup memory. B rows vec4-contiguous along n; A rows
//                   vec4-contiguous along k, or (override A_COLS) A columns vec4-contiguous along m.
//   matmul_dot      "cpu": A and B both contiguous along k (y = x W^T): vec4 dot products.
//   matmul_narrow   "cpu": B rows as matmul_rb, A at any strides, N < 64 (small Linear gradients).
//   matmul_strided  "cpu": anything else (odd sizes, unaligned strides), one output per thread.
//   matmul_tiled    "gpu": 64x64 tiles staged in workgroup memory, any strides.

struct Params {
  M: u32, N: u32, K: u32, alpha: f32,
  a_off: u32, a_z: u32, a_m: u32, a_k: u32,
  b_off: u32, b_z: u32, b_k: u32, b_n: u32,
  c_off: u32, c_z: u32, c_m: u32, c_n: u32,
  has_bias: u32,  // 1: add bias[n] after scaling (matmul_dot, matmul_strided, matmul_tiled)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> c4: array<vec4<f32>>;

// A[z][m, k] vec4s run along m instead of k (dy^T in the Linear weight gradient).
override A_COLS: bool = false;
// C's rows vec4-contiguous and N a multiple of 4 (store_vec4 stores whole vec4s). An override, not a test
// of the strides: llvmpipe runs both sides of a branch, masked, so the scalar fallback would cost always.
override C4: bool = false;
// matmul_rb reads B through an image (src/gpu/image.ts) of the tensor bound as b4: on llvmpipe an image load
// costs 0.4x a storage-buffer load.
override IMGB: bool = false;
@group(0) @binding(5) var bi: texture_storage_2d<rgba32float, read>;

#include "lib/image.wgsl"

fn store(z: u32, m: u32, n: u32, v: f32) {
  if (m >= p.M || n >= p.N) { return; }
  var out = p.alpha * v;
  if (p.has_bias == 1u) { out += bias[n]; }
  c[p.c_off + z * p.c_z + m * p.c_m + n * p.c_n] = out;
}


// ---------------------------------------------------------------- register-blocked product ("cpu")
// A workgroup (8 threads) computes 16 rows x 32 vec4 columns of C; thread t owns the vec4 columns t, t+8,
// t+16, t+24 of the block (so the 8 lanes read 8 consecutive vec4s of B: llvmpipe runs invocations as
// SIMD lanes, and A loads that depend only on the workgroup are uniform), and for each row r a mat4x4
// accumulator c_r whose column i is vec4 column t + 8i. k advances 4 at a time with one vec4 of A per row
// (loads, not FMAs, bound this kernel on llvmpipe). The rows are spelled out: llvmpipe keeps only
// constant-indexed accumulators in registers (an indexed array ran 4x slower).
// Requires b_n = 1 and b_off, b_z, b_k multiples of 4, and either
//   rows of A (a_k = 1; a_off, a_z, a_m multiples of 4), readable up to K rounded up to 4 and 0 in
//   A[m, K..]: B rows past K re-read row K-1 (finite), which those zeros cancel; or
//   A_COLS (a_m = 1; a_off, a_z, a_k multiples of 4): A[k >= K] is masked to 0 here, rows past M are
//   computed from whatever follows and never stored.
// grid: (ceil(N / 128), ceil(M / 16), Z)

// Row k of B (clamped to K - 1) at the vec4 indices b0..b3 of row 0.
fn load_b(b0: u32, b1: u32, b2: u32, b3: u32, k: u32) -> mat4x4<f32> {
  let bk = min(k, p.K - 1u) * (p.b_k / 4u);
  if (IMGB) {
    return mat4x4<f32>(textureLoad(bi, texel(b0 + bk)), textureLoad(bi, texel(b1 + bk)),
                       textureLoad(bi, texel(b2 + bk)), textureLoad(bi, texel(b3 + bk)));
  }
  return mat4x4<f32>(b4[b0 + bk], b4[b1 + bk], b4[b2 + bk], b4[b3 + bk]);
}

// A_COLS: rows 4i..4i+3 of the block at k..k+3 (column j: row 4i + j), from column vec4s at `col` (row m0).
fn load_a_cols(col: u32, i: u32, k: u32) -> mat4x4<f32> {
  let step = p.a_k / 4u;
  let zero = vec4<f32>(0.0);
  return transpose(mat4x4<f32>(
    select(zero, a4[col + k * step + i], k < p.K),
    select(zero, a4[col + min(k + 1u, p.K - 1u) * step + i], k + 1u < p.K),
    select(zero, a4[col + min(k + 2u, p.K - 1u) * step + i], k + 2u < p.K),
    select(zero, a4[col + min(k + 3u, p.K - 1u) * step + i], k + 3u < p.K),
  ));
}

// Rows r0..r3 (vec4 indices of their k = 0) at k..k+3, one row per column.
fn load_a_rows(r0: u32, r1: u32, r2: u32, r3: u32, k: u32) -> mat4x4<f32> {
  let q = k / 4u;
  return mat4x4<f32>(a4[r0 + q], a4[r1 + q], a4[r2 + q], a4[r3 + q]);
}

// c + a * b, column by column, fused. (Constant indices only, see above.)
fn fma_cols(a: f32, b: mat4x4<f32>, c: mat4x4<f32>) -> mat4x4<f32> {
  let av = vec4<f32>(a);
  return mat4x4<f32>(fma(av, b[0], c[0]), fma(av, b[1], c[1]), fma(av, b[2], c[2]), fma(av, b[3], c[3]));
}

// c + sum_kk a[kk] * b_kk: four steps of k for one row of C.
fn fma_k4(a: vec4<f32>, b0: mat4x4<f32>, b1: mat4x4<f32>, b2: mat4x4<f32>, b3: mat4x4<f32>, c: mat4x4<f32>) -> mat4x4<f32> {
  return fma_cols(a[3], b3, fma_cols(a[2], b2, fma_cols(a[1], b1, fma_cols(a[0], b0, c))));
}

// Columns 4 n4 .. 4 n4 + 3 of row m, through the vec4 view of C: one vec4 store where C's rows are
// vec4-contiguous (most products: a small K leaves the stores as the larger cost), else one float at a time.
// No bias: the entries that store this way do not bind one (a binding costs time on every small dispatch).
fn store_vec4(z: u32, m: u32, n4: u32, v: vec4<f32>) {
  let n = n4 * 4u;
  if (m >= p.M || n >= p.N) { return; }
  var out = p.alpha * v;
  let i = p.c_off + z * p.c_z + m * p.c_m + n * p.c_n;
  if (C4) {
    c4[i / 4u] = out;
    return;
  }
  for (var e = 0u; e < 4u; e++) {
    let j = i + e * p.c_n;
    if (n + e < p.N) { c4[j / 4u][j % 4u] = out[e]; }
  }
}

fn store_row(z: u32, m: u32, n0: u32, v: mat4x4<f32>) {
  for (var i = 0u; i < 4u; i++) { store_vec4(z, m, n0 + 8u * i, v[i]); }
}

// Vec4 index of A's row m (clamped to the last row: rows past M are re-read and never stored).
fn row4(base: u32, m: u32) -> u32 {
  return (base + min(m, p.M - 1u) * p.a_m) / 4u;
}

@compute @workgroup_size(8)
fn matmul_rb(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wg.z;
  let m0 = wg.y * 16u;
  let n0 = wg.x * 32u + lid.x;
  // B: vec4 columns past the edge re-read the last one (in bounds, never stored).
  let n4 = (p.N + 3u) / 4u;
  let b_base = (p.b_off + z * p.b_z) / 4u;
  let b0 = b_base + min(n0, n4 - 1u);
  let b1 = b_base + min(n0 + 8u, n4 - 1u);
  let b2 = b_base + min(n0 + 16u, n4 - 1u);
  let b3 = b_base + min(n0 + 24u, n4 - 1u);
  let a_base = p.a_off + z * p.a_z;
  let col = (a_base + m0) / 4u; // A_COLS: vec4 index of rows m0..m0+3 at k = 0
  var c0 = mat4x4<f32>();
  var c1 = mat4x4<f32>();
  var c2 = mat4x4<f32>();
  var c3 = mat4x4<f32>();
  var c4 = mat4x4<f32>();
  var c5 = mat4x4<f32>();
  var c6 = mat4x4<f32>();
  var c7 = mat4x4<f32>();
  var c8 = mat4x4<f32>();
  var c9 = mat4x4<f32>();
  var c10 = mat4x4<f32>();
  var c11 = mat4x4<f32>();
  var c12 = mat4x4<f32>();
  var c13 = mat4x4<f32>();
  var c14 = mat4x4<f32>();
  var c15 = mat4x4<f32>();
  for (var k = 0u; k < p.K; k += 4u) {
    let bk0 = load_b(b0, b1, b2, b3, k);
    let bk1 = load_b(b0, b1, b2, b3, k + 1u);
    let bk2 = load_b(b0, b1, b2, b3, k + 2u);
    let bk3 = load_b(b0, b1, b2, b3, k + 3u);
    var r0: mat4x4<f32>;
    var r1: mat4x4<f32>;
    var r2: mat4x4<f32>;
    var r3: mat4x4<f32>;
    if (A_COLS) {
      r0 = load_a_cols(col, 0u, k);
      r1 = load_a_cols(col, 1u, k);
      r2 = load_a_cols(col, 2u, k);
      r3 = load_a_cols(col, 3u, k);
    } else {
      r0 = load_a_rows(row4(a_base, m0), row4(a_base, m0 + 1u), row4(a_base, m0 + 2u), row4(a_base, m0 + 3u), k);
      r1 = load_a_rows(row4(a_base, m0 + 4u), row4(a_base, m0 + 5u), row4(a_base, m0 + 6u), row4(a_base, m0 + 7u), k);
      r2 = load_a_rows(row4(a_base, m0 + 8u), row4(a_base, m0 + 9u), row4(a_base, m0 + 10u), row4(a_base, m0 + 11u), k);
      r3 = load_a_rows(row4(a_base, m0 + 12u), row4(a_base, m0 + 13u), row4(a_base, m0 + 14u), row4(a_base, m0 + 15u), k);
    }
    c0 = fma_k4(r0[0], bk0, bk1, bk2, bk3, c0);
    c1 = fma_k4(r0[1], bk0, bk1, bk2, bk3, c1);
    c2 = fma_k4(r0[2], bk0, bk1, bk2, bk3, c2);
    c3 = fma_k4(r0[3], bk0, bk1, bk2, bk3, c3);
    c4 = fma_k4(r1[0], bk0, bk1, bk2, bk3, c4);
    c5 = fma_k4(r1[1], bk0, bk1, bk2, bk3, c5);
    c6 = fma_k4(r1[2], bk0, bk1, bk2, bk3, c6);
    c7 = fma_k4(r1[3], bk0, bk1, bk2, bk3, c7);
    c8 = fma_k4(r2[0], bk0, bk1, bk2, bk3, c8);
    c9 = fma_k4(r2[1], bk0, bk1, bk2, bk3, c9);
    c10 = fma_k4(r2[2], bk0, bk1, bk2, bk3, c10);
    c11 = fma_k4(r2[3], bk0, bk1, bk2, bk3, c11);
    c12 = fma_k4(r3[0], bk0, bk1, bk2, bk3, c12);
    c13 = fma_k4(r3[1], bk0, bk1, bk2, bk3, c13);
    c14 = fma_k4(r3[2], bk0, bk1, bk2, bk3, c14);
    c15 = fma_k4(r3[3], bk0, bk1, bk2, bk3, c15);
  }
  store_row(z, m0 + 0u, n0, c0);
  store_row(z, m0 + 1u, n0, c1);
  store_row(z, m0 + 2u, n0, c2);
  store_row(z, m0 + 3u, n0, c3);
  store_row(z, m0 + 4u, n0, c4);
  store_row(z, m0 + 5u, n0, c5);
  store_row(z, m0 + 6u, n0, c6);
  store_row(z, m0 + 7u, n0, c7);
  store_row(z, m0 + 8u, n0, c8);
  store_row(z, m0 + 9u, n0, c9);
  store_row(z, m0 + 10u, n0, c10);
  store_row(z, m0 + 11u, n0, c11);
  store_row(z, m0 + 12u, n0, c12);
  store_row(z, m0 + 13u, n0, c13);
  store_row(z, m0 + 14u, n0, c14);
  store_row(z, m0 + 15u, n0, c15);
}

// ---------------------------------------------------------------- four rows per thread ("cpu")
// Each thread computes rows m0..m0+3 of one column (matmul_dot) or one vec4 of columns (matmul_narrow),
// so every B value it loads serves four rows. For CorrDiff's small Linear products (rows = batch,
// features 16..512); grid: flat over ceil(M / 4) * (N, or ceil(N / 4) for matmul_narrow) threads
// (folded into y), Z along z.

// A and B both contiguous along k (a_k = b_k = 1; a_off, a_z, a_m, b_off, b_z, b_n and K multiples of
// 4; y = x W^T): vec4 dot products.
@compute @workgroup_size(64)
fn matmul_dot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  let z = gid.z;
  if (t >= (p.M + 3u) / 4u * p.N) { return; }
  let n = t % p.N;
  let m0 = (t / p.N) * 4u;
  let bn = (p.b_off + z * p.b_z + n * p.b_n) / 4u;
  // Rows past M are clamped to the last one; their sums are computed and discarded.
  let rows = min(vec4<u32>(m0, m0 + 1u, m0 + 2u, m0 + 3u), vec4<u32>(p.M - 1u));
  let r = (vec4<u32>(p.a_off + z * p.a_z) + rows * p.a_m) / 4u;
  var acc = vec4<f32>(0.0); // one lane per row m0 + j
  for (var k = 0u; k < p.K / 4u; k++) {
    let bv = b4[bn + k];
    acc.x += dot(a4[r.x + k], bv);
    acc.y += dot(a4[r.y + k], bv);
    acc.z += dot(a4[r.z + k], bv);
    acc.w += dot(a4[r.w + k], bv);
  }
  for (var j = 0u; j < 4u; j++) { store(z, m0 + j, n, acc[j]); }
}

// B rows vec4-contiguous along n (as matmul_rb), A at any strides: products too narrow (N < 64) to fill
// matmul_rb's 128-column blocks, where its 16x128 blocks would mostly compute discarded values.
@compute @workgroup_size(64)
fn matmul_narrow(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  let z = gid.z;
  let n4 = (p.N + 3u) / 4u;
  if (t >= (p.M + 3u) / 4u * n4) { return; }
  let col = t % n4;
  let m0 = (t / n4) * 4u;
  let bn = (p.b_off + z * p.b_z) / 4u + col;
  let rows = min(vec4<u32>(m0, m0 + 1u, m0 + 2u, m0 + 3u), vec4<u32>(p.M - 1u));
  let r = vec4<u32>(p.a_off + z * p.a_z) + rows * p.a_m;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    let bv = b4[bn + k * (p.b_k / 4u)];
    let ak = k * p.a_k;
    acc0 += a[r.x + ak] * bv;
    acc1 += a[r.y + ak] * bv;
    acc2 += a[r.z + ak] * bv;
    acc3 += a[r.w + ak] * bv;
  }
  store_vec4(z, m0, col, acc0);
  store_vec4(z, m0 + 1u, col, acc1);
  store_vec4(z, m0 + 2u, col, acc2);
  store_vec4(z, m0 + 3u, col, acc3);
}

// ---------------------------------------------------------------- any layout ("cpu")
// One output per thread. grid: flat over M * N threads (folded into y), Z along z.

@compute @workgroup_size(64)
fn matmul_strided(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  let z = gid.z;
  if (t >= p.M * p.N) { return; }
  let m = t / p.N;
  let n = t % p.N;
  let ar = p.a_off + z * p.a_z + m * p.a_m;
  let bc = p.b_off + z * p.b_z + n * p.b_n;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) { acc = fma(a[ar + k * p.a_k], b[bc + k * p.b_k], acc); }
  store(z, m, n, acc);
}

// ---------------------------------------------------------------- tiled product ("gpu")
// Workgroup 16x16 threads computes a 64x64 block of C; each thread a 4x4 block (rows ty + 16i, columns
// 4tx..4tx+3). K advances in steps of 16 through tiles of A (64x16) and B (16x64) staged in workgroup
// memory; consecutive threads load consecutive k of A and consecutive n of B (coalesced for the usual
// row-contiguous operands), any strides work.
// grid: (ceil(N / 64), ceil(M / 64), Z)

const T_M: u32 = 64u;
const T_K: u32 = 16u;
var<workgroup> tile_a: array<array<f32, 64>, 16>; // [k][m]
var<workgroup> tile_b: array<array<f32, 64>, 16>; // [k][n]

@compute @workgroup_size(16, 16)
fn matmul_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wg.z;
  let m0 = wg.y * T_M;
  let n0 = wg.x * 64u;
  let tid = lid.y * 16u + lid.x;
  let a_base = p.a_off + z * p.a_z;
  let b_base = p.b_off + z * p.b_z;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += T_K) {
    for (var q = 0u; q < 4u; q++) {
      let idx = tid + q * 256u;
      let kk = idx % T_K;
      let mm = idx / T_K;
      var v = 0.0;
      if (m0 + mm < p.M && k0 + kk < p.K) { v = a[a_base + (m0 + mm) * p.a_m + (k0 + kk) * p.a_k]; }
      tile_a[kk][mm] = v;
      let nn = idx % 64u;
      let kb = idx / 64u;
      var w = 0.0;
      if (n0 + nn < p.N && k0 + kb < p.K) { w = b[b_base + (k0 + kb) * p.b_k + (n0 + nn) * p.b_n]; }
      tile_b[kb][nn] = w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < T_K; kk++) {
      let j = lid.x * 4u;
      let bv = vec4<f32>(tile_b[kk][j], tile_b[kk][j + 1u], tile_b[kk][j + 2u], tile_b[kk][j + 3u]);
      for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4<f32>(tile_a[kk][lid.y + 16u * i]), bv, acc[i]); }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var e = 0u; e < 4u; e++) { store(z, m0 + lid.y + 16u * i, (wg.x * 16u + lid.x) * 4u + e, acc[i][e]); }
  }
}
