// Layout kernels shared by every conv2d variant (kernels/conv2d_k3.wgsl, conv2d_k1.wgsl, conv2d_gpu.wgsl).
//
// weight_layout: PyTorch's OIHW weight w[Cout][Cin][k][k] into the layout the convolution kernels read,
//   wt[read channel][tap][written channel, padded to wPad], zero in the padding:
//     forward      (transposed = 0): wt[ci][tap][co] = w[co][ci][tap]
//     grad-input   (transposed = 1): wt[co][tap][ci] = w[co][ci][k*k - 1 - tap]   (flipped taps)
// grad_weight_reduce: dw[co][ci][tap] = sum over chunks of part[chunk][ci][tap][co] (row stride coPad).
// One thread per written element; i = gid.x + gid.y * nwg.x * 64 (see Runtime.grid).

struct Params {
  n: u32,           // elements written
  Cout: u32,
  Cin: u32,
  taps: u32,        // k * k
  pad: u32,         // weight_layout: written channels padded; grad_weight_reduce: coPad
  transposed: u32,  // weight_layout only
  chunks: u32,      // grad_weight_reduce only
  _unused: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 64u;
}

@compute @workgroup_size(64)
fn weight_layout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let c = i % p.pad;            // written channel
  let tap = (i / p.pad) % p.taps;
  let r = i / (p.pad * p.taps); // read channel
  var v = 0.0;
  if (p.transposed == 0u) {
    if (c < p.Cout) { v = src[(c * p.Cin + r) * p.taps + tap]; }
  } else {
    if (c < p.Cin) { v = src[(r * p.Cin + c) * p.taps + (p.taps - 1u - tap)]; }
  }
  dst[i] = v;
}

@compute @workgroup_size(64)
fn grad_weight_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.n) { return; }
  let tap = i % p.taps;
  let ci = (i / p.taps) % p.Cin;
  let co = i / (p.taps * p.Cin);
  let stride = p.Cin * p.taps * p.pad;
  var at = (ci * p.taps + tap) * p.pad + co;
  var s = 0.0;
  for (var k = 0u; k < p.chunks; k++) {
    s += src[at];
    at += stride;
  }
  dst[i] = s;
}
