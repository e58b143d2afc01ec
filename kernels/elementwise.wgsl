// Elementwise and broadcast ops, forward and backward side by side.
// Index convention for every 1-D kernel here: i = gid.x + gid.y * nwg.x * 256 (see Runtime.grid).

#include "lib/index.wgsl"

struct Params {
  n: u32,       // number of elements written (VEC4: of vec4s)
  alpha: f32,   // scalars of fill / axpby / scale
  beta: f32,
  count: u32,   // broadcasts: length of the broadcast table (mul_rows), channels (add_channel_bias)
  rows: u32,    // add_channel_bias: rows of the bias table; sum_leading: length of the summed axis
  inner: u32,   // elements per table entry (mul_rows, add_channel_bias), row length (sum_rows, sum_leading)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// VEC4 (fill, axpby, scale, mul, silu_fwd, silu_bwd; n a multiple of 4): four elements per thread through
// vec4 views of the same buffers (a per-lane vec4 load costs about 2.6 scalar ones on a CPU rasteriser).
// Without it the kernels compute on vec4 splats of one element, whose unused lanes the compiler drops.
@group(0) @binding(4) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> y4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> out4: array<vec4<f32>>;
override VEC4: bool = false;

fn load_x(i: u32) -> vec4<f32> {
  if (VEC4) { return x4[i]; }
  return vec4<f32>(x[i]);
}

fn load_y(i: u32) -> vec4<f32> {
  if (VEC4) { return y4[i]; }
  return vec4<f32>(y[i]);
}

fn store(i: u32, v: vec4<f32>) {
  if (VEC4) {
    out4[i] = v;
  } else {
    out[i] = v.x;
  }
}

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return flat_index(gid, nwg, 256u);
}

fn silu(v: vec4<f32>) -> vec4<f32> {
  return v / (1.0 + exp(-v));
}

// out = value
@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) { store(i, vec4<f32>(p.alpha)); }
}

// out = alpha * x + beta * y
@compute @workgroup_size(256)
fn axpby(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) { store(i, p.alpha * load_x(i) + p.beta * load_y(i)); }
}

// out = alpha * x
@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) { store(i, p.alpha * load_x(i)); }
}

// out = x * y
@compute @workgroup_size(256)
fn mul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) { store(i, load_x(i) * load_y(i)); }
}

// out = silu(x)
@compute @workgroup_size(256)
fn silu_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) { store(i, silu(load_x(i))); }
}

// out = dy * silu'(x), with x = input, y = dy
@compute @workgroup_size(256)
fn silu_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) {
    let v = load_x(i);
    let s = 1.0 / (1.0 + exp(-v));
    store(i, load_y(i) * s * (1.0 + v * (1.0 - s)));
  }
}

// Per-row scale: out[i] = x[i] * y[(i / inner) % count]  (e.g. a per-sample coefficient: inner = C*H*W, count = B)
@compute @workgroup_size(256)
fn mul_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) { out[i] = x[i] * y[(i / p.inner) % p.count]; }
}

// Broadcast add of a (rows, C) table over H*W: out[i] = x[i] + y[row * C + ch], ch = (i / inner) % count,
// row = (i / (inner * count)) % rows, with inner = H*W, count = C, rows of y (1 broadcasts over the batch).
@compute @workgroup_size(256)
fn add_channel_bias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < p.n) {
    let ch = (i / p.inner) % p.count;
    let row = (i / (p.inner * p.count)) % p.rows;
    out[i] = x[i] + y[row * p.count + ch];
  }
}

// Row sums: out[r] = sum_k x[r * inner + k] for r < n. One thread per row: rows are
// many (B*C) and short (H*W), so a plain loop beats a tree reduction on every adapter we target.
// VEC4 (inner a multiple of 4): the row read as vec4s.
@compute @workgroup_size(256)
fn sum_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = index(gid, nwg);
  if (r < p.n) {
    if (VEC4) {
      var acc4 = vec4<f32>(0.0);
      let base4 = r * (p.inner / 4u);
      for (var k = 0u; k < p.inner / 4u; k++) { acc4 += x4[base4 + k]; }
      out[r] = (acc4.x + acc4.y) + (acc4.z + acc4.w);
      return;
    }
    var acc = 0.0;
    let base = r * p.inner;
    for (var k = 0u; k < p.inner; k++) { acc += x[base + k]; }
    out[r] = acc;
  }
}

// Strided row sums: out[j] = sum_{r < rows} x[r * inner + j] for j < n (sum over a leading axis).
@compute @workgroup_size(256)
fn sum_leading(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = index(gid, nwg);
  if (j < p.n) {
    var acc = 0.0;
    for (var r = 0u; r < p.rows; r++) { acc += x[r * p.inner + j]; }
    out[j] = acc;
  }
}
