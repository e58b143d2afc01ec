/**
 * CorrDiff's two network wrappers: the regression U-Net and the EDM-preconditioned diffusion U-Net.
 * Both keep the U-Net under the attribute `model`, so every state-dict key starts with "model.".
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { add, mulPerSample } from "../ops/elementwise.ts";
import { concatChannels } from "../ops/tensor_ops.ts";
import type { Mode } from "./layers.ts";
import { ParamStore } from "./params.ts";
import { SongUNet, type SongUNetKwargs, type UNetForwardOptions } from "./songunet.ts";

/** Wrapper keyword arguments as in the reference (everything not listed goes to the U-Net). */
export interface WrapperKwargs {
  /** Output grid size: H, or [H, W]. */
  img_resolution: number | [number, number];
  /** Conditioning (low-resolution input) channels. */
  img_in_channels: number;
  /** Target channels the network predicts. */
  img_out_channels: number;
  /** U-Net class (default SongUNetPosEmbd). */
  model_type?: "SongUNetPosEmbd" | "SongUNetPosLtEmbd" | "SongUNet";
  /** Half precision: rejected when true (the port runs in float32). */
  use_fp16?: boolean;
  /** Any other keyword argument, passed on to the U-Net. */
  [modelKwarg: string]: unknown;
}

function buildUNet(kw: WrapperKwargs, ps: ParamStore, seed: number, drop: string[]): SongUNet {
  const {
    img_resolution,
    img_in_channels,
    img_out_channels,
    model_type = "SongUNetPosEmbd",
    use_fp16,
    ...rest
  } = kw;
  if (use_fp16) throw new Error("use_fp16 is not supported: the WebGPU port runs in float32");
  if (!["SongUNetPosEmbd", "SongUNetPosLtEmbd", "SongUNet"].includes(model_type)) {
    throw new Error(
      `model_type ${model_type} is not supported (SongUNetPosEmbd, SongUNetPosLtEmbd or SongUNet)`,
    );
  }
  for (const d of drop) delete rest[d];
  const unetKw: SongUNetKwargs = {
    ...rest,
    img_resolution,
    in_channels: img_in_channels + img_out_channels,
    out_channels: img_out_channels,
  };
  const leadTime = model_type === "SongUNetPosLtEmbd";
  return new SongUNet(unetKw, {
    posEmbd: leadTime || model_type === "SongUNetPosEmbd",
    leadTime,
    prefix: "model.",
    ps,
    seed,
  });
}

/** CorrDiffRegressionUNet: y = model(cat[x, img_lr], noise_labels = 0). No preconditioning. */
export class CorrDiffRegressionUNet {
  /** Parameters of the whole wrapper (keys start with "model."). */
  readonly ps: ParamStore;
  /** The U-Net, with in_channels = img_in_channels + img_out_channels. */
  readonly model: SongUNet;
  /** Channels of the prediction (`img_out_channels`). */
  readonly outChannels: number;

  /** Builds the U-Net from `kwargs`; `seed` seeds the weight initialisation. */
  constructor(readonly kwargs: WrapperKwargs, seed = 0) {
    this.ps = new ParamStore(seed);
    this.model = buildUNet(kwargs, this.ps, seed, []);
    this.outChannels = kwargs.img_out_channels;
  }

  /** x [B, C_out, H, W] (zeros in CorrDiff), img_lr [B, C_lr, H, W]. */
  forward(x: Tensor, imgLr: Tensor | null, mode: Mode, extra: Partial<UNetForwardOptions> = {}): Tensor {
    const B = x.shape[0];
    const input = imgLr ? concatChannels([x, imgLr]) : x;
    return this.model.forward(input, new Float32Array(B), { ...extra, mode });
  }
}

/** EDM preconditioning coefficients for sigma_data, evaluated in float32 as the reference does. */
export function edmCoefficients(
  sigma: number,
  sigmaData = 0.5,
): { cSkip: number; cOut: number; cIn: number; cNoise: number } {
  const f = Math.fround;
  const s = f(sigma), sd = f(sigmaData);
  const s2 = f(s * s), sd2 = f(sd * sd);
  const den = f(s2 + sd2);
  return {
    cSkip: f(sd2 / den),
    cOut: f(f(s * sd) / f(Math.sqrt(den))),
    cIn: f(1 / f(Math.sqrt(den))),
    cNoise: f(f(Math.log(s)) / 4),
  };
}

/**
 * EDMPrecondSuperResolution: D(x; sigma) = c_skip x + c_out F(cat[c_in x, img_lr], c_noise).
 * With `scaleCondInput` (the deprecated EDMPrecondSR's default) the conditioning is scaled by c_in too.
 */
export class EDMPrecondSuperResolution {
  /** Parameters of the whole wrapper (keys start with "model."). */
  readonly ps: ParamStore;
  /** The U-Net F, with in_channels = img_in_channels + img_out_channels. */
  readonly model: SongUNet;
  /** Standard deviation of the data in EDM preconditioning (`sigma_data`, default 0.5). */
  readonly sigmaData: number;
  /** Smallest noise level the network supports (`sigma_min`, default 0); samplers clamp to it. */
  readonly sigmaMin: number;
  /** Largest noise level the network supports (`sigma_max`, default infinity); samplers clamp to it. */
  readonly sigmaMax: number;
  /** Scales the conditioning by c_in as well as the noisy target (`scale_cond_input`). */
  readonly scaleCondInput: boolean;
  /** Channels of the denoised output (`img_out_channels`). */
  readonly outChannels: number;

  /** Builds the U-Net from `kwargs` less the preconditioning keys; `legacy` sets EDMPrecondSR's default. */
  constructor(readonly kwargs: WrapperKwargs, seed = 0, legacy: { scaleCondInput?: boolean } = {}) {
    this.ps = new ParamStore(seed);
    const kw = { ...kwargs } as Record<string, unknown>;
    this.sigmaData = (kw.sigma_data as number | undefined) ?? 0.5;
    this.sigmaMin = (kw.sigma_min as number | undefined) ?? 0;
    this.sigmaMax = (kw.sigma_max as number | undefined) ?? Infinity;
    this.scaleCondInput = legacy.scaleCondInput ?? (kw.scale_cond_input as boolean | undefined) ?? false;
    this.model = buildUNet(kwargs, this.ps, seed, [
      "sigma_data",
      "sigma_min",
      "sigma_max",
      "scale_cond_input",
      "img_channels",
    ]);
    this.outChannels = kwargs.img_out_channels;
  }

  /** x [B, C_out, H, W] noisy target, img_lr conditioning [B, C, H, W], sigma per sample (host, [B] or [1]). */
  forward(
    x: Tensor,
    imgLr: Tensor | null,
    sigma: Float32Array,
    mode: Mode,
    extra: Partial<UNetForwardOptions> = {},
  ): Tensor {
    const r = rt();
    const B = x.shape[0];
    const sig = sigma.length === 1 && B > 1 ? new Float32Array(B).fill(sigma[0]) : sigma;
    if (sig.length !== B) throw new Error(`EDMPrecondSuperResolution: ${sigma.length} sigmas for batch ${B}`);
    const c = [...sig].map((s) => edmCoefficients(s, this.sigmaData));
    const col = (k: "cSkip" | "cOut" | "cIn") => r.upload(Float32Array.from(c, (v) => v[k]), [B]);
    const cIn = col("cIn");
    const cNoise = Float32Array.from(c, (v) => v.cNoise);
    let arg: Tensor;
    if (this.scaleCondInput && imgLr) arg = mulPerSample(concatChannels([x, imgLr]), cIn);
    else {
      const xin = mulPerSample(x, cIn);
      arg = imgLr ? concatChannels([xin, imgLr]) : xin;
    }
    const F = this.model.forward(arg, cNoise, { ...extra, mode });
    return add(mulPerSample(x, col("cSkip")), mulPerSample(F, col("cOut")));
  }
}

/** A network of one of the supported classes, built from the reference's class name and kwargs. */
export type Network = SongUNet | CorrDiffRegressionUNet | EDMPrecondSuperResolution;

/** Builds a network from `{class, kwargs}` as listed in a golden manifest or a checkpoint's metadata. */
export function buildNetwork(spec: { class: string; kwargs: Record<string, unknown> }, seed = 0): Network {
  const kw = spec.kwargs;
  switch (spec.class) {
    case "SongUNet":
      return new SongUNet(kw as unknown as SongUNetKwargs, { posEmbd: false, seed });
    case "SongUNetPosEmbd":
      return new SongUNet(kw as unknown as SongUNetKwargs, { posEmbd: true, seed });
    case "SongUNetPosLtEmbd":
      return new SongUNet(kw as unknown as SongUNetKwargs, { posEmbd: true, leadTime: true, seed });
    case "CorrDiffRegressionUNet":
    case "UNet":
      return new CorrDiffRegressionUNet(kw as unknown as WrapperKwargs, seed);
    case "EDMPrecondSuperResolution":
      return new EDMPrecondSuperResolution(kw as unknown as WrapperKwargs, seed);
    case "EDMPrecondSR":
      return new EDMPrecondSuperResolution(kw as unknown as WrapperKwargs, seed, {
        scaleCondInput: (kw.scale_cond_input as boolean | undefined) ?? true,
      });
    default:
      throw new Error(`unknown network class ${spec.class}`);
  }
}
