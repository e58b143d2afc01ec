// Self-attention over pixels: batched strided matrix products and the layout moves around them.
//
// One attention "slice" z = b * heads + a is one (sample, head) pair. S = H*W pixels (row-major),
// Sp = S rounded up to a multiple of 4 (vec4 rows; the wrapper zero-pads when S is not), c = channels per head.
//   qkv [B, 3C, Sp]  channel (a*c + j)*3 + r is head a, head-channel j, role r (0 q, 1 k, 2 v). The rows of
//                    slice z start at z*3c*Sp, so Q^T, K^T, V^T are [c, Sp] matrices with row stride 3*Sp:
//                    the products read the interleaved layout in place.
//   PT  [Z, Sp, Sp]  attention weights transposed (keys s' are rows, queries s columns; padded key rows are 0),
//                    so every product below reads contiguous rows of it.
//   o   [B, C, Sp]   O^T[j, s] of slice z at z*c*Sp + j*Sp + s.
// Forward: ScT = K Q^T / sqrt(c); PT = softmax over the key axis; O^T = V^T PT.
// Backward: dV = PT dO; dPT = V dO^T; dST = softmax'(PT, dPT); dQ^T = K^T dST / sqrt(c); dK = dST Q / sqrt(c).
//
// (K, V, Q and dO also come pixel-major, [Sp, c] per slice, from strided_copy.)
//
// Every product is C[z][m, n] = alpha * sum_k A[z][m, k] * B[z][k, n] over contiguous, vec4-aligned rows of
// A and B, with C at any strides. The entry points:
//   matmul_rb     register-blocked, no workgroup memory ("cpu" profile: llvmpipe runs invocations as SIMD
//                 lanes, so A loads that depend only on the workgroup are uniform and lanes read adjacent
//                 vec4s of B).
//   matmul_tiled  64x64 tiles staged in workgroup memory ("gpu" profile).
//   strided_copy  dst[z][m, n] = A[z][m, n] for n < K, 0 beyond (any strides): pads, unpads, transposes.

struct Params {
  M: u32, N: u32, K: u32, alpha: f32,      // sizes; the product is scaled by alpha
  a_off: u32, a_z: u32, a_m: u32, a_k: u32, // A[z][m, k] = a_at(a_off + z*a_z + m*a_m + k*a_k); a_k = 1 in products
  b_off: u32, b_z: u32, b_k: u32, N4: u32,  // B[z][k, 4n .. 4n+3] = b_vec[b_off + z*b_z + k*b_k + n] (vec4 units)
  c_off: u32, c_z: u32, c_m: u32, c_n: u32, // C[z][m, n] = dst[c_off + z*c_z + m*c_m + n*c_n]
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a_vec: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b_vec: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// Element i of A (bound as vec4s, which the register-blocked product loads).
fn a_at(i: u32) -> f32 {
  return a_vec[i / 4u][i % 4u];
}

fn store_block(z: u32, m: u32, n4: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  let row = p.c_off + z * p.c_z + m * p.c_m;
  for (var e = 0u; e < 4u; e++) {
    let n = n4 * 4u + e;
    if (n < p.N) { dst[row + n * p.c_n] = v[e]; }
  }
}

// ---------------------------------------------------------------- register-blocked product ("cpu")
// A workgroup (8 threads) computes 16 rows x 32 vec4 columns of C; thread t owns the vec4 columns t, t+8,
// t+16, t+24 of the block (so the 8 lanes read 8 consecutive vec4s of B), and for each row r a mat4x4
// accumulator c_r whose column i is vec4 column t + 8i. k advances 4 at a time with one vec4 load per row
// of A (loads, not FMAs, bound this kernel on llvmpipe). The rows are spelled out: llvmpipe keeps only
// constant-indexed accumulators in registers (an indexed array ran 4x slower).
// Requires A rows contiguous (a_k = 1) and vec4-aligned, readable up to K rounded up to 4 and 0 in
// A[m, K..]: B rows past K re-read row K-1 (finite), which those zeros cancel.
// grid: (ceil(N4 / 32), ceil(M / 16), Z)

// Row k of B (clamped to K - 1) at the vec4 indices b0..b3 of row 0.
fn load_b(b0: u32, b1: u32, b2: u32, b3: u32, k: u32) -> mat4x4<f32> {
  let bk = min(k, p.K - 1u) * p.b_k;
  return mat4x4<f32>(b_vec[b0 + bk], b_vec[b1 + bk], b_vec[b2 + bk], b_vec[b3 + bk]);
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

fn store_row(z: u32, m: u32, n0: u32, v: mat4x4<f32>) {
  for (var i = 0u; i < 4u; i++) {
    if (n0 + 8u * i < p.N4) { store_block(z, m, n0 + 8u * i, v[i]); }
  }
}

@compute @workgroup_size(8)
fn matmul_rb(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wg.z;
  let m0 = wg.y * 16u;
  let n0 = wg.x * 32u + lid.x;
  // B: vec4 columns past the edge re-read the last one (in bounds, never stored).
  let b_base = p.b_off + z * p.b_z;
  let b0 = b_base + min(n0, p.N4 - 1u);
  let b1 = b_base + min(n0 + 8u, p.N4 - 1u);
  let b2 = b_base + min(n0 + 16u, p.N4 - 1u);
  let b3 = b_base + min(n0 + 24u, p.N4 - 1u);
  // A: vec4 index of row m0 + r; rows past M re-read the last one (never stored).
  let a_base = p.a_off + z * p.a_z;
  let a0 = (a_base + min(m0 + 0u, p.M - 1u) * p.a_m) / 4u;
  let a1 = (a_base + min(m0 + 1u, p.M - 1u) * p.a_m) / 4u;
  let a2 = (a_base + min(m0 + 2u, p.M - 1u) * p.a_m) / 4u;
  let a3 = (a_base + min(m0 + 3u, p.M - 1u) * p.a_m) / 4u;
  let a4 = (a_base + min(m0 + 4u, p.M - 1u) * p.a_m) / 4u;
  let a5 = (a_base + min(m0 + 5u, p.M - 1u) * p.a_m) / 4u;
  let a6 = (a_base + min(m0 + 6u, p.M - 1u) * p.a_m) / 4u;
  let a7 = (a_base + min(m0 + 7u, p.M - 1u) * p.a_m) / 4u;
  let a8 = (a_base + min(m0 + 8u, p.M - 1u) * p.a_m) / 4u;
  let a9 = (a_base + min(m0 + 9u, p.M - 1u) * p.a_m) / 4u;
  let a10 = (a_base + min(m0 + 10u, p.M - 1u) * p.a_m) / 4u;
  let a11 = (a_base + min(m0 + 11u, p.M - 1u) * p.a_m) / 4u;
  let a12 = (a_base + min(m0 + 12u, p.M - 1u) * p.a_m) / 4u;
  let a13 = (a_base + min(m0 + 13u, p.M - 1u) * p.a_m) / 4u;
  let a14 = (a_base + min(m0 + 14u, p.M - 1u) * p.a_m) / 4u;
  let a15 = (a_base + min(m0 + 15u, p.M - 1u) * p.a_m) / 4u;
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
    let q = k / 4u;
    c0 = fma_k4(a_vec[a0 + q], bk0, bk1, bk2, bk3, c0);
    c1 = fma_k4(a_vec[a1 + q], bk0, bk1, bk2, bk3, c1);
    c2 = fma_k4(a_vec[a2 + q], bk0, bk1, bk2, bk3, c2);
    c3 = fma_k4(a_vec[a3 + q], bk0, bk1, bk2, bk3, c3);
    c4 = fma_k4(a_vec[a4 + q], bk0, bk1, bk2, bk3, c4);
    c5 = fma_k4(a_vec[a5 + q], bk0, bk1, bk2, bk3, c5);
    c6 = fma_k4(a_vec[a6 + q], bk0, bk1, bk2, bk3, c6);
    c7 = fma_k4(a_vec[a7 + q], bk0, bk1, bk2, bk3, c7);
    c8 = fma_k4(a_vec[a8 + q], bk0, bk1, bk2, bk3, c8);
    c9 = fma_k4(a_vec[a9 + q], bk0, bk1, bk2, bk3, c9);
    c10 = fma_k4(a_vec[a10 + q], bk0, bk1, bk2, bk3, c10);
    c11 = fma_k4(a_vec[a11 + q], bk0, bk1, bk2, bk3, c11);
    c12 = fma_k4(a_vec[a12 + q], bk0, bk1, bk2, bk3, c12);
    c13 = fma_k4(a_vec[a13 + q], bk0, bk1, bk2, bk3, c13);
    c14 = fma_k4(a_vec[a14 + q], bk0, bk1, bk2, bk3, c14);
    c15 = fma_k4(a_vec[a15 + q], bk0, bk1, bk2, bk3, c15);
  }
  let alpha = p.alpha;
  store_row(z, m0 + 0u, n0, alpha * c0);
  store_row(z, m0 + 1u, n0, alpha * c1);
  store_row(z, m0 + 2u, n0, alpha * c2);
  store_row(z, m0 + 3u, n0, alpha * c3);
  store_row(z, m0 + 4u, n0, alpha * c4);
  store_row(z, m0 + 5u, n0, alpha * c5);
  store_row(z, m0 + 6u, n0, alpha * c6);
  store_row(z, m0 + 7u, n0, alpha * c7);
  store_row(z, m0 + 8u, n0, alpha * c8);
  store_row(z, m0 + 9u, n0, alpha * c9);
  store_row(z, m0 + 10u, n0, alpha * c10);
  store_row(z, m0 + 11u, n0, alpha * c11);
  store_row(z, m0 + 12u, n0, alpha * c12);
  store_row(z, m0 + 13u, n0, alpha * c13);
  store_row(z, m0 + 14u, n0, alpha * c14);
  store_row(z, m0 + 15u, n0, alpha * c15);
}

// ---------------------------------------------------------------- tiled product ("gpu")
// Workgroup 16x16 threads computes a 64x64 block of C; each thread a 4x4 block (rows ty + 16i, vec4 column
// tx). K advances in steps of 16 through tiles of A (64x16) and B (16x64) staged in workgroup memory.
// grid: (ceil(N / 64), ceil(M / 64), Z)

const T_M: u32 = 64u;
const T_K: u32 = 16u;
var<workgroup> tile_a: array<array<f32, 64>, 16>;       // [k][m]
var<workgroup> tile_b: array<array<vec4<f32>, 16>, 16>; // [k][n / 4]

@compute @workgroup_size(16, 16)
fn matmul_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wg.z;
  let m0 = wg.y * T_M;
  let n40 = wg.x * 16u;
  let tid = lid.y * 16u + lid.x;
  let a_base = p.a_off + z * p.a_z;
  let b_base = p.b_off + z * p.b_z;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += T_K) {
    // A tile: 1024 values, 4 per thread; consecutive threads read consecutive k (A rows are contiguous).
    for (var q = 0u; q < 4u; q++) {
      let idx = tid + q * 256u;
      let kk = idx % T_K;
      let mm = idx / T_K;
      var v = 0.0;
      if (m0 + mm < p.M && k0 + kk < p.K) { v = a_at(a_base + (m0 + mm) * p.a_m + (k0 + kk) * p.a_k); }
      tile_a[kk][mm] = v;
    }
    // B tile: 256 vec4s, one per thread.
    {
      let kk = lid.y;
      var v = vec4<f32>(0.0);
      if (n40 + lid.x < p.N4 && k0 + kk < p.K) { v = b_vec[b_base + (k0 + kk) * p.b_k + n40 + lid.x]; }
      tile_b[kk][lid.x] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < T_K; kk++) {
      let b = tile_b[kk][lid.x];
      for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4<f32>(tile_a[kk][lid.y + 16u * i]), b, acc[i]); }
    }
    workgroupBarrier();
  }
  let alpha = p.alpha;
  let n4 = n40 + lid.x;
  if (n4 < p.N4) {
    for (var i = 0u; i < 4u; i++) { store_block(z, m0 + lid.y + 16u * i, n4, alpha * acc[i]); }
  }
}

// ---------------------------------------------------------------- layout moves
// dst[c_off + z*c_z + m*c_m + n*c_n] = n < K ? a_at(a_off + z*a_z + m*a_m + n*a_k) : 0
// for z < Z, m < M, n < N. One thread per (m, z) walks n: few, long-lived threads (llvmpipe pays per
// workgroup, and has no vector integer division to unfold a flat index). grid: (ceil(M / 64), Z)

@compute @workgroup_size(64)
fn strided_copy(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = gid.x;
  let z = gid.y;
  if (m >= p.M) { return; }
  let a = p.a_off + z * p.a_z + m * p.a_m;
  let c = p.c_off + z * p.c_z + m * p.c_m;
  for (var n = 0u; n < p.K; n++) { dst[c + n * p.c_n] = a_at(a + n * p.a_k); }
  for (var n = p.K; n < p.N; n++) { dst[c + n * p.c_n] = 0.0; }
}
