// Images (src/gpu/image.ts): a tensor's floats in an rgba32float storage texture, texel i (floats 4i..4i+3)
// at (i mod 2^IMG_SHIFT, i >> IMG_SHIFT). The op sets IMG_SHIFT to the runtime's IMAGE_SHIFT.
override IMG_SHIFT: u32 = 12u;

fn texel(i: u32) -> vec2<u32> {
  return vec2<u32>(i & ((1u << IMG_SHIFT) - 1u), i >> IMG_SHIFT);
}
