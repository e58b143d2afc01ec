// Layout kernels shared by every conv2d variant (kernels/conv2d_k3.wgsl, conv2d_k1.wgsl, conv2d_gpu.wgsl).
//
// weight_layout: PyTorch's OIHW weight w[Cout][Cin][k][k] into the layout the convolution kernels read,
//   wt[block][read channel][tap][channel in block], written channel = block * `block` + channel in
//   block, zero past the last channel (one block of `pad` channels, or 16-channel blocks for
//   kernels/conv2d_k3.wgsl, which copies each block's slices into uniform buffers):
//     forward      (transposed = 0): read ci, write co: w[co][ci][tap]
//     grad-input   (transposed = 1): read co, write ci: w[co][ci][k*k - 1 - tap]   (flipped taps)
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
  block: u32,       // weight_layout: written channels per block (pad for a single block)
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
  let R = select(p.Cin, p.Cout, p.transposed != 0u);  // read channels
  let cb = i / (R * p.taps * p.block);                  // written-channel block
  let c = cb * p.block + i % p.block;                   // written channel
  let tap = (i / p.block) % p.taps;
  let r = (i / (p.block * p.taps)) % R;                 // read channel
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
