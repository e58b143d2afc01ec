// The optimiser step over flat arenas (parameters, gradients, Adam moments laid out alike):
// gradient sanitising + squared-norm partials, the clip coefficient, Adam, and the device-side
// loss accumulator. Reductions run in a fixed order so that two runs give the same bits.

#include "lib/index.wgsl"

struct Params {
  n: u32,          // elements in this segment
  chunk: u32,      // elements per workgroup (partials pass)
  slot: u32,       // first partial slot of this segment / number of partials (finalize)
  step: u32,       // optimiser step (1-based), for the loss record
  lr_step: f32,    // lr / (1 - beta1^t)
  beta1: f32,
  beta2: f32,
  eps: f32,
  bc2_sqrt: f32,   // sqrt(1 - beta2^t)
  max_norm: f32,   // clip threshold, or 0 for no clipping
  factor: f32,     // loss scale (accumulate_loss)
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;
var<workgroup> redn: array<f32, 256>;

// Sums (a, b) over the workgroup in a fixed order into red[0], redn[0].
fn tree_sum(l: u32, a: f32, b: f32) {
  red[l] = a;
  redn[l] = b;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (l < w) {
      red[l] += red[l + w];
      redn[l] += redn[l + w];
    }
    workgroupBarrier();
  }
}

// ---------------------------------------------------------------- gradient sanitising and norm

@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;  // [2 * slots]: sum of squares, non-finite count

// NaN -> 0, +inf -> 1e5, -inf -> -1e5 (train.py's nan_to_num), in place; each workgroup writes the
// sum of squares of its chunk and how many values were not finite.
@compute @workgroup_size(256)
fn sanitize_partials(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let start = wg.x * p.chunk;
  let end = min(start + p.chunk, p.n);
  var s = 0.0;
  var bad = 0.0;
  for (var i = start + lid.x; i < end; i += WG) {
    var g = grad[i];
    let bits = bitcast<u32>(g);
    if ((bits & 0x7f800000u) == 0x7f800000u) {
      bad += 1.0;
      if ((bits & 0x007fffffu) != 0u) { g = 0.0; } else if (g > 0.0) { g = 1e5; } else { g = -1e5; }
      grad[i] = g;
    }
    s += g * g;
  }
  tree_sum(lid.x, s, bad);
  if (lid.x == 0u) {
    partial[2u * (p.slot + wg.x)] = red[0];
    partial[2u * (p.slot + wg.x) + 1u] = redn[0];
  }
}

// stats: [0] gradient scale for Adam (clip coefficient, or 1), [1] gradient norm of the last step,
// [2] non-finite gradient values since the start, [3] first step with a non-finite loss (0: none),
// [4] loss accumulated since the last read.
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;

// Sums the partials in slot order (one workgroup) and sets the clip coefficient as torch's
// clip_grad_norm_: max_norm / (norm + 1e-6), clamped to 1.
@compute @workgroup_size(256)
fn finalize_norm(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  var bad = 0.0;
  for (var i = lid.x; i < p.slot; i += WG) {
    s += partial[2u * i];
    bad += partial[2u * i + 1u];
  }
  tree_sum(lid.x, s, bad);
  if (lid.x == 0u) {
    let norm = sqrt(red[0]);
    let max_norm = p.max_norm;
    var coef = 1.0;
    if (max_norm > 0.0) { coef = min(max_norm / (norm + 1e-6), 1.0); }
    stats[0] = coef;
    stats[1] = norm;
    stats[2] += redn[0];
  }
}

// ---------------------------------------------------------------- Adam (torch.optim.Adam, no weight decay)

@group(0) @binding(4) var<storage, read_write> param: array<f32>;
@group(0) @binding(5) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(6) var<storage, read_write> exp_avg_sq: array<f32>;

// m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g^2;
// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), with g scaled by the clip coefficient.
@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  if (i >= p.n) { return; }
  let g = grad[i] * stats[0];
  let b1 = p.beta1;
  let b2 = p.beta2;
  let m0 = exp_avg[i];
  let m = m0 + (1.0 - b1) * (g - m0);
  let v = b2 * exp_avg_sq[i] + (1.0 - b2) * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  let denom = sqrt(v) / p.bc2_sqrt + p.eps;
  param[i] = param[i] - p.lr_step * (m / denom);
}

// acc += src (gradient accumulation rounds, over a whole segment).
@group(0) @binding(7) var<storage, read> src: array<f32>;

@compute @workgroup_size(256)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, WG);
  if (i < p.n) { grad[i] += src[i]; }
}

// ---------------------------------------------------------------- loss bookkeeping

@group(0) @binding(8) var<storage, read> loss: array<f32>;  // [1]: sum of the per-element loss

// stats[4] += factor * loss; records the first step whose loss is not finite.
@compute @workgroup_size(1)
fn accumulate_loss() {
  let l = loss[0] * p.factor;
  let bits = bitcast<u32>(l);
  if ((bits & 0x7f800000u) == 0x7f800000u && stats[3] == 0.0) { stats[3] = f32(p.step); }
  stats[4] += l;
}
