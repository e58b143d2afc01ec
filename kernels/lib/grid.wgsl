// The grid read of the convolution kernels: a convolution runs on a grid (Hc x Wc) read from the tensor
// x (Hin x Win) through one of three resamplings, times inScale:
//   plain:           grid (y, x) reads x (y, x)
//   up (p.up = 1):   grid (y, x) reads x (y >> 1, x >> 1)                (nearest 2x up-sampling)
//   pooled (p.down = 1): grid (y, x) reads the sum of the 2x2 block of x at (2y, 2x)  (inScale 0.25: the mean)
// The including file declares `p` with u32 fields Hin, Win, Hc, Wc, up, down and the storage binding
// x: array<f32>.

// Offset along one axis of x of grid coordinate c.
fn grid_axis(c: u32) -> u32 {
  return (c >> p.up) << p.down;
}

// Offset along one axis of grid coordinate c clamped into the grid's n values (callers mask the outside).
fn grid_offset(c: i32, n: u32) -> u32 {
  return grid_axis(u32(clamp(c, 0, i32(n) - 1)));
}

// 1 where grid coordinate c lies in [0, n), else 0.
fn inside(c: i32, n: u32) -> f32 {
  return select(0.0, 1.0, c >= 0 && c < i32(n));
}

// Where grid pixel (gy, gx), inside the grid, reads in a plane of x; `ok` is false where that falls
// outside x (an up-sampled odd-sized grid read from a floor-pooled tensor: the adjoint of floor pooling
// gives its last row or column zero), and `at` is then 0.
struct GridSource { at: u32, ok: bool }

fn grid_source(gy: u32, gx: u32) -> GridSource {
  let sy = grid_axis(gy);
  let sx = grid_axis(gx);
  let ok = sy < p.Hin && sx < p.Win;
  return GridSource(select(0u, sy * p.Win + sx, ok), ok);
}

// x at flat index i, or with `pool` the sum of the 2x2 block whose top-left that is. Pass an override
// constant where the kernel is compiled per resampling (the branch is compiled away), p.down != 0u
// where it is not.
fn grid_fetch(i: u32, pool: bool) -> f32 {
  if (pool) { return x[i] + x[i + 1u] + x[i + p.Win] + x[i + p.Win + 1u]; }
  return x[i];
}
