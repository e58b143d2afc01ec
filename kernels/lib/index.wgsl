// The flat index of a 1-D launch whose workgroups may be folded into y (Runtime.grid / DeclaredKernel.grid):
// i = gid.x + gid.y * (workgroups along x) * (workgroup width).
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>, width: u32) -> u32 {
  return gid.x + gid.y * nwg.x * width;
}
