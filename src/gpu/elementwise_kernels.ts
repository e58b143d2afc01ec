/**
 * The declared entry points of kernels/elementwise.wgsl and how they are launched: one thread per
 * element, or per four elements (VEC4) for the entries that take it when the count is a multiple of 4.
 * Shared by the elementwise ops (src/ops/elementwise.ts) and gradient bookkeeping (src/gpu/autograd.ts).
 */
import type { Tensor } from "./tensor.ts";
import { type DeclaredKernel, declareKernel } from "./kernel.ts";

const PARAMS = { n: "u32", alpha: "f32", beta: "f32", count: "u32", rows: "u32", inner: "u32" } as const;
const entry = (name: string) =>
  declareKernel({
    file: "elementwise",
    entry: name,
    params: PARAMS,
    bindings: ["x", "y", "out", "x4", "y4", "out4"],
  });

/** Every entry point of kernels/elementwise.wgsl. */
export const ELEMENTWISE = {
  fill: entry("fill"),
  axpby: entry("axpby"),
  scale: entry("scale"),
  mul: entry("mul"),
  silu_fwd: entry("silu_fwd"),
  silu_bwd: entry("silu_bwd"),
  mul_rows: entry("mul_rows"),
  add_channel_bias: entry("add_channel_bias"),
  sum_rows: entry("sum_rows"),
  sum_leading: entry("sum_leading"),
};

/** The entries that take VEC4: four elements per thread (a vec4 load costs ~2.6 scalar ones on llvmpipe). */
const VEC4_ENTRIES = new Set([
  ELEMENTWISE.fill,
  ELEMENTWISE.axpby,
  ELEMENTWISE.scale,
  ELEMENTWISE.mul,
  ELEMENTWISE.silu_fwd,
  ELEMENTWISE.silu_bwd,
]);

/** Parameters of an elementwise launch: `n` elements written, the rest as the entry reads them. */
export type ElementwiseParams = Partial<Record<keyof typeof PARAMS, number>> & { n: number };

/** Records entry `k` over `p.n` elements: four per thread where the entry and the count allow. */
export function launchElementwise(
  k: DeclaredKernel,
  p: ElementwiseParams,
  b: { x?: Tensor; y?: Tensor; out: Tensor },
): void {
  if (k === ELEMENTWISE.sum_rows) {
    // one thread per row either way; rows a multiple of 4 long are read as vec4s
    const vec4 = (p.inner ?? 0) % 4 === 0;
    const v = k.with({ VEC4: vec4 });
    v.run(p, { ...b, x4: vec4 ? b.x : b.x?.buffer }, v.grid(p.n));
    return;
  }
  if (!VEC4_ENTRIES.has(k)) {
    k.run(p, b, k.grid(p.n));
    return;
  }
  const vec4 = p.n % 4 === 0;
  const n = vec4 ? p.n / 4 : p.n;
  const v = k.with({ VEC4: vec4 });
  // the vec4 views: the tensors themselves, or (bound but unread) their whole buffers, never shorter
  // than one vec4 as a small slice may be
  const view = (t?: Tensor) => t && (vec4 ? t : t.buffer);
  v.run({ ...p, n }, { ...b, x4: view(b.x), y4: view(b.y), out4: view(b.out) }, v.grid(n));
}
