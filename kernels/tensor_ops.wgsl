// Data movement: strided row copies (channel concat/slice, batch tiling), the zero-padding embed that
// is a slice's gradient, and the pixel gather of positional-grid patches with its scatter-add.
//
// Row copies see both tensors as rows: row r of src starts at r * src_stride + src_off, row r of dst
// at r * dst_stride + dst_off, and row_len values are copied. Concat/slice along channels of
// [B, C, H, W] use rows = B and offsets/strides in units of H*W; tiling along the batch uses
// src_stride = 0 (every output row reads the whole input).
// src/ops/tensor_ops.ts moves few or long rows with copy commands instead (memcpy speed on llvmpipe);
// these kernels take many short rows and the slice gradient.
// Each thread copies one chunk of `chunk` values of one row (thread t: row t / nchunks, chunk
// t % nchunks): long chunks suit llvmpipe (few workgroups, no division per value), a chunk of one vec4
// or one value suits real GPUs (coalesced). With VEC4 the row entry points move vec4s (through src4 and
// dst4, the buffers of src and dst bound a second time) and take every length, stride and offset in
// vec4 units; without, scalars.
//
// 1-D launches index threads as gid.x + gid.y * nwg.x * 64 (Runtime.grid).

struct Params {
  rows: u32,
  row_len: u32,     // values (or vec4s) copied per row; for embed_rows, the src row length
  src_stride: u32,
  src_off: u32,
  dst_stride: u32,  // for embed_rows, the dst row length (every dst value is written)
  dst_off: u32,
  chunk: u32,       // values (or vec4s) per thread
  nchunks: u32,     // chunks per row: ceil(row_len / chunk) (ceil(dst_stride / chunk) in embed_rows)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dst4: array<vec4<f32>>;

override VEC4: bool = false;

const WG: u32 = 64u;

fn thread_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

/// [row, begin, end) of thread t's chunk of a row of `len` values.
fn chunk_of(t: u32, len: u32) -> vec3<u32> {
  let begin = (t % p.nchunks) * p.chunk;
  return vec3<u32>(t / p.nchunks, begin, min(begin + p.chunk, len));
}

// Four values with VEC4, else one in lane x (the other lanes are dropped by the compiler).
fn load_src(i: u32) -> vec4<f32> {
  if (VEC4) { return src4[i]; }
  return vec4<f32>(src[i]);
}

fn store_dst(i: u32, v: vec4<f32>) {
  if (VEC4) {
    dst4[i] = v;
  } else {
    dst[i] = v.x;
  }
}

@compute @workgroup_size(64)
fn copy_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = thread_index(gid, nwg);
  if (t >= p.rows * p.nchunks) { return; }
  let c = chunk_of(t, p.row_len);
  let s = c.x * p.src_stride + p.src_off;
  let d = c.x * p.dst_stride + p.dst_off;
  for (var k = c.y; k < c.z; k++) { store_dst(d + k, load_src(s + k)); }
}

// dst row r (dst_stride values) = zeros with src row r (row_len values) placed at dst_off: the
// gradient of a slice, written in one pass without a separate fill.
@compute @workgroup_size(64)
fn embed_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = thread_index(gid, nwg);
  if (t >= p.rows * p.nchunks) { return; }
  let c = chunk_of(t, p.dst_stride);
  for (var k = c.y; k < c.z; k++) {
    var v = vec4<f32>(0.0);
    if (k >= p.dst_off && k < p.dst_off + p.row_len) { v = load_src(c.x * p.row_len + k - p.dst_off); }
    store_dst(c.x * p.dst_stride + k, v);
  }
}

// ------------------------------------------------------------------ pixel gather / scatter-add
//
// grid [C, H, W]; index [P, 2, Hp, Wp] holds integer row (channel 0) and column (channel 1) indices as
// f32; out [P, C, Hp, Wp]. One thread per patch pixel (P * Hp * Wp threads) loops over the channels,
// so the index is read once. Indices outside the grid gather zeros and scatter nothing.

struct GatherParams {
  pixels: u32,   // P * Hp * Wp
  hpwp: u32,     // Hp * Wp
  channels: u32, // C
  height: u32,   // H
  width: u32,    // W
}

@group(0) @binding(0) var<uniform> gp: GatherParams;
@group(0) @binding(3) var<storage, read> grid: array<f32>;
@group(0) @binding(4) var<storage, read> index: array<f32>;
@group(0) @binding(5) var<storage, read_write> gathered: array<f32>;
@group(0) @binding(6) var<storage, read> dgathered: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgrid: array<atomic<u32>>;

/// Flat H*W offset of patch pixel i's source, or -1 when the index lies outside the grid.
fn source_pixel(i: u32) -> i32 {
  let pi = i / gp.hpwp; // patch
  let pix = i % gp.hpwp;
  let row = i32(index[(2u * pi) * gp.hpwp + pix]);
  let col = i32(index[(2u * pi + 1u) * gp.hpwp + pix]);
  if (row < 0 || col < 0 || row >= i32(gp.height) || col >= i32(gp.width)) { return -1; }
  return row * i32(gp.width) + col;
}

@compute @workgroup_size(64)
fn gather_pixels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = thread_index(gid, nwg);
  if (i >= gp.pixels) { return; }
  let s = source_pixel(i);
  let pi = i / gp.hpwp; // patch
  let pix = i % gp.hpwp;
  let hw = gp.height * gp.width;
  for (var c = 0u; c < gp.channels; c++) {
    var v = 0.0;
    if (s >= 0) { v = grid[c * hw + u32(s)]; }
    gathered[(pi * gp.channels + c) * gp.hpwp + pix] = v;
  }
}

/// dgrid[k] += v for an f32 stored as u32 bits (WGSL has no float atomics): compare-and-swap until
/// no other thread changed the value in between. The summation order is therefore unspecified.
fn atomic_add_f32(k: u32, v: f32) {
  var old = atomicLoad(&dgrid[k]);
  loop {
    let r = atomicCompareExchangeWeak(&dgrid[k], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

// dgrid (zeroed beforehand) += the patch gradients at their source pixels.
@compute @workgroup_size(64)
fn scatter_add_pixels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = thread_index(gid, nwg);
  if (i >= gp.pixels) { return; }
  let s = source_pixel(i);
  if (s < 0) { return; }
  let pi = i / gp.hpwp; // patch
  let pix = i % gp.hpwp;
  let hw = gp.height * gp.width;
  for (var c = 0u; c < gp.channels; c++) {
    atomic_add_f32(c * hw + u32(s), dgathered[(pi * gp.channels + c) * gp.hpwp + pix]);
  }
}
