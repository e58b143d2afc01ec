// Inverted dropout: out[i] = x[i] * scale if element i is kept, else 0, with scale = 1 / (1 - p).
// The mask comes from a counter-based hash of (seed, i): nothing is stored, and the backward pass is
// the same kernel applied to the output gradient with the same seed.
//   h = mix(mix(j ^ k0) ^ k1) for the element pair j = i / 2; element i uses the 16-bit half
//   (h >> (16 * (i % 2))) & 0xffff and is kept iff that half >= threshold = round(p * 65536).
// mix is Wellons' "lowbias32" integer finaliser; the round keys k0, k1 are derived from the seed on
// the host (src/ops/dropout.ts), so different seeds give unrelated masks rather than shifted copies.
// Sixteen bits per element quantise p to 1/65536 and halve the hashing, which dominates the cost.
// Each thread handles `chunk` consecutive vec4s (VEC4, n % 4 == 0: through x4 and out4, the buffers of
// x and out bound a second time) or values; threads are indexed as gid.x + gid.y * nwg.x * 64
// (Runtime.grid).

#include "lib/index.wgsl"

struct Params {
  n: u32,         // elements (vec4s with VEC4)
  chunk: u32,     // elements (vec4s) per thread
  threshold: u32,
  scale: f32,
  k0: u32,
  k1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out4: array<vec4<f32>>;

override VEC4: bool = false;

fn mix(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

fn pair_hash(j: u32) -> u32 {
  return mix(mix(j ^ p.k0) ^ p.k1);
}

/// scale for a kept element, 0 for a dropped one, from the 16-bit halves of a pair hash.
fn factor(halves: vec2<u32>) -> vec2<f32> {
  let kept = halves >= vec2<u32>(p.threshold);
  return select(vec2<f32>(0.0), vec2<f32>(p.scale), kept);
}

fn halves(h: u32) -> vec2<u32> {
  return vec2<u32>(h & 0xffffu, h >> 16u);
}

@compute @workgroup_size(64)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let begin = flat_index(gid, nwg, 64u) * p.chunk;
  let end = min(begin + p.chunk, p.n);
  for (var j = begin; j < end; j++) {
    if (VEC4) {
      let f = vec4<f32>(factor(halves(pair_hash(2u * j))), factor(halves(pair_hash(2u * j + 1u))));
      out4[j] = x4[j] * f;
    } else {
      out[j] = x[j] * factor(halves(pair_hash(j / 2u)))[j % 2u];
    }
  }
}
