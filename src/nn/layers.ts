/**
 * The U-Net's building blocks (reference: physicsnemo/nn/module/*): Conv2d, Linear, GroupNorm,
 * UNetAttention and UNetBlock as SongUNet configures them. Each registers its parameters under
 * the reference's state-dict keys and runs forward by recording GPU ops; the ops record their own
 * backward on the active tape.
 */
import type { Tensor } from "../gpu/tensor.ts";
import { conv2d } from "../ops/conv2d.ts";
import { linear } from "../ops/linear.ts";
import { groupCount, groupNorm, type GroupNormOnRead } from "../ops/groupnorm.ts";
import { attention } from "../ops/attention.ts";
import { dropout } from "../ops/dropout.ts";
import { add, addChannelBias, scale } from "../ops/elementwise.ts";
import type { InitSpec, ParamStore } from "./params.ts";

/** Initialisation recipe of a layer: mode and `init_weight` (biases always start at 0). */
export interface InitKind {
  /** Initialisation scheme of the weight. */
  mode: InitSpec["mode"];
  /** Multiplier of the initial weights (the reference's `init_weight`); 1 when absent. */
  gain?: number;
}

/** Train/eval switch threaded through forward passes (GroupNorm variance divisor, dropout). */
export interface Mode {
  /** Training pass: batch-statistics GroupNorm variance (divisor N) and active dropout. */
  train: boolean;
  /** Advances per dropout call so that every layer and step draws a fresh mask. */
  dropoutSeed?: { next: number };
}

/** Conv2d (reference conv_layers.py): optional 2x up/down resampling, then a k x k convolution and bias. */
export class Conv2d {
  /** Kernel [Cout, Cin, k, k] (`<key>.weight`). */
  readonly weight: Tensor;
  /** Bias [Cout] (`<key>.bias`), or null without one. */
  readonly bias: Tensor | null;

  /** Registers the weight and bias (and the resampling filter buffer) under `key` in `ps`. */
  constructor(
    ps: ParamStore,
    readonly key: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    init: InitKind,
    readonly resample: { up?: boolean; down?: boolean } = {},
    withBias = true,
  ) {
    const fanIn = inChannels * kernel * kernel, fanOut = outChannels * kernel * kernel;
    this.weight = ps.param(`${key}.weight`, [outChannels, inChannels, kernel, kernel], {
      ...init,
      fanIn,
      fanOut,
    });
    this.bias = withBias ? ps.param(`${key}.bias`, [outChannels], { fill: 0 }) : null;
    // The reference keeps its [1,1] resampling filter (0.25 each) as a persistent buffer.
    if (resample.up || resample.down) {
      ps.buffer(`${key}.resample_filter`, [1, 1, 2, 2], new Float32Array(4).fill(0.25));
    }
  }

  /**
   * conv(x) + bias, plus `shift` [1 or B, Cout] per channel (and sample), and `residual` added and the
   * sum scaled: all in the conv's own store. With `normalize`, x is the input before that GroupNorm, which
   * the convolution applies as it reads x where it can (`Conv2dOptions.normalize`).
   */
  forward(
    x: Tensor,
    shift?: Tensor,
    residual?: { add: Tensor; scale: number },
    normalize?: GroupNormOnRead,
  ): Tensor {
    const bias = shift ? biasWithShift(this.bias, shift, x.shape[0]) : this.bias;
    return conv2d(x, this.weight, bias, { ...this.resample, residual, normalize });
  }
}

/** bias [C] (or none) + shift [R, C] as the conv's bias: [C] when R = 1, one row per sample [B, C] when R = B. */
function biasWithShift(bias: Tensor | null, shift: Tensor, B: number): Tensor {
  const C = shift.shape[shift.shape.length - 1];
  const R = shift.size / C;
  if (R !== 1 && R !== B) throw new Error(`Conv2d: shift [${shift.shape}] for a batch of ${B}`);
  const sum = bias ? addChannelBias(shift.reshape([R, C, 1, 1]), bias.reshape([1, C])) : shift;
  return R === 1 ? sum.reshape([C]) : sum.reshape([R, C]);
}

/** Linear (reference fully_connected_layers.py): y = x W^T + b. */
export class Linear {
  /** Weight [out, in] (`<key>.weight`). */
  readonly weight: Tensor;
  /** Bias [out] (`<key>.bias`), or null without one. */
  readonly bias: Tensor | null;

  /** Registers the weight and bias under `key` in `ps`. */
  constructor(
    ps: ParamStore,
    readonly key: string,
    inFeatures: number,
    outFeatures: number,
    init: InitKind,
    withBias = true,
  ) {
    this.weight = ps.param(`${key}.weight`, [outFeatures, inFeatures], {
      ...init,
      fanIn: inFeatures,
      fanOut: outFeatures,
    });
    this.bias = withBias ? ps.param(`${key}.bias`, [outFeatures], { fill: 0 }) : null;
  }

  /** x [..., in] to [..., out]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** GroupNorm with the reference's train/eval variance and optional fused SiLU. */
export class GroupNorm {
  /** Per-channel scale [C], initialised to 1. */
  readonly weight: Tensor;
  /** Per-channel shift [C], initialised to 0. */
  readonly bias: Tensor;
  /** Number of groups, the reference's min(32, ceil(C / 4)). */
  readonly groups: number;

  /** Registers weight and bias under `key` in `ps`; `silu` fuses a SiLU after the affine transform. */
  constructor(
    ps: ParamStore,
    readonly key: string,
    channels: number,
    readonly eps: number,
    readonly silu = false,
  ) {
    this.groups = groupCount(channels);
    this.weight = ps.param(`${key}.weight`, [channels], { fill: 1 });
    this.bias = ps.param(`${key}.bias`, [channels], { fill: 0 });
  }

  /** This normalisation for a convolution to apply as it reads its input (`Conv2d.forward`'s `normalize`). */
  onRead(mode: Mode): GroupNormOnRead {
    return {
      gamma: this.weight,
      beta: this.bias,
      opts: { groups: this.groups, eps: this.eps, silu: this.silu, train: mode.train },
    };
  }

  /** x [B, C, H, W] normalised per sample and group, same shape; `mode.train` picks the variance divisor. */
  forward(x: Tensor, mode: Mode): Tensor {
    return groupNorm(x, this.weight, this.bias, {
      groups: this.groups,
      eps: this.eps,
      silu: this.silu,
      train: mode.train,
    });
  }
}

/** Self-attention over pixels with its own residual: proj(attention(qkv(norm(x)))) + x. */
export class UNetAttention {
  /** GroupNorm applied before the qkv projection. */
  readonly norm: GroupNorm;
  /** 1x1 conv from C to the interleaved q, k, v channels [3C]. */
  readonly qkv: Conv2d;
  /** 1x1 conv projecting the attention output back to C channels (zero-ish init). */
  readonly proj: Conv2d;

  /** Registers norm, qkv and proj under `key`; `channels` must split evenly into `heads`. */
  constructor(ps: ParamStore, key: string, channels: number, readonly heads: number, eps: number, init: {
    attn: InitKind;
    zero: InitKind;
  }) {
    if (channels % heads !== 0) {
      throw new Error(`${key}: ${channels} channels do not split into ${heads} heads`);
    }
    this.norm = new GroupNorm(ps, `${key}.norm`, channels, eps);
    this.qkv = new Conv2d(ps, `${key}.qkv`, channels, 3 * channels, 1, init.attn);
    this.proj = new Conv2d(ps, `${key}.proj`, channels, channels, 1, init.zero);
  }

  /** x [B, C, H, W] to the same shape, residual included. */
  forward(x: Tensor, mode: Mode): Tensor {
    const o = attention(this.qkv.forward(this.norm.forward(x, mode)), this.heads);
    return add(this.proj.forward(o), x);
  }
}

/** Options of a UNetBlock as SongUNet builds it (adaptive_scale=False, resample_proj=True). */
export interface UNetBlockOptions {
  /** Channels of the noise embedding fed to the `affine` layer. */
  embChannels: number;
  /** Doubles the resolution (conv0 and skip upsample). */
  up?: boolean;
  /** Halves the resolution (conv0 and skip downsample). */
  down?: boolean;
  /** Adds self-attention after the residual sum. */
  attention?: boolean;
  /** Attention heads (default 1). */
  heads?: number;
  /** Dropout probability between norm1 and conv1 in training (default 0). */
  dropout?: number;
  /** Scale of the residual sum (default 1/sqrt(2)). */
  skipScale?: number;
  /** GroupNorm epsilon (default 1e-6). */
  eps?: number;
  /** Initialisation of conv0, affine and skip. */
  init?: InitKind;
  /** Initialisation of conv1 and the attention projection (near zero). */
  initZero?: InitKind;
  /** Initialisation of the attention qkv conv. */
  initAttn?: InitKind;
}

/** SongUNet's residual block: two 3x3 convs with GroupNorm+SiLU, noise-embedding bias, optional attention. */
export class UNetBlock {
  /** GroupNorm + SiLU on the input. */
  readonly norm0: GroupNorm;
  /** First 3x3 conv (with any up/down resampling); its bias also takes the embedding. */
  readonly conv0: Conv2d;
  /** Projects the noise embedding to a per-channel bias of conv0's output. */
  readonly affine: Linear;
  /** GroupNorm + SiLU before the second conv. */
  readonly norm1: GroupNorm;
  /** Second 3x3 conv (near-zero init). */
  readonly conv1: Conv2d;
  /** 1x1 conv on the residual path when channels or resolution change, else null. */
  readonly skip: Conv2d | null;
  /** Self-attention after the residual sum, or null. */
  readonly attn: UNetAttention | null;
  /** Scale applied to the residual sum (and again after attention). */
  readonly skipScale: number;
  /** Dropout probability in training. */
  readonly dropout: number;

  /** Registers the block's layers under `key` in `ps`, with the reference's default initialisations. */
  constructor(
    ps: ParamStore,
    readonly key: string,
    readonly inChannels: number,
    readonly outChannels: number,
    o: UNetBlockOptions,
  ) {
    const eps = o.eps ?? 1e-6;
    const init = o.init ?? { mode: "xavier_uniform" };
    const initZero = o.initZero ?? { mode: "xavier_uniform", gain: 1e-5 };
    const initAttn = o.initAttn ?? { mode: "xavier_uniform", gain: Math.sqrt(0.2) };
    const resample = { up: o.up, down: o.down };
    this.skipScale = o.skipScale ?? Math.SQRT1_2;
    this.dropout = o.dropout ?? 0;
    this.norm0 = new GroupNorm(ps, `${key}.norm0`, inChannels, eps, true);
    this.conv0 = new Conv2d(ps, `${key}.conv0`, inChannels, outChannels, 3, init, resample);
    this.affine = new Linear(ps, `${key}.affine`, o.embChannels, outChannels, init);
    this.norm1 = new GroupNorm(ps, `${key}.norm1`, outChannels, eps, true);
    this.conv1 = new Conv2d(ps, `${key}.conv1`, outChannels, outChannels, 3, initZero);
    this.skip = outChannels !== inChannels || o.up || o.down
      ? new Conv2d(ps, `${key}.skip`, inChannels, outChannels, 1, init, resample)
      : null;
    this.attn = o.attention
      ? new UNetAttention(ps, `${key}.attn`, outChannels, o.heads ?? 1, eps, {
        attn: initAttn,
        zero: initZero,
      })
      : null;
  }

  /** x [B, Cin, H, W], emb [B or 1, embChannels]. */
  forward(x: Tensor, emb: Tensor, mode: Mode): Tensor {
    // conv0(...) + affine(emb)[:, :, None, None], the embedding folded into conv0's bias
    // The GroupNorms go to the convolutions, which apply them as they read where they can (inference)
    let h = this.conv0.forward(x, this.affine.forward(emb), undefined, this.norm0.onRead(mode));
    let norm1: GroupNormOnRead | undefined = this.norm1.onRead(mode);
    if (mode.train && this.dropout > 0) {
      const seed = mode.dropoutSeed ? mode.dropoutSeed.next++ : 0;
      h = dropout(this.norm1.forward(h, mode), this.dropout, seed, true);
      norm1 = undefined;
    }
    const s = this.skipScale;
    // (conv1(h) + skip) * skip_scale, the sum and scale in conv1's store
    const skip = { add: this.skip ? this.skip.forward(x) : x, scale: s };
    let out = this.conv1.forward(h, undefined, skip, norm1);
    if (this.attn) out = scale(this.attn.forward(out, mode), s);
    return out;
  }
}
