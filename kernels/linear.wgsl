// Linear layer y = x W^T + b and its gradients, as small matrix products. For x [rows, in],
// W [out, in], dy [rows, out]:
//   forward  y  = x W^T : matmul_nt4 (dot products of two K-contiguous rows)
//   dx          = dy W  : matmul_nn4 with a = dy, b = W   (b rows contiguous along the output)
//   dW          = dy^T x: matmul_nn4 with a = dy^T (strided), b = x
// (the bias gradient is a column sum of dy, done by elementwise.wgsl's sum_leading).
// The vec4 entry points need the contiguous dimension to be a multiple of 4; matmul_strided takes
// any shape and strides. Each thread computes TM rows of one output column (or vec4 of columns), so
// every b value it loads serves TM rows; CorrDiff's sizes are small (rows = batch, features
// 16..512), so there is no workgroup tiling. Threads are indexed as gid.x + gid.y * nwg.x * 64.

struct Params {
  m: u32,         // output rows
  n: u32,         // output columns (floats)
  k: u32,         // reduction length (in vec4s for matmul_nt4)
  a_m: u32,       // strides of a (in vec4s for matmul_nt4)
  a_k: u32,
  b_k: u32,       // strides of b (in vec4s for the vec4 entry points)
  b_n: u32,
  has_bias: u32,  // 1: add bias[col]
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> c4: array<vec4<f32>>;

const TM: u32 = 4u;

fn thread_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 64u;
}

fn bias_at(col: u32) -> f32 {
  if (p.has_bias == 1u) { return bias[col]; }
  return 0.0;
}

// c[m, n] = sum_k a4[m * a_m + k] . b4[n * b_n + k] (+ bias[n]); thread: rows m0..m0+TM-1 of column n.
@compute @workgroup_size(64)
fn matmul_nt4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = thread_index(gid, nwg);
  let blocks = (p.m + TM - 1u) / TM;
  if (t >= blocks * p.n) { return; }
  let col = t % p.n;
  let m0 = (t / p.n) * TM;
  var acc = vec4<f32>(0.0); // one lane per row m0 + j
  for (var k = 0u; k < p.k; k++) {
    let bv = b4[col * p.b_n + k];
    // Rows past the end are clamped to the last one; their sums are computed and discarded.
    acc.x += dot(a4[min(m0, p.m - 1u) * p.a_m + k], bv);
    acc.y += dot(a4[min(m0 + 1u, p.m - 1u) * p.a_m + k], bv);
    acc.z += dot(a4[min(m0 + 2u, p.m - 1u) * p.a_m + k], bv);
    acc.w += dot(a4[min(m0 + 3u, p.m - 1u) * p.a_m + k], bv);
  }
  for (var j = 0u; j < TM; j++) {
    if (m0 + j < p.m) { c[(m0 + j) * p.n + col] = acc[j] + bias_at(col); }
  }
}

// c4[m, n4] = sum_k a[m * a_m + k * a_k] * b4[k * b_k + n4]; thread: rows m0..m0+TM-1 of vec4 column n4.
@compute @workgroup_size(64)
fn matmul_nn4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = thread_index(gid, nwg);
  let n4 = p.n / 4u;
  let blocks = (p.m + TM - 1u) / TM;
  if (t >= blocks * n4) { return; }
  let col = t % n4;
  let m0 = (t / n4) * TM;
  let r = min(vec4<u32>(m0, m0 + 1u, m0 + 2u, m0 + 3u), vec4<u32>(p.m - 1u)) * p.a_m;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.k; k++) {
    let bv = b4[k * p.b_k + col];
    let ak = k * p.a_k;
    acc0 += a[r.x + ak] * bv;
    acc1 += a[r.y + ak] * bv;
    acc2 += a[r.z + ak] * bv;
    acc3 += a[r.w + ak] * bv;
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var j = 0u; j < TM; j++) {
    if (m0 + j < p.m) { c4[(m0 + j) * n4 + col] = acc[j]; }
  }
}

// Any shape: c[m, n] = sum_k a[m * a_m + k * a_k] * b[k * b_k + n * b_n] (+ bias[n]), one output per thread.
@compute @workgroup_size(64)
fn matmul_strided(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = thread_index(gid, nwg);
  if (t >= p.m * p.n) { return; }
  let row = t / p.n;
  let col = t % p.n;
  var acc = 0.0;
  for (var k = 0u; k < p.k; k++) { acc += a[row * p.a_m + k * p.a_k] * b[k * p.b_k + col * p.b_n]; }
  c[t] = acc + bias_at(col);
}
