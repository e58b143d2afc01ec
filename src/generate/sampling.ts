/**
 * The per-time pipeline on the device (reference: legacy_generate.py regression_step/diffusion_step):
 * the regression mean once per time, then the diffusion sampler for each batch of members, every
 * step recorded without a CPU-GPU sync; the caller reads each batch back once.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { add, zeros } from "../ops/elementwise.ts";
import { broadcastBatch, concatChannels } from "../ops/tensor_ops.ts";
import type { DevicePatching } from "../ops/patching.ts";
import { globalView, type GridPatching } from "../diffusion/patching.ts";
import {
  type CallHook,
  type Denoiser,
  deterministicSampler,
  type RandnLike,
  stochasticSampler,
} from "../diffusion/samplers.ts";
import type { CorrDiffRegressionUNet, EDMPrecondSuperResolution } from "../nn/wrappers.ts";
import { Rng } from "../util/rng.ts";
import type { SamplerSettings } from "./settings.ts";

/** Host data with its NCHW shape. */
export interface HostTensor {
  /** Values, row-major. */
  data: Float32Array;
  /** Shape, [N, C, H, W]. */
  shape: readonly number[];
}

const EVAL = { train: false } as const;

/** The regression mean [1, C_out, H, W] of a normalised input [1, C_in, H, W] (regression_step). */
export function regressionMean(net: CorrDiffRegressionUNet, imgLr: Tensor, leadTime?: number): Tensor {
  const [, , H, W] = imgLr.shape;
  const leadTimeLabel = leadTime === undefined ? undefined : [leadTime];
  return rt().scope(() => net.forward(zeros([1, net.outChannels, H, W]), imgLr, EVAL, { leadTimeLabel }));
}

/** The regression mean added to every member's residual: [1, C, H, W] + [B, C, H, W]. */
export function addMean(mean: Tensor, residual: Tensor): Tensor {
  return rt().scope(() => add(broadcastBatch(mean, residual.shape[0]), residual));
}

/**
 * Initial latents and the sampler's `randn_like` for a batch of seeds: one generator per seed
 * (StackedRandomGenerator), seeded with the seed itself, drawing the latent and then one field per
 * step. Without churn the per-step draws are multiplied by zero, so zeros stand in for them and no
 * time goes into drawing them.
 */
export function seededNoise(
  seeds: readonly number[],
  sample: readonly [number, number, number],
  churn: boolean,
): { latents: Tensor; randnLike: RandnLike } {
  const r = rt();
  const n = sample[0] * sample[1] * sample[2];
  const rngs = seeds.map((s) => new Rng(s));
  const draw = () => {
    const out = new Float32Array(seeds.length * n);
    rngs.forEach((g, b) => out.set(g.normals(n), b * n));
    return out;
  };
  const latents = r.upload(draw(), [seeds.length, ...sample]);
  const randnLike: RandnLike = churn ? (shape) => r.upload(draw(), shape) : (shape) => zeros(shape);
  return { latents, randnLike };
}

/** The device conditioning of one batch size, and the positional-grid selector under patching. */
interface BatchConditioning {
  cond: Tensor;
  selector?: (grid: Tensor) => Tensor;
}

/**
 * The diffusion step at one time: the model, what it is conditioned on (the normalised input and,
 * with hr_mean_conditioning, the regression mean), the patching and the sampler. The conditioning
 * is assembled on the device once per batch size and reused by every batch of the time.
 */
export class DiffusionStep {
  readonly #byBatch = new Map<number, BatchConditioning>();

  /**
   * Sets up the diffusion step of one time; the conditioning is built when a batch size first needs it.
   *
   * @param net the diffusion model
   * @param imgLr normalised input [1 or B, C_in, H, W] (1: shared by every member)
   * @param mean the regression mean [1, C_out, H, W], or null without hr_mean_conditioning
   * @param patching grid patching on the device, or null for whole-domain generation
   * @param leadTime the time's lead-time label (lead-time models), the same for every member
   */
  constructor(
    readonly net: EDMPrecondSuperResolution,
    readonly imgLr: HostTensor,
    readonly mean: Tensor | null,
    readonly patching: DevicePatching | null,
    readonly sampler: SamplerSettings,
    readonly leadTime?: number,
  ) {}

  /**
   * Records the sampler for a batch of latents [B, C_out, H, W] and returns the residual (in
   * normalised units, not read back). `onCall` observes every network evaluation.
   */
  sample(latents: Tensor, randnLike: RandnLike, onCall?: CallHook): Tensor {
    const r = rt();
    const { net, patching: dev, sampler: s } = this;
    const B = latents.shape[0];
    const { cond, selector } = this.#conditioning(B);
    const leadTimeLabel = this.leadTime === undefined ? undefined : new Array(B).fill(this.leadTime);
    // Each call's activations are released as soon as it is recorded: memory stays at one call's.
    const denoise: Denoiser = (x, sigma) =>
      r.scope(() => {
        const sig = new Float32Array([sigma]);
        if (!dev) return net.forward(x, cond, sig, EVAL, { leadTimeLabel });
        return dev.fuse(
          net.forward(dev.apply(x), cond, sig, EVAL, { embeddingSelector: selector, leadTimeLabel }),
        );
      });
    const common = {
      numSteps: s.numSteps,
      S_churn: s.S_churn,
      S_min: s.S_min,
      S_max: s.S_max,
      S_noise: s.S_noise,
      sigmaMin: s.sigmaMin,
      sigmaMax: s.sigmaMax,
      rho: s.rho,
      netSigmaMin: net.sigmaMin,
      netSigmaMax: net.sigmaMax,
    };
    // the weights' derived layouts (made once per weight version) go back to the pool when the run ends
    const thaw = r.freezeParameters();
    try {
      return s.type === "deterministic"
        ? deterministicSampler(denoise, latents, randnLike, { ...common, solver: s.solver }, onCall)
        : stochasticSampler(denoise, latents, randnLike, common, onCall);
    } finally {
      thaw();
    }
  }

  /** Releases the cached conditioning tensors. */
  dispose(): void {
    for (const { cond } of this.#byBatch.values()) {
      cond.release();
    }
    this.#byBatch.clear();
  }

  /** cat[mean, img_lr] expanded to the batch (then patched, with the whole-domain view appended). */
  #conditioning(B: number): BatchConditioning {
    const cached = this.#byBatch.get(B);
    if (cached) return cached;
    const r = rt();
    const { imgLr, mean, patching: dev } = this;
    const Bl = imgLr.shape[0];
    if (Bl !== 1 && Bl !== B) throw new Error(`diffusion step: input batch ${Bl} for ${B} members`);
    const cond = r.scope(() => {
      const lr = r.upload(imgLr.data, imgLr.shape);
      const lrB = Bl === B ? lr : broadcastBatch(lr, B);
      const xLr = mean ? concatChannels([broadcastBatch(mean, B), lrB]) : lrB;
      if (!dev) return xLr;
      const view = globalView(dev.plan as GridPatching, repeatBatch(imgLr, B), B);
      return concatChannels([dev.apply(xLr), r.upload(view.data, view.shape)]);
    }).keep();
    const entry: BatchConditioning = {
      cond,
      // the positional grid comes as [1, ...], the members' lead-time rows as [B, ...]
      selector: dev ? (grid) => dev.apply(grid.shape[0] === B ? grid : broadcastBatch(grid, B)) : undefined,
    };
    this.#byBatch.set(B, entry);
    return entry;
  }
}

/** A host tensor of batch 1 repeated to batch B (returned unchanged when it has batch B). */
function repeatBatch(x: HostTensor, B: number): HostTensor {
  if (x.shape[0] === B) return x;
  const out = new Float32Array(B * x.data.length);
  for (let b = 0; b < B; b++) out.set(x.data, b * x.data.length);
  return { data: out, shape: [B, ...x.shape.slice(1)] };
}
