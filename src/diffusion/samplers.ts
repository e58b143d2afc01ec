/**
 * EDM samplers for the residual diffusion model (reference: physicsnemo/diffusion/samplers/
 * legacy_stochastic_sampler.py and legacy_deterministic_sampler.py).
 *
 * The whole run is recorded without a single CPU-GPU sync: the noise schedule lives on the host, and
 * the state, the network calls and the update steps stay on the device.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { axpby, scale } from "../ops/elementwise.ts";

/** D(x; sigma): the preconditioned denoiser, with patching and conditioning already bound. */
export type Denoiser = (x: Tensor, sigma: number) => Tensor;

/** Returns a fresh standard-normal tensor of the given shape (one call per step: randn_like). */
export type RandnLike = (shape: readonly number[]) => Tensor;

/** Observes every network call (for golden checks and debugging). */
export type CallHook = (x: Tensor, sigma: number, denoised: Tensor) => void;

/** Options of the stochastic (EDM Heun with churn) sampler, as the reference names them. */
export interface StochasticOptions {
  /** Number of noise levels N (default 18); 2N - 1 network calls. */
  numSteps?: number;
  /** Smallest noise level of the schedule (default 0.002). */
  sigmaMin?: number;
  /** Largest noise level of the schedule (default 800). */
  sigmaMax?: number;
  /** Exponent of the time-step discretisation (default 7). */
  rho?: number;
  /** Total churn: each step in [S_min, S_max] raises its noise level by gamma = S_churn / N (default 0). */
  S_churn?: number;
  /** Lowest noise level that gets churn (default 0). */
  S_min?: number;
  /** Highest noise level that gets churn (default infinity). */
  S_max?: number;
  /** Scale of the churn noise (default 1). */
  S_noise?: number;
  /** The network's own limits (EDMPrecond sigma_min / sigma_max) clip the schedule. */
  netSigmaMin?: number;
  /** Upper noise limit of the network (EDMPrecond sigma_max); the schedule starts at or below it. */
  netSigmaMax?: number;
}

const f = Math.fround;

/** The denoiser, reporting each call to `onCall`. */
function observed(denoise: Denoiser, onCall?: CallHook): Denoiser {
  return (x, s) => {
    const D = denoise(x, s);
    onCall?.(x, s, D);
    return D;
  };
}

/**
 * One "churn" move: x_hat = x + sqrt(t_hat^2 - t^2) * S_noise * eps. A draw is consumed at every step,
 * even when the noise term is zero, so the random stream stays aligned with the reference's.
 */
function addChurnNoise(x: Tensor, noiseScale: number, randnLike: RandnLike): Tensor {
  return axpby(1, x, noiseScale, randnLike(x.shape));
}

/**
 * One sampler step in a scope of its own: its temporaries (denoiser calls, slopes, noise) go back to
 * the pool when it ends, and so does the previous state, so memory stays flat over the steps.
 */
function step(x: Tensor, fn: (x: Tensor) => Tensor): Tensor {
  const next = rt().scope(() => fn(x));
  x.release();
  return next;
}

/** The stochastic sampler's float32 time steps t_0 > ... > t_{N-1} > t_N = 0. */
export function stochasticTimeSteps(o: StochasticOptions = {}): number[] {
  const N = o.numSteps ?? 18, rho = o.rho ?? 7;
  const sMin = Math.max(o.sigmaMin ?? 0.002, o.netSigmaMin ?? 0);
  const sMax = Math.min(o.sigmaMax ?? 800, o.netSigmaMax ?? Infinity);
  const a = f(sMax ** (1 / rho)), b = f(sMin ** (1 / rho));
  const t: number[] = [];
  for (let i = 0; i < N; i++) {
    const frac = f(i / (N - 1));
    t.push(f(f(a + f(frac * f(b - a))) ** rho));
  }
  t.push(0);
  return t;
}

/**
 * EDM's stochastic Heun sampler (2N-1 network calls). `latents` [B, C, H, W] are standard normal;
 * returns the final state (the residual, in normalised units).
 */
export function stochasticSampler(
  denoise: Denoiser,
  latents: Tensor,
  randnLike: RandnLike,
  o: StochasticOptions = {},
  onCall?: CallHook,
): Tensor {
  const t = stochasticTimeSteps(o);
  const N = t.length - 1;
  const churn = o.S_churn ?? 0, sMinC = o.S_min ?? 0, sMaxC = o.S_max ?? Infinity, sNoise = o.S_noise ?? 1;
  const call = observed(denoise, onCall);
  let x = scale(latents, t[0]);
  for (let i = 0; i < N; i++) {
    const tCur = t[i], tNext = t[i + 1];
    const gamma = sMinC <= tCur && tCur <= sMaxC ? f(churn / N) : 0;
    const tHat = f(tCur + f(gamma * tCur));
    x = step(x, (xi) => {
      const xHat = addChurnNoise(xi, f(f(Math.sqrt(f(f(tHat * tHat) - f(tCur * tCur)))) * sNoise), randnLike);
      const D = call(xHat, tHat);
      const d = axpby(1 / tHat, xHat, -1 / tHat, D);
      const h = f(tNext - tHat);
      const xNext = axpby(1, xHat, h, d);
      if (i === N - 1) return xNext;
      const D2 = call(xNext, tNext);
      const d2 = axpby(1 / tNext, xNext, -1 / tNext, D2);
      return axpby(1, xHat, h, axpby(0.5, d, 0.5, d2));
    });
  }
  return x;
}

/** Options of the deterministic (Euler or Heun) sampler. */
export interface DeterministicOptions {
  /** Number of noise levels N (default 18). */
  numSteps?: number;
  /** Integration step: Heun (second order, default) or Euler. */
  solver?: "heun" | "euler";
  /** Smallest noise level of the schedule (default 0.002). */
  sigmaMin?: number;
  /** Largest noise level of the schedule (default 80). */
  sigmaMax?: number;
  /** Exponent of the time-step discretisation (default 7). */
  rho?: number;
  /** Position of Heun's second evaluation within the step, as a fraction of it (default 1). */
  alpha?: number;
  /** Total churn: gamma = min(S_churn / N, sqrt(2) - 1) per step in [S_min, S_max] (default 0). */
  S_churn?: number;
  /** Lowest noise level that gets churn (default 0). */
  S_min?: number;
  /** Highest noise level that gets churn (default infinity). */
  S_max?: number;
  /** Scale of the churn noise (default 1). */
  S_noise?: number;
  /** Lower noise limit of the network (EDMPrecond sigma_min); clips the schedule. */
  netSigmaMin?: number;
  /** Upper noise limit of the network (EDMPrecond sigma_max); clips the schedule. */
  netSigmaMax?: number;
}

/** The deterministic sampler's time steps (EDM discretisation, float64), t_N = 0. */
export function deterministicTimeSteps(o: DeterministicOptions = {}): number[] {
  const N = o.numSteps ?? 18, rho = o.rho ?? 7;
  const sMin = Math.max(o.sigmaMin ?? 0.002, o.netSigmaMin ?? 0);
  const sMax = Math.min(o.sigmaMax ?? 80, o.netSigmaMax ?? Infinity);
  const a = sMax ** (1 / rho), b = sMin ** (1 / rho);
  const t = Array.from({ length: N }, (_, i) => (a + (i / (N - 1)) * (b - a)) ** rho);
  t.push(0);
  return t;
}

/**
 * The deterministic sampler (EDM discretisation, linear schedule, no scaling), Euler or Heun. The
 * reference keeps its state in float64; this port keeps it in float32 on the device (the reference's
 * own float32-state run agrees with it to 2e-5 on the golden cases).
 */
export function deterministicSampler(
  denoise: Denoiser,
  latents: Tensor,
  randnLike: RandnLike,
  o: DeterministicOptions = {},
  onCall?: CallHook,
): Tensor {
  const t = deterministicTimeSteps(o);
  const N = t.length - 1, alpha = o.alpha ?? 1, solver = o.solver ?? "heun";
  const churn = o.S_churn ?? 0, sMinC = o.S_min ?? 0, sMaxC = o.S_max ?? Infinity, sNoise = o.S_noise ?? 1;
  const call = observed(denoise, onCall);
  let x = scale(latents, t[0]);
  for (let i = 0; i < N; i++) {
    const tCur = t[i], tNext = t[i + 1];
    const gamma = sMinC <= tCur && tCur <= sMaxC ? Math.min(churn / N, Math.SQRT2 - 1) : 0;
    const tHat = tCur + gamma * tCur;
    x = step(x, (xi) => {
      const xHat = addChurnNoise(xi, Math.sqrt(Math.max(tHat * tHat - tCur * tCur, 0)) * sNoise, randnLike);
      const D = call(xHat, tHat);
      const d = axpby(1 / tHat, xHat, -1 / tHat, D);
      const h = tNext - tHat;
      if (solver === "euler" || i === N - 1) return axpby(1, xHat, h, d);
      const tP = tHat + alpha * h;
      const xP = axpby(1, xHat, alpha * h, d);
      const dP = axpby(1 / tP, xP, -1 / tP, call(xP, tP));
      const w = 1 / (2 * alpha);
      return axpby(1, xHat, h, axpby(1 - w, d, w, dP));
    });
  }
  return x;
}
