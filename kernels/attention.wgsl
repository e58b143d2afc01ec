// Self-attention over pixels: the layout moves around its products (src/ops/attention.ts; the products
// themselves are kernels/matmul.wgsl's, through src/ops/matmul.ts).
//
// One attention "slice" z = b * heads + a is one (sample, head) pair. S = H*W pixels (row-major),
// Sp = S rounded up to a multiple of 4 (vec4 rows; the wrapper zero-pads when S is not), c = channels per head.
//   qkv [B, 3C, Sp]  channel (a*c + j)*3 + r is head a, head-channel j, role r (0 q, 1 k, 2 v). The rows of
//                    slice z start at z*3c*Sp, so Q^T, K^T, V^T are [c, Sp] matrices with row stride 3*Sp:
//                    the products read the interleaved layout in place.
//   PT  [Z, Sp, Sp]  attention weights transposed (keys s' are rows, queries s columns; padded key rows are 0),
//                    so every product reads contiguous rows of it.
//   o   [B, C, Sp]   O^T[j, s] of slice z at z*c*Sp + j*Sp + s.
// Forward: ScT = K Q^T / sqrt(c); PT = softmax over the key axis; O^T = V^T PT.
// Backward: dV = PT dO; dPT = V dO^T; dST = softmax'(PT, dPT); dQ^T = K^T dST / sqrt(c); dK = dST Q / sqrt(c).
// K, V, Q and dO also come pixel-major, [Sp, cp] per slice (zero beyond c), from strided_copy, which also
// pads and unpads pixel rows.

struct Params {
  M: u32, N: u32, K: u32,
  a_off: u32, a_z: u32, a_m: u32, a_k: u32, // src[z][m, n] = src[a_off + z*a_z + m*a_m + n*a_k]
  c_off: u32, c_z: u32, c_m: u32, c_n: u32, // dst[z][m, n] = dst[c_off + z*c_z + m*c_m + n*c_n]
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// ---------------------------------------------------------------- layout moves
// dst[c_off + z*c_z + m*c_m + n*c_n] = n < K ? src[a_off + z*a_z + m*a_m + n*a_k] : 0
// for z < Z, m < M, n < N. One thread per (m, z) walks n: few, long-lived threads (llvmpipe pays per
// workgroup, and has no vector integer division to unfold a flat index). grid: (ceil(M / 64), Z)

@compute @workgroup_size(64)
fn strided_copy(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = gid.x;
  let z = gid.y;
  if (m >= p.M) { return; }
  let a = p.a_off + z * p.a_z + m * p.a_m;
  let c = p.c_off + z * p.c_z + m * p.c_m;
  for (var n = 0u; n < p.K; n++) { dst[c + n * p.c_n] = src[a + n * p.a_k]; }
  for (var n = p.K; n < p.N; n++) { dst[c + n * p.c_n] = 0.0; }
}
