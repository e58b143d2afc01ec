// GroupNorm with optional fused SiLU, forward and backward.
//
// Layout: x is [B, C, H, W]; a *row* r = b*C + c is the hw = H*W contiguous values of one channel of one
// sample. Groups are contiguous channel blocks, so the (sample, group) *pair* q = b*G + g owns the cpg
// contiguous rows q*cpg .. q*cpg + cpg - 1, and the pair of row r is r / cpg.
//
//   stats[2q] = mean, stats[2q+1] = rstd = 1 / sqrt(M2 / divisor + eps), M2 = sum (x - mean)^2
//   divisor = N in train mode (biased variance), N - 1 in eval mode (the reference's unbiased
//   variance), N = cpg * hw values per pair.
//   a = (x - mean) * rstd * gamma[c] + beta[c];  y = silu(a) if p.silu == 1 else a
//
// Backward, with xhat = (x - mean) * rstd and da = dy * (silu'(a) or 1):
//   dbeta[c]  = sum_{b,hw} da          dgamma[c] = sum_{b,hw} da * xhat
//   S1[q] = sum_{c in q} gamma[c] sum_hw da,   S2[q] = sum_{c in q} gamma[c] sum_hw da * xhat
//   dx = rstd * (gamma[c] * da - S1 / N - xhat * S2 / divisor)
// (the last term is d rstd / d x; with divisor N - 1 it is the exact gradient of the eval path).
//
// Two kernel families:
// - "cpu" (llvmpipe): every thread owns a *chunk* of p.chunk contiguous values of one row (thread t:
//   row t / nchunks, chunk t % nchunks), so per-row values are fetched once per thread and no
//   workgroup memory or barrier is used. Statistics go through per-chunk partials (mean, M2) merged
//   with Chan's formula; backward sums through per-chunk partials (sum da, sum da*xhat).
//   With VEC4 (hw % 4 == 0, chunk % 4 == 0) the chunk entry points move vec4s, otherwise scalars.
// - "gpu": one 256-thread workgroup per (sample, group) pair for the statistics and one per row for
//   the backward sums (tree reductions in workgroup memory); the elementwise passes are the same
//   entry points with a chunk of one vec4 (or one value) per thread.
// VEC4 reads x4 and dy4 and writes out4: x, dy and out bound a second time, as vec4 arrays (an entry
// point may not use two variables of one binding, even in a branch its override constant removes).
//
// 1-D launches of 64-thread workgroups index threads as gid.x + gid.y * nwg.x * 64 (Runtime.grid);
// workgroup-per-item launches index items as wid.x + wid.y * nwg.x.

struct Params {
  rows: u32,     // B * C
  hw: u32,       // H * W
  channels: u32, // C
  cpg: u32,      // channels per group
  pairs: u32,    // B * G
  chunk: u32,    // values per chunk (cpu family), 4 or 1 for the gpu family's elementwise passes
  nchunks: u32,  // chunks per row: ceil(hw / chunk)
  eps: f32,
  divisor: f32,  // N (train) or N - 1 (eval)
  silu: u32,     // 1: SiLU after the affine transform
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> part: array<f32>;
@group(0) @binding(6) var<storage, read> dy: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
@group(0) @binding(8) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(9) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(10) var<storage, read_write> sums: array<f32>;
@group(0) @binding(11) var<storage, read> x4: array<vec4<f32>>;        // the buffer of x
@group(0) @binding(12) var<storage, read> dy4: array<vec4<f32>>;       // the buffer of dy
@group(0) @binding(13) var<storage, read_write> out4: array<vec4<f32>>; // the buffer of out

override VEC4: bool = false;

const WG: u32 = 64u;
const RED: u32 = 256u;

fn thread_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn item_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

/// Per-row constants of the affine transform and of the backward pass.
struct Row {
  mean: f32,
  rstd: f32,
  gamma: f32,
  beta: f32,
}

fn row_consts(row: u32) -> Row {
  let q = row / p.cpg;
  let c = row % p.channels;
  return Row(stats[2u * q], stats[2u * q + 1u], gamma[c], beta[c]);
}

/// y from x (four values of one row at a time; without VEC4, lane x only).
fn forward_value(v: vec4<f32>, k: Row) -> vec4<f32> {
  let a = (v - k.mean) * (k.rstd * k.gamma) + k.beta;
  if (p.silu == 1u) { return a / (1.0 + exp(-a)); }
  return a;
}

/// (da, xhat) for an output gradient g at input v.
fn backward_terms(v: vec4<f32>, g: vec4<f32>, k: Row) -> array<vec4<f32>, 2> {
  let xhat = (v - k.mean) * k.rstd;
  var da = g;
  if (p.silu == 1u) {
    let a = xhat * k.gamma + k.beta;
    let s = 1.0 / (1.0 + exp(-a));
    da = g * s * (1.0 + a * (1.0 - s));
  }
  return array<vec4<f32>, 2>(da, xhat);
}

/// dx from (da, xhat); s1 = S1 / N and s2 = S2 / divisor of the row's pair.
fn dx_value(t: array<vec4<f32>, 2>, k: Row, s1: f32, s2: f32) -> vec4<f32> {
  return k.rstd * (k.gamma * t[0] - s1 - t[1] * s2);
}

/// Range [begin, end) of thread t's chunk, as offsets into the flat tensor.
fn chunk_range(t: u32) -> vec2<u32> {
  let row = t / p.nchunks;
  let k = t % p.nchunks;
  let begin = k * p.chunk;
  let end = min(begin + p.chunk, p.hw);
  return vec2<u32>(row * p.hw + begin, row * p.hw + end);
}

fn sum4(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// Element access of the chunk entry points: four values with VEC4, else one in lane x (the other
// lanes are never read, so the compiler drops their arithmetic).

fn lanes() -> u32 {
  return select(1u, 4u, VEC4);
}

fn load_x(i: u32) -> vec4<f32> {
  if (VEC4) { return x4[i]; }
  return vec4<f32>(x[i]);
}

fn load_dy(i: u32) -> vec4<f32> {
  if (VEC4) { return dy4[i]; }
  return vec4<f32>(dy[i]);
}

fn store_out(i: u32, v: vec4<f32>) {
  if (VEC4) {
    out4[i] = v;
  } else {
    out[i] = v.x;
  }
}

/// The sum of the values v holds.
fn lane_sum(v: vec4<f32>) -> f32 {
  if (VEC4) { return sum4(v); }
  return v.x;
}

// ------------------------------------------------------------------ forward, cpu family

// part[2t] = mean of chunk t, part[2t+1] = sum of squared deviations from that mean, in one pass over
// the chunk (loads are most of the cost here): sums of x - k and (x - k)^2 with k the chunk's first
// value, so that M2 = S2 - S1^2 / n cancels no more than the chunk's own spread (k is one of its values).
@compute @workgroup_size(64)
fn stats_chunks(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = thread_index(gid, nwg);
  if (t >= p.rows * p.nchunks) { return; }
  let r = chunk_range(t) / lanes();
  let k = load_x(r.x).x;
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  for (var i = r.x; i < r.y; i++) {
    let d = load_x(i) - k;
    s1 += d;
    s2 += d * d;
  }
  let n = f32(lanes() * (r.y - r.x));
  let S1 = lane_sum(s1);
  part[2u * t] = k + S1 / n;
  part[2u * t + 1u] = max(lane_sum(s2) - S1 * (S1 / n), 0.0);
}

// stats of pair q from its cpg * nchunks chunk partials (Chan et al.'s pairwise update, which keeps
// the variance exact for large offsets because no raw second moment is ever formed).
@compute @workgroup_size(64)
fn stats_combine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = thread_index(gid, nwg);
  if (q >= p.pairs) { return; }
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  let first = q * p.cpg * p.nchunks;
  for (var j = 0u; j < p.cpg * p.nchunks; j++) {
    let k = j % p.nchunks;
    let nb = f32(min(p.chunk, p.hw - k * p.chunk));
    let mb = part[2u * (first + j)];
    let delta = mb - mean;
    let total = n + nb;
    mean += delta * (nb / total);
    m2 += part[2u * (first + j) + 1u] + delta * delta * (n * nb / total);
    n = total;
  }
  stats[2u * q] = mean;
  stats[2u * q + 1u] = 1.0 / sqrt(m2 / p.divisor + p.eps);
}

// ------------------------------------------------------------------ forward, gpu family

var<workgroup> red: array<f32, RED>;
var<workgroup> red2: array<vec2<f32>, RED>;

fn reduce_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = RED / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier(); // red is reused by the next reduction
  return total;
}

// One workgroup per pair: the mean, then the mean of squared deviations (two passes over the group).
@compute @workgroup_size(256)
fn stats_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
  let q = item_index(wid, nwg);
  if (q >= p.pairs) { return; }
  let n = p.cpg * p.hw;
  let base = q * n;
  var s = 0.0;
  for (var i = lid.x; i < n; i += RED) { s += x[base + i]; }
  let mean = reduce_sum(s, lid.x) / f32(n);
  var m2 = 0.0;
  for (var i = lid.x; i < n; i += RED) {
    let d = x[base + i] - mean;
    m2 += d * d;
  }
  let total = reduce_sum(m2, lid.x);
  if (lid.x == 0u) {
    stats[2u * q] = mean;
    stats[2u * q + 1u] = 1.0 / sqrt(total / p.divisor + p.eps);
  }
}

// ------------------------------------------------------------------ forward, both families

@compute @workgroup_size(64)
fn normalize_chunks(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = thread_index(gid, nwg);
  if (t >= p.rows * p.nchunks) { return; }
  let k = row_consts(t / p.nchunks);
  let r = chunk_range(t) / lanes();
  for (var i = r.x; i < r.y; i++) { store_out(i, forward_value(load_x(i), k)); }
}

// ------------------------------------------------------------------ backward, cpu family

// part[2t] = sum da, part[2t+1] = sum da * xhat over chunk t.
@compute @workgroup_size(64)
fn bwd_chunks(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = thread_index(gid, nwg);
  if (t >= p.rows * p.nchunks) { return; }
  let k = row_consts(t / p.nchunks);
  let r = chunk_range(t) / lanes();
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  for (var i = r.x; i < r.y; i++) {
    let b = backward_terms(load_x(i), load_dy(i), k);
    s1 += b[0];
    s2 += b[0] * b[1];
  }
  part[2u * t] = lane_sum(s1);
  part[2u * t + 1u] = lane_sum(s2);
}

// ------------------------------------------------------------------ backward, gpu family

fn reduce_sum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
  red2[lid] = v;
  workgroupBarrier();
  for (var s = RED / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red2[lid] += red2[lid + s]; }
    workgroupBarrier();
  }
  return red2[0];
}

// One workgroup per row: part[2 row] = sum da, part[2 row + 1] = sum da * xhat (nchunks = 1).
@compute @workgroup_size(256)
fn bwd_rows_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = item_index(wid, nwg);
  if (row >= p.rows) { return; }
  let k = row_consts(row);
  let base = row * p.hw;
  var s = vec2<f32>(0.0);
  for (var i = lid.x; i < p.hw; i += RED) {
    let b = backward_terms(vec4<f32>(x[base + i]), vec4<f32>(dy[base + i]), k);
    s += vec2<f32>(b[0].x, b[0].x * b[1].x);
  }
  let total = reduce_sum2(s, lid.x);
  if (lid.x == 0u) {
    part[2u * row] = total.x;
    part[2u * row + 1u] = total.y;
  }
}

// ------------------------------------------------------------------ backward, both families

// Thread i < C: dgamma[i], dbeta[i] (sums over the batch and the chunks of channel i's rows).
// Thread i < pairs: sums[2i] = S1 / N, sums[2i+1] = S2 / divisor of pair i.
@compute @workgroup_size(64)
fn bwd_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = thread_index(gid, nwg);
  let batch = p.rows / p.channels;
  if (i < p.channels) {
    var sb = 0.0;
    var sg = 0.0;
    for (var b = 0u; b < batch; b++) {
      let first = (b * p.channels + i) * p.nchunks;
      for (var k = 0u; k < p.nchunks; k++) {
        sb += part[2u * (first + k)];
        sg += part[2u * (first + k) + 1u];
      }
    }
    dbeta[i] = sb;
    dgamma[i] = sg;
  }
  if (i < p.pairs) {
    var s1 = 0.0;
    var s2 = 0.0;
    for (var j = 0u; j < p.cpg; j++) {
      let row = i * p.cpg + j;
      var r1 = 0.0;
      var r2 = 0.0;
      for (var k = 0u; k < p.nchunks; k++) {
        r1 += part[2u * (row * p.nchunks + k)];
        r2 += part[2u * (row * p.nchunks + k) + 1u];
      }
      let g = gamma[row % p.channels];
      s1 += g * r1;
      s2 += g * r2;
    }
    sums[2u * i] = s1 / f32(p.cpg * p.hw);
    sums[2u * i + 1u] = s2 / p.divisor;
  }
}

@compute @workgroup_size(64)
fn bwd_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = thread_index(gid, nwg);
  if (t >= p.rows * p.nchunks) { return; }
  let row = t / p.nchunks;
  let k = row_consts(row);
  let q = row / p.cpg;
  let s1 = sums[2u * q];
  let s2 = sums[2u * q + 1u];
  let r = chunk_range(t) / lanes();
  for (var i = r.x; i < r.y; i++) {
    store_out(i, dx_value(backward_terms(load_x(i), load_dy(i), k), k, s1, s2));
  }
}
