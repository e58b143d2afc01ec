// Softmax along the middle axis of x viewed as [outer, n, inner], forward and backward.
//
// Line i = o * inner + t (o < outer, t < inner) is the n values x[o*n*inner + k*inner + t], k < n. Only the
// first `valid` entries of a line take part; the outputs beyond them are written as 0 (attention pads its
// key axis to a multiple of 4 this way).
// One thread per line: with inner > 1 (attention weights stored keys-major, inner = queries) neighbouring
// threads touch neighbouring addresses at every k; with inner = 1 (softmax over the last axis) each thread
// walks its own contiguous row. Index: i = gid.x + gid.y * nwg.x * 256 (see Runtime.grid).

#include "lib/index.wgsl"

struct Params {
  lines: u32, // outer * inner
  n: u32,     // length of the softmax axis
  inner: u32, // stride between consecutive elements of a line
  valid: u32, // entries of a line that take part (1 <= valid <= n)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;   // forward: input; backward: the forward output y
@group(0) @binding(2) var<storage, read> gy: array<f32>;  // backward: gradient of y
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn line_base(i: u32) -> u32 {
  return (i / p.inner) * p.n * p.inner + i % p.inner;
}

// out = exp(x - max) / sum(exp(x - max)) along each line. The max and the sum come from one pass (the sum
// is rescaled whenever the running max grows): on llvmpipe every strided load or store costs about as much
// as an exp, so two passes over memory beat three.
fn max_and_sum(base: u32, count: u32) -> vec2<f32> {
  var mx = x[base];
  var sum = 1.0;
  for (var k = 1u; k < count; k++) {
    let v = x[base + k * p.inner];
    let m = max(mx, v);
    sum = sum * exp(mx - m) + exp(v - m);
    mx = m;
  }
  return vec2<f32>(mx, sum);
}

@compute @workgroup_size(256)
fn softmax_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= p.lines) { return; }
  let base = line_base(i);
  let z = max_and_sum(base, p.valid);
  for (var k = 0u; k < p.valid; k++) {
    let j = base + k * p.inner;
    out[j] = exp(x[j] - z.x) / z.y;
  }
  for (var k = p.valid; k < p.n; k++) { out[base + k * p.inner] = 0.0; }
}

// out = y * (gy - sum(gy * y)) along each line.
@compute @workgroup_size(256)
fn softmax_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= p.lines) { return; }
  let base = line_base(i);
  var dot = 0.0;
  for (var k = 0u; k < p.valid; k++) { dot += gy[base + k * p.inner] * x[base + k * p.inner]; }
  for (var k = 0u; k < p.valid; k++) {
    let j = base + k * p.inner;
    out[j] = x[j] * (gy[j] - dot);
  }
  for (var k = p.valid; k < p.n; k++) { out[base + k * p.inner] = 0.0; }
}

// ------------------------------------------------------------------ softmax cross entropy
// loss[line] = -sum_k target_k log softmax(x)_k over a line of logits x (RegressionLossCE's probability
// channels: torch's CrossEntropyLoss with probability targets), and its gradient in the logits,
// gx_k = gline[line] * (softmax(x)_k * sum_k target_k - target_k). The whole axis takes part (valid = n).
@group(0) @binding(4) var<storage, read> target_p: array<f32>;
@group(0) @binding(5) var<storage, read> gline: array<f32>;

// The line's max and log-sum-exp, in one pass as softmax_fwd's.
fn log_normalizer(base: u32) -> vec2<f32> {
  let z = max_and_sum(base, p.n);
  return vec2<f32>(z.x, log(z.y));
}

@compute @workgroup_size(256)
fn cross_entropy_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= p.lines) { return; }
  let base = line_base(i);
  let z = log_normalizer(base);
  var loss = 0.0;
  for (var k = 0u; k < p.n; k++) {
    let j = base + k * p.inner;
    loss -= target_p[j] * (x[j] - z.x - z.y);
  }
  out[i] = loss;
}

@compute @workgroup_size(256)
fn cross_entropy_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= p.lines) { return; }
  let base = line_base(i);
  let z = log_normalizer(base);
  var total = 0.0;
  for (var k = 0u; k < p.n; k++) { total += target_p[base + k * p.inner]; }
  for (var k = 0u; k < p.n; k++) {
    let j = base + k * p.inner;
    out[j] = gline[i] * (exp(x[j] - z.x - z.y) * total - target_p[j]);
  }
}
