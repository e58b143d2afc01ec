// Reference 2-D convolution (direct, one thread per output value) with the fused 2x resampling of
// the reference's Conv2d: up = nearest-neighbour x2 before the conv, down = 2x2 mean (stride 2)
// before the conv. Slow but plain: it is the oracle the fast kernels (conv2d.wgsl) are tested against.
//
// Shapes: x [B, Ci, Hi, Wi], w [Co, Ci, k, k], y [B, Co, H, W] where (H, W) is the resampled size.
// Index: i = gid.x + gid.y * nwg.x * 64.

struct Params {
  total: u32,
  B: u32, Ci: u32, Co: u32,
  Hi: u32, Wi: u32,  // input size
  H: u32, W: u32,    // conv (resampled) size
  k: u32,
  mode: u32,         // 0 plain, 1 up, 2 down
  has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 64u;
}

// Value of the resampled input at (c, yy, xx) of sample n, zero outside.
fn resampled(n: u32, c: u32, yy: i32, xx: i32) -> f32 {
  if (yy < 0 || xx < 0 || yy >= i32(p.H) || xx >= i32(p.W)) { return 0.0; }
  let base = (n * p.Ci + c) * p.Hi * p.Wi;
  let y = u32(yy);
  let x = u32(xx);
  if (p.mode == 1u) { return a[base + (y / 2u) * p.Wi + x / 2u]; }
  if (p.mode == 2u) {
    let o = base + (2u * y) * p.Wi + 2u * x;
    return (a[o] + a[o + 1u] + a[o + p.Wi] + a[o + p.Wi + 1u]) * 0.25;
  }
  return a[base + y * p.Wi + x];
}

// y[n, co, y, x] = bias[co] + sum_{ci, ky, kx} w[co, ci, ky, kx] * xr[n, ci, y + ky - pad, x + kx - pad]
@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.total) { return; }
  let x = i % p.W;
  let y = (i / p.W) % p.H;
  let co = (i / (p.W * p.H)) % p.Co;
  let n = i / (p.W * p.H * p.Co);
  let pad = i32(p.k / 2u);
  var acc = 0.0;
  for (var ci = 0u; ci < p.Ci; ci++) {
    for (var ky = 0u; ky < p.k; ky++) {
      for (var kx = 0u; kx < p.k; kx++) {
        let wv = b[((co * p.Ci + ci) * p.k + ky) * p.k + kx];
        acc += wv * resampled(n, ci, i32(y + ky) - pad, i32(x + kx) - pad);
      }
    }
  }
  if (p.has_bias == 1u) { acc += bias[co]; }
  out[i] = acc;
}

// Gradient of the resampled input: gxr[n, ci, y, x] = sum_{co, ky, kx} w[co, ci, ky, kx] * gy[n, co, y - ky + pad, x - kx + pad].
// a = gy, b = w; one thread per resampled-input value; the adjoint of the resampling follows in
// `resample_adjoint`.
@compute @workgroup_size(64)
fn grad_input_resampled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.total) { return; }
  let x = i % p.W;
  let y = (i / p.W) % p.H;
  let ci = (i / (p.W * p.H)) % p.Ci;
  let n = i / (p.W * p.H * p.Ci);
  let pad = i32(p.k / 2u);
  var acc = 0.0;
  for (var co = 0u; co < p.Co; co++) {
    for (var ky = 0u; ky < p.k; ky++) {
      let oy = i32(y) - i32(ky) + pad;
      if (oy < 0 || oy >= i32(p.H)) { continue; }
      for (var kx = 0u; kx < p.k; kx++) {
        let ox = i32(x) - i32(kx) + pad;
        if (ox < 0 || ox >= i32(p.W)) { continue; }
        acc += b[((co * p.Ci + ci) * p.k + ky) * p.k + kx] * a[((n * p.Co + co) * p.H + u32(oy)) * p.W + u32(ox)];
      }
    }
  }
  out[i] = acc;
}

// Adjoint of the resampling: a = gradient on the resampled grid [B, Ci, H, W] → out [B, Ci, Hi, Wi].
// up (nearest x2): sum of the 2x2 block; down (2x2 mean): a quarter of the coarse value (zero on a
// trailing odd row/column that the floor dropped).
@compute @workgroup_size(64)
fn resample_adjoint(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.total) { return; }
  let x = i % p.Wi;
  let y = (i / p.Wi) % p.Hi;
  let nc = i / (p.Wi * p.Hi);
  let base = nc * p.H * p.W;
  if (p.mode == 1u) {
    let o = base + (2u * y) * p.W + 2u * x;
    out[i] = a[o] + a[o + 1u] + a[o + p.W] + a[o + p.W + 1u];
  } else {
    let yy = y / 2u;
    let xx = x / 2u;
    if (yy < p.H && xx < p.W) { out[i] = 0.25 * a[base + yy * p.W + xx]; } else { out[i] = 0.0; }
  }
}

// gw[co, ci, ky, kx] = sum_{n, y, x} gy[n, co, y, x] * xr[n, ci, y + ky - pad, x + kx - pad]; a = x, b = gy.
@compute @workgroup_size(64)
fn grad_weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= p.total) { return; }
  let kx = i % p.k;
  let ky = (i / p.k) % p.k;
  let ci = (i / (p.k * p.k)) % p.Ci;
  let co = i / (p.k * p.k * p.Ci);
  let pad = i32(p.k / 2u);
  var acc = 0.0;
  for (var n = 0u; n < p.B; n++) {
    for (var y = 0u; y < p.H; y++) {
      for (var x = 0u; x < p.W; x++) {
        acc += b[((n * p.Co + co) * p.H + y) * p.W + x] * resampled(n, ci, i32(y + ky) - pad, i32(x + kx) - pad);
      }
    }
  }
  out[i] = acc;
}
