// 2x2 mean pooling, stride 2 (floor), and its adjoint, for [B, C, H, W] float32 tensors:
//   avg_pool2:     y[bc][i][j] = (x[2i][2j] + x[2i][2j+1] + x[2i+1][2j] + x[2i+1][2j+1]) / 4
//   avg_pool2_bwd: dx[bc][r][c] = dy[r/2][c/2] / 4 inside the pooled region, 0 on an odd last row or column
// Grids without integer division (a per-lane loop on a CPU rasteriser): x = column, y = row (8 x 8
// per workgroup, so that narrow images fill the lanes), z = image plane b * C + c.

struct Params {
  H: u32,   // input rows
  W: u32,   // input columns
  Ho: u32,  // floor(H / 2)
  Wo: u32,  // floor(W / 2)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// x as vec4s (the same buffer): with VEC4 (W a multiple of 4) a thread pools two outputs from one vec4
// of each input row; a vec4 load costs about 2.6 scalar ones on a CPU rasteriser.
@group(0) @binding(3) var<storage, read> x4: array<vec4<f32>>;
override VEC4: bool = false;

@compute @workgroup_size(8, 8)
fn avg_pool2(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y;
  if (i >= p.Ho) { return; }
  if (VEC4) {
    let j = 2u * gid.x;
    if (j >= p.Wo) { return; }
    let at = ((gid.z * p.H + 2u * i) * p.W + 2u * j) / 4u;
    let s = x4[at] + x4[at + p.W / 4u];
    let o = (gid.z * p.Ho + i) * p.Wo + j;
    y[o] = 0.25 * (s.x + s.y);
    if (j + 1u < p.Wo) { y[o + 1u] = 0.25 * (s.z + s.w); }
    return;
  }
  let j = gid.x;
  if (j >= p.Wo) { return; }
  let at = (gid.z * p.H + 2u * i) * p.W + 2u * j;
  y[(gid.z * p.Ho + i) * p.Wo + j] = 0.25 * ((x[at] + x[at + 1u]) + (x[at + p.W] + x[at + p.W + 1u]));
}

@compute @workgroup_size(8, 8)
fn avg_pool2_bwd(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let r = gid.y;
  if (c >= p.W || r >= p.H) { return; }
  let i = r >> 1u;
  let j = c >> 1u;
  var v = 0.0;
  if (i < p.Ho && j < p.Wo) { v = 0.25 * x[(gid.z * p.Ho + i) * p.Wo + j]; }
  y[(gid.z * p.H + r) * p.W + c] = v;
}
