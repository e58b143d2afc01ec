/**
 * Inverted dropout from a counter-based hash, so masks need no storage and the backward pass
 * recomputes them (kernel in kernels/dropout.wgsl).
 */
import type { KernelProfile } from "../gpu/device.ts";
import { rt } from "../gpu/runtime.ts";
import { declareKernel } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";

const PARAMS = { n: "u32", chunk: "u32", threshold: "u32", scale: "f32", k0: "u32", k1: "u32" } as const;
/** Override VEC4 (n % 4 == 0) reads x4 and writes out4, the same buffers as x and out. */
const DROPOUT = declareKernel({
  file: "dropout",
  entry: "dropout",
  params: PARAMS,
  bindings: ["x", "out", "x4", "out4"],
});
/** Elements per thread in the cpu family (few, long-running workgroups suit llvmpipe). */
const CPU_CHUNK = 256;

/** The kernel's integer finaliser ("lowbias32"), used here to derive round keys from the seed. */
function mix(v: number): number {
  let h = v >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Round keys from a seed (any safe integer: its low and high 32 bits both count). */
function roundKeys(seed: number): [number, number] {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const k0 = mix(lo ^ 0x9e3779b9);
  const k1 = mix(hi ^ k0 ^ 0x85ebca6b);
  return [k0, k1];
}

/** Records the masked scaling of `x` into a new tensor (no tape). */
function applyMask(x: Tensor, p: number, seed: number, profile?: KernelProfile): Tensor {
  const r = rt();
  const out = r.empty(x.shape);
  const width = x.size % 4 === 0 ? 4 : 1;
  const n = x.size / width;
  const chunk = (profile ?? r.gpu.profile) === "cpu" ? CPU_CHUNK / width : 1;
  // 16 bits of hash per element (see the kernel): p is quantised to 1/65536.
  const threshold = Math.round(p * 65536);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const [k0, k1] = roundKeys(seed);
  const params = { n, chunk, threshold, scale, k0, k1 };
  const k = DROPOUT.with({ VEC4: width === 4 });
  k.run(params, { x, out, x4: x, out4: out }, k.grid(Math.ceil(n / chunk)));
  return out;
}

/**
 * Inverted dropout: in train mode each element is zeroed with probability p and the rest scaled by
 * 1 / (1 - p); the mask is a hash of (seed, element index), so the same seed gives the same mask.
 * Returns x itself when !train or p == 0 (p == 1 gives zeros). The gradient is the output gradient
 * times the same mask and scale. `profile` forces a kernel family (default: the adapter's).
 */
export function dropout(x: Tensor, p: number, seed: number, train: boolean, profile?: KernelProfile): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability must be in [0, 1], got ${p}`);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`dropout: seed must be a non-negative integer, got ${seed}`);
  }
  if (!train || p === 0) return x;
  const r = rt();
  const out = applyMask(x, p, seed, profile);
  if (r.tape?.wants(x)) r.tape.record([x], out, (g) => [applyMask(g, p, seed, profile)]);
  return out;
}
