// Layout kernels shared by every conv2d variant (kernels/conv2d_k3.wgsl, conv2d_k1.wgsl, conv2d_gpu.wgsl).
//
// weight_layout: PyTorch's OIHW weight w[Cout][Cin][k][k] into the layout the convolution kernels read,
//   wt[block][read channel][tap][channel in block], written channel = block * `block` + channel in
//   block, zero past the last channel (one block of `pad` channels, or 16-channel blocks for
//   kernels/conv2d_k3.wgsl, which copies each block's slices into uniform buffers):
//     forward      (TRANSPOSED false): read ci, write co: w[co][ci][tap]
//     grad-input   (TRANSPOSED true) : read co, write ci: w[co][ci][k*k - 1 - tap]   (flipped taps)
// grad_weight_reduce: dw[co][ci][tap] = sum over chunks of part[chunk][ci][tap][co] (row stride coPad, a
//   multiple of 4).

struct Params {
  n: u32,           // weight_layout: read channels * taps (rows of one block)
  Cout: u32,
  Cin: u32,
  taps: u32,        // k * k
  pad: u32,         // weight_layout: written channels padded; grad_weight_reduce: coPad
  chunks: u32,      // grad_weight_reduce only
  block: u32,       // weight_layout: written channels per block (pad for a single block)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> src4: array<vec4<f32>>;  // grad_weight_reduce: src as vec4s

// weight_layout's direction (a uniform would not do: llvmpipe runs both sides of a branch, masked).
override TRANSPOSED: bool = false;

// Grids without integer division (a per-lane loop on a CPU rasteriser, dearer than the copy itself):
//   weight_layout:      x = read channel * taps + tap, y = channel in block, z = block
//   grad_weight_reduce: x = quad of output channels, y = input channel * taps + tap
@compute @workgroup_size(64)
fn weight_layout(@builtin(global_invocation_id) gid: vec3<u32>) {
  let rt = gid.x;  // read channel * taps + tap
  if (rt >= p.n) { return; }
  let c_in_block = gid.y;
  let c = gid.z * p.block + c_in_block;  // written channel
  var v = 0.0;
  if (!TRANSPOSED) {
    // w[co][ci][tap] sits at co * Cin * taps + (ci * taps + tap)
    if (c < p.Cout) { v = src[c * p.Cin * p.taps + rt]; }
  } else {
    // w[co = read][ci = written][taps - 1 - tap], with rt = co * taps + tap
    if (c < p.Cin) {
      let co_taps = rt - rt % p.taps;
      v = src[co_taps * p.Cin + c * p.taps + (p.taps - 1u - (rt - co_taps))];
    }
  }
  dst[(gid.z * p.n + rt) * p.block + c_in_block] = v;
}

// x = quad of 4 output channels (pad is a multiple of 4: one vec4 load per chunk), y = ci * taps + tap.
@compute @workgroup_size(64)
fn grad_weight_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let co = 4u * gid.x;
  let ct = gid.y;  // ci * taps + tap
  if (co >= p.Cout) { return; }
  let stride4 = p.Cin * p.taps * p.pad / 4u;
  var at = (ct * p.pad + co) / 4u;
  var s = vec4<f32>(0.0);
  for (var k = 0u; k < p.chunks; k++) {
    s += src4[at];
    at += stride4;
  }
  let row = p.Cin * p.taps;
  let o = co * row + ct;
  dst[o] = s.x;
  if (co + 1u < p.Cout) { dst[o + row] = s.y; }
  if (co + 2u < p.Cout) { dst[o + 2u * row] = s.z; }
  if (co + 3u < p.Cout) { dst[o + 3u * row] = s.w; }
}
