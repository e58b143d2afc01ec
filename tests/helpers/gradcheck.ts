/**
 * Finite-difference gradient checks for GPU ops.
 *
 * The loss is L = sum(op(inputs) * R) for a fixed random R, so every output element matters. The
 * analytic gradient comes from the tape; the numeric one from central differences of L, with the op
 * run in float32 on the device and the sum formed in float64 on the host, at a sample of input
 * elements. With h = 1e-2 that is accurate to about 1e-3 relative on smooth ops, hence the default
 * tolerance.
 */
import { initRuntime, rt } from "../../src/gpu/runtime.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import { valueAndGrad } from "../../src/gpu/autograd.ts";
import { mul, sumAll } from "../../src/ops/elementwise.ts";

/** Deterministic standard normals (Box-Muller on a small LCG-free xorshift). */
export function randn(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

export interface GradCheckInput {
  data: Float32Array;
  shape: number[];
  /** false for inputs that get no gradient (e.g. indices). */
  grad?: boolean;
}

/**
 * Checks d sum(f(inputs) * R) / d input for every differentiable input at up to `samples` elements.
 * Returns the worst |analytic - numeric| / (atol + rtol * |numeric|) ratio (must be <= 1).
 */
export async function gradCheck(
  f: (xs: Tensor[]) => Tensor,
  inputs: GradCheckInput[],
  opts: { samples?: number; h?: number; atol?: number; rtol?: number; seed?: number } = {},
): Promise<number> {
  const { samples = 24, h = 1e-2, atol = 2e-3, rtol = 2e-2, seed = 7 } = opts;
  const r = await initRuntime();
  let R: Tensor | null = null;
  const loss = (xs: Tensor[]) => {
    const y = f(xs);
    if (!R) R = r.upload(randn(y.size, seed + 999), y.shape).keep();
    return sumAll(mul(y, R));
  };
  // Analytic gradients.
  const analytic = r.scope(() => {
    const xs = inputs.map((inp) => {
      const t = r.upload(inp.data, inp.shape);
      t.requiresGrad = inp.grad !== false;
      return t;
    });
    const { grads } = valueAndGrad(() => loss(xs));
    return xs.map((x) => grads.get(x) ?? null);
  });
  const analyticHost = await Promise.all(analytic.map((g) => g ? g.read() : Promise.resolve(null)));
  analytic.forEach((g) => g?.release());
  // The numeric side reads f's output and forms sum(y * R) in float64 on the host, so that only the
  // op's own float32 rounding, not a float32 reduction over many terms, limits the difference quotient.
  let Rdata: Float32Array | null = null;
  const evalLoss = async (datas: Float32Array[]) => {
    const y = r.scope(() => f(datas.map((d, i) => r.upload(d, inputs[i].shape))));
    const host = await y.read();
    y.release();
    Rdata ??= await R!.read();
    let acc = 0;
    for (let i = 0; i < host.length; i++) acc += host[i] * Rdata[i];
    return acc;
  };
  let worst = 0;
  for (let k = 0; k < inputs.length; k++) {
    if (inputs[k].grad === false) continue;
    const g = analyticHost[k];
    if (!g) throw new Error(`gradCheck: input ${k} got no gradient`);
    const n = inputs[k].data.length;
    const idx = n <= samples
      ? [...Array(n).keys()]
      : [...Array(samples)].map((_, i) => Math.floor((i * n) / samples + (i % 3)) % n);
    for (const i of idx) {
      const plus = inputs.map((x) => x.data.slice());
      const minus = inputs.map((x) => x.data.slice());
      plus[k][i] += h;
      minus[k][i] -= h;
      const num = ((await evalLoss(plus)) - (await evalLoss(minus))) / (2 * h);
      const ratio = Math.abs(g[i] - num) / (atol + rtol * Math.abs(num));
      if (ratio > worst) worst = ratio;
      if (ratio > 1) {
        throw new Error(
          `gradCheck: input ${k} element ${i}: analytic ${g[i]} vs numeric ${num} (ratio ${
            ratio.toFixed(2)
          })`,
        );
      }
    }
  }
  (R as Tensor | null)?.release();
  rt().pool.trim();
  return worst;
}
