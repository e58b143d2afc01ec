/**
 * Samplers against analytic solutions (the reference's own correctness test) and schedule checks.
 */
import { assert, assertAlmostEquals, assertEquals } from "../helpers/assert.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import { axpby, full, zeros } from "../../src/ops/elementwise.ts";
import {
  deterministicSampler,
  deterministicTimeSteps,
  stochasticSampler,
  stochasticTimeSteps,
} from "../../src/diffusion/samplers.ts";

Deno.test("deterministic Heun solves dx/dsigma = x exactly enough: x(0) = 1 from x(4) = e^-4", async () => {
  await initRuntime();
  // D(x; sigma) = (sigma + 1) x makes the ODE direction d = (x - D) / sigma = -x.
  const denoise = (x: Tensor, s: number) => axpby(s + 1, x, 0, x);
  const latents = full([1, 1, 4, 4], Math.exp(-4) / 4);
  const x = deterministicSampler(denoise, latents, (shape) => zeros(shape), {
    numSteps: 100,
    sigmaMax: 4,
    solver: "heun",
  });
  for (const v of await x.read()) assertAlmostEquals(v, 1, 1e-2);
});

Deno.test("stochastic sampler: 2N-1 calls on the EDM schedule, one draw per step, noise only under churn", async () => {
  await initRuntime();
  const t = stochasticTimeSteps({ numSteps: 18 });
  assertEquals(t.length, 19);
  assertAlmostEquals(t[0], 800, 1e-3);
  assertAlmostEquals(t[17], 0.002, 1e-7);
  assertEquals(t[18], 0);
  for (let i = 1; i < 18; i++) assert(t[i] < t[i - 1]);
  const det = deterministicTimeSteps({ numSteps: 9 });
  assertAlmostEquals(det[0], 80, 1e-9);
  const sigmas: number[] = [];
  let draws = 0;
  const x = stochasticSampler(
    (xs) => axpby(0.9, xs, 0, xs),
    full([2, 1, 4, 4], 1),
    (shape) => {
      draws++;
      return zeros(shape);
    },
    { numSteps: 6 },
    (_x, s) => sigmas.push(s),
  );
  assertEquals(sigmas.length, 11);
  assertEquals(draws, 6);
  assertEquals(sigmas[0], stochasticTimeSteps({ numSteps: 6 })[0]);
  assert((await x.read()).every(Number.isFinite));
});

Deno.test("sampler memory stays flat over the steps: each step's temporaries are released", async () => {
  const r = await initRuntime();
  const shape = [2, 2, 32, 32];
  const peakFor = (numSteps: number) => {
    r.flush();
    r.pool.resetPeak();
    const before = r.pool.stats().liveBytes;
    const out = r.scope(() =>
      stochasticSampler((x) => axpby(0.5, x, 0, x), full(shape, 1), (s) => zeros(s), { numSteps, S_churn: 1 })
    );
    const peak = r.pool.stats().peakBytes - before;
    out.release();
    return peak;
  };
  const short = peakFor(4), long = peakFor(24);
  assert(long <= short, `peak device memory grew with the steps: ${short} bytes for 4 steps, ${long} for 24`);
});
