/**
 * The optimiser kernels against a float64 host implementation of torch.optim.Adam and of train.py's
 * gradient treatment (nan_to_num, clip_grad_norm_), over arenas split into several segments.
 */
import { initRuntime } from "../../src/gpu/runtime.ts";
import { Adam } from "../../src/train/adam.ts";
import { ParamArena } from "../../src/train/arena.ts";
import { Rng } from "../../src/util/rng.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import { assert, assertClose, assertEquals } from "../helpers/assert.ts";

interface HostParam {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

function hostStep(ps: HostParam[], grads: Float64Array[], t: number, lr: number, maxNorm: number | null) {
  const g = grads.map((a) =>
    a.map((x) => (Number.isNaN(x) ? 0 : x === Infinity ? 1e5 : x === -Infinity ? -1e5 : x))
  );
  let sq = 0;
  for (const a of g) for (const x of a) sq += x * x;
  const norm = Math.sqrt(sq);
  const coef = maxNorm ? Math.min(maxNorm / (norm + 1e-6), 1) : 1;
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  ps.forEach((P, k) => {
    for (let i = 0; i < P.p.length; i++) {
      const gi = g[k][i] * coef;
      P.m[i] = b1 * P.m[i] + (1 - b1) * gi;
      P.v[i] = b2 * P.v[i] + (1 - b2) * gi * gi;
      const denom = Math.sqrt(P.v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      P.p[i] -= (lr / (1 - b1 ** t)) * (P.m[i] / denom);
    }
  });
  return norm;
}

async function run(maxNorm: number | null, withBad: boolean) {
  const r = await initRuntime();
  const rng = new Rng(5);
  const shapes = [[7, 3], [129], [64, 5], [1], [300]];
  const params = new Map<string, Tensor>();
  const host: HostParam[] = [];
  shapes.forEach((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const init = rng.normals(n);
    params.set(`p${k}`, r.upload(init, shape).keep());
    host.push({ p: Float64Array.from(init), m: new Float64Array(n), v: new Float64Array(n) });
  });
  const arena = new ParamArena(params, { maxSegmentBytes: 2048 });
  assert(arena.segments.length >= 3, `expected several segments, got ${arena.segments.length}`);
  const adam = new Adam(arena);
  let norm = 0;
  for (let t = 1; t <= 4; t++) {
    const grads = new Map<Tensor, Tensor>();
    const hostGrads: Float64Array[] = [];
    // Two accumulation rounds: the gradients add up.
    for (let round = 0; round < 2; round++) {
      const gm = new Map<Tensor, Tensor>();
      [...params.values()].forEach((p, k) => {
        if (k === 3 && round === 1) return; // a parameter without gradient in one round
        const g = rng.normals(p.size).map((x) => x * 3);
        if (withBad && t === 2 && k === 1 && round === 0) {
          g[0] = NaN;
          g[5] = Infinity;
          g[9] = -Infinity;
        }
        gm.set(p, r.upload(g, p.shape));
        hostGrads[k] ??= new Float64Array(p.size);
        for (let i = 0; i < g.length; i++) {
          const x = g[i];
          // nan_to_num runs on the accumulated gradient: NaN/inf stay what they are through the sum.
          hostGrads[k][i] += x;
        }
      });
      arena.gatherGrads(gm, round === 0, adam.accumulate);
      for (const [k, v] of gm) grads.set(k, v);
    }
    adam.update(1e-2, maxNorm);
    norm = hostStep(host, hostGrads, t, 1e-2, maxNorm);
  }
  const got = await arena.read("param");
  const stats = await adam.readStats();
  [...got.values()].forEach((v, k) => assertClose(v, host[k].p, 1e-6, 1e-4, `param ${k}`));
  assertClose([stats.gradNorm], [norm], 0, 1e-4, "gradient norm");
  assertEquals(stats.nonFiniteGrads, withBad ? 3 : 0);
  // The tensors still serve as parameters: reading one through its own handle gives the arena's values.
  const p2 = await params.get("p2")!.read();
  assertEquals([...p2], [...got.get("p2")!]);
  adam.dispose();
  arena.dispose();
}

Deno.test("Adam over multi-segment arenas equals float64 torch.optim.Adam", () => run(null, false));
Deno.test("Adam with global-norm clipping and non-finite gradients (nan_to_num, counted)", () =>
  run(0.5, true));
