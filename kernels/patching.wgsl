// Patch cutting and fusing on the device (multi-diffusion). Both are gathers driven by index tables
// built once on the host (src/diffusion/patching.ts):
//   apply: out[((p*B + b)*C + c)*n + k] = x[(b*C + c)*HW + src[p*n + k]]   (src = row*W + col, reflected)
//   fuse:  out[(b*C + c)*HW + j] = inv_count[j] * sum_{t < K, tbl[j*K+t] >= 0} patches[((p*B + b)*C + c)*n + kk]
//          with tbl[j*K+t] = p*n + kk listing the patch pixels that cover image pixel j.
// Index: i = gid.x + gid.y * nwg.x * 256.

#include "lib/index.wgsl"

struct Params {
  total: u32,  // elements written
  B: u32,
  C: u32,
  n: u32,      // pixels per patch (Hp*Wp)
  HW: u32,     // pixels per image
  P: u32,      // patches
  K: u32,      // fuse: table entries per image pixel
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> tbl: array<i32>;
@group(0) @binding(3) var<storage, read> inv_count: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= p.total) { return; }
  let k = i % p.n;
  let c = (i / p.n) % p.C;
  let pb = i / (p.n * p.C);
  let b = pb % p.B;
  let pp = pb / p.B;
  out[i] = x[(b * p.C + c) * p.HW + u32(tbl[pp * p.n + k])];
}

@compute @workgroup_size(256)
fn fuse(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= p.total) { return; }
  let j = i % p.HW;
  let bc = i / p.HW;
  let b = bc / p.C;
  let c = bc % p.C;
  var acc = 0.0;
  for (var t = 0u; t < p.K; t++) {
    let e = tbl[j * p.K + t];
    if (e >= 0) {
      let pp = u32(e) / p.n;
      let kk = u32(e) % p.n;
      acc += x[((pp * p.B + b) * p.C + c) * p.n + kk];
    }
  }
  out[i] = acc * inv_count[j];
}
