/**
 * SongUNet and SongUNetPosEmbd (reference: physicsnemo/models/diffusion_unets/song_unet.py), built
 * from the reference's constructor keyword arguments and holding parameters under its state-dict keys.
 *
 * Encoder: `<R>x<R>_conv`, then per level `_down` (levels > 0) and `num_blocks` blocks; every output
 * goes on the skip stack. Decoder: `_in0`/`_in1` at the deepest level, `_up` elsewhere, then
 * `num_blocks + 1` blocks each fed cat[x, skip]; output aux_conv(silu(aux_norm(x))). Level names
 * use the height only (`img_resolution[0] >> level`), also for non-square images.
 */
import { rt } from "../gpu/runtime.ts";
import { checkpoint } from "../gpu/autograd.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { silu } from "../ops/elementwise.ts";
import { broadcastBatch, concatChannels, gatherPixels, tileBatch } from "../ops/tensor_ops.ts";
import { type GridType, noiseEmbedding, positionalFreqs, positionalGrid } from "./embedding.ts";
import { Conv2d, GroupNorm, type InitKind, Linear, type Mode, UNetBlock } from "./layers.ts";
import { ParamStore } from "./params.ts";
import { leadTimePatches, probabilityChannels, selectLeadTime } from "./lead_time.ts";
import { Rng } from "../util/rng.ts";

/** SongUNet / SongUNetPosEmbd keyword arguments, spelled as in the reference. */
export interface SongUNetKwargs {
  /** Output grid size: H, or [H, W]. */
  img_resolution: number | [number, number];
  /** Input channels, grid channels included for SongUNetPosEmbd. */
  in_channels: number;
  /** Output channels. */
  out_channels: number;
  /** Base channel count (default 128). */
  model_channels?: number;
  /** Channel multiplier per level (default [1, 2, 2, 2], or [1, 2, 2, 2, 2] with the grid). */
  channel_mult?: number[];
  /** Noise-embedding channels as a multiple of `model_channels` (default 4). */
  channel_mult_emb?: number;
  /** Noise-label channels before the mapping network, as a multiple of `model_channels` (default 1). */
  channel_mult_noise?: number;
  /** Residual blocks per encoder level (default 4); the decoder has one more. */
  num_blocks?: number;
  /** Resolutions (heights) with self-attention (default [16], or [28] with the grid). */
  attn_resolutions?: number[];
  /** Dropout probability inside the blocks (default 0.1, or 0.13 with the grid). */
  dropout?: number;
  /** Noise-label embedding (default "positional"; "zero" disables the mapping network). */
  embedding_type?: "positional" | "fourier" | "zero";
  /** Only "standard" is supported. */
  encoder_type?: string;
  /** Only "standard" is supported. */
  decoder_type?: string;
  /** Only [1, 1] is supported. */
  resample_filter?: number[];
  /** Self-attention in the first bottleneck block (default true). */
  bottleneck_attention?: boolean;
  /** Not supported (must be false). */
  additive_pos_embed?: boolean;
  /** Class-label conditioning: not supported (must be 0). */
  label_dim?: number;
  /** Augmentation-label conditioning: not supported (must be 0). */
  augment_dim?: number;
  // SongUNetPosEmbd only
  /** Kind of the positional grid (default "sinusoidal"; "learnable" makes it a parameter). */
  gridtype?: GridType;
  /** Grid channels appended to the input (default 4). */
  N_grid_channels?: number;
  // SongUNetPosLtEmbd only
  /** Channels of the learnable lead-time embedding appended after the grid. */
  lead_time_channels?: number;
  /** Number of lead times the embedding has a row for (default 9). */
  lead_time_steps?: number;
  /** Output channels that are probabilities (logits times `scalar`; softmax across them in eval). */
  prob_channels?: number[];
  /** Other keywords: `checkpoint_level`, and speed/memory switches that are ignored. */
  [extra: string]: unknown;
}

/** Keyword arguments that only change speed or memory in the reference, accepted and ignored. */
const IGNORED = new Set([
  "use_apex_gn",
  "profile_mode",
  "amp_mode",
  "act",
  "use_fp16",
  "label_dropout",
]);

/** Optional inputs of a forward pass. */
export interface UNetForwardOptions {
  /** Train or eval mode of the pass. */
  mode: Mode;
  /** Tensor of the noise labels, if their gradient is wanted. */
  noiseLabelTensor?: Tensor;
  /** Lead-time label per sample (SongUNetPosLtEmbd): [B], or [B / P] with `globalIndex` or a selector. */
  leadTimeLabel?: ArrayLike<number>;
  /** Patch pixel indices [P, 2, Hp, Wp] (row, col) into the positional grid (float32 tensor). */
  globalIndex?: Tensor;
  /**
   * Maps a full-domain grid to the one the batch needs (the samplers' patching): the positional grid as
   * [1, N, H, W], the lead-time rows as [B, C_lt, H, W].
   */
  embeddingSelector?: (grid: Tensor) => Tensor;
}

/** The SongUNet / SongUNetPosEmbd U-Net, built from the reference's keyword arguments. */
export class SongUNet {
  /** Parameters and buffers under the reference's state-dict keys. */
  readonly ps: ParamStore;
  /** Image height the network was built for. */
  readonly H: number;
  /** Image width the network was built for. */
  readonly W: number;
  /** Number of resolution levels (length of `channel_mult`). */
  readonly levels: number;
  /** Channels of the noise embedding fed to every block. */
  readonly embChannels: number;
  /** Noise-label embedding kind. */
  readonly embeddingType: "positional" | "fourier" | "zero";
  /** Frequencies of the noise-label embedding (`map_noise.freqs`), or null for "zero". */
  readonly noiseFreqs: Float32Array | null = null;
  /** First layer of the noise mapping network, or null for "zero". */
  readonly mapLayer0: Linear | null = null;
  /** Second layer of the noise mapping network, or null for "zero". */
  readonly mapLayer1: Linear | null = null;
  /** Encoder layers in order, by state-dict name (`<R>x<R>_conv`, `_down`, `_block<i>`). */
  readonly enc: [string, Conv2d | UNetBlock][] = [];
  /** Decoder layers in order, by name within their level (`in0`, `in1`, `up`, `block<i>`, `aux_*`). */
  readonly dec: [string, UNetBlock | GroupNorm | Conv2d][] = [];
  /** SongUNetPosEmbd's grid: fixed [N, H, W] (persistent tensor) or the learnable parameter. */
  readonly posEmbd: Tensor | null = null;
  /** Grid channels appended to the input (0 for plain SongUNet). */
  readonly gridChannels: number;
  /** SongUNetPosLtEmbd's lead-time embedding [steps, C_lt, H, W], or null. */
  readonly ltEmbd: Tensor | null = null;
  /** SongUNetPosLtEmbd's probability channels of the output (empty: none). */
  readonly probChannels: number[] = [];
  /** Their learnable factor [1, P, 1, 1], or null. */
  readonly probScalar: Tensor | null = null;
  /**
   * Gradient checkpointing (`checkpoint_level`): blocks whose input has floor(sqrt(h w)) above
   * (floor(sqrt(H W)) >> level) + 1 recompute their activations in the backward pass. 0: none.
   */
  checkpointLevel: number;

  /**
   * `posEmbd` selects SongUNetPosEmbd (grid channels appended after the input), `leadTime`
   * SongUNetPosLtEmbd (with the grid). `prefix` is the wrappers' "model." so that keys match the
   * reference's state dicts.
   */
  constructor(
    readonly kwargs: SongUNetKwargs,
    opts: { posEmbd: boolean; leadTime?: boolean; prefix?: string; ps?: ParamStore; seed?: number },
  ) {
    const k = kwargs;
    for (const key of Object.keys(k)) {
      if (!KNOWN.has(key) && !IGNORED.has(key)) throw new Error(`SongUNet: unknown keyword argument ${key}`);
      const active = key === "prob_channels"
        ? (k.prob_channels ?? []).length > 0
        : LEAD_TIME.has(key) && !!k[key];
      if (active && !opts.leadTime) {
        throw new Error(`SongUNet: ${key} is only allowed with model_type SongUNetPosLtEmbd`);
      }
    }
    const p = opts.prefix ?? "";
    this.ps = opts.ps ?? new ParamStore(opts.seed ?? 0);
    const ps = this.ps;
    [this.H, this.W] = Array.isArray(k.img_resolution)
      ? k.img_resolution
      : [k.img_resolution, k.img_resolution];
    const pe = opts.posEmbd;
    const mc = k.model_channels ?? 128;
    const mult = k.channel_mult ?? (pe ? [1, 2, 2, 2, 2] : [1, 2, 2, 2]);
    const numBlocks = k.num_blocks ?? 4;
    const attnRes = k.attn_resolutions ?? (pe ? [28] : [16]);
    const dropout = k.dropout ?? (pe ? 0.13 : 0.1);
    this.embeddingType = k.embedding_type ?? "positional";
    this.embChannels = mc * (k.channel_mult_emb ?? 4);
    const noiseChannels = mc * (k.channel_mult_noise ?? 1);
    for (const [name, want] of [["encoder_type", "standard"], ["decoder_type", "standard"]] as const) {
      if (k[name] !== undefined && k[name] !== want) {
        throw new Error(`SongUNet: ${name}=${k[name]} is not supported (only ${want})`);
      }
    }
    if (k.resample_filter && k.resample_filter.join() !== "1,1") {
      throw new Error("SongUNet: only resample_filter [1,1] is supported");
    }
    if (k.additive_pos_embed) throw new Error("SongUNet: additive_pos_embed is not supported");
    if (k.label_dim || k.augment_dim) {
      throw new Error("SongUNet: label_dim / augment_dim conditioning is not supported");
    }
    this.levels = mult.length;
    this.checkpointLevel = (k.checkpoint_level as number | undefined) ?? 0;

    const init: InitKind = { mode: "xavier_uniform" };
    const initZero: InitKind = { mode: "xavier_uniform", gain: 1e-5 };
    const initAttn: InitKind = { mode: "xavier_uniform", gain: Math.sqrt(0.2) };

    // State-dict order: pos_embd first (learnable only), then the mapping network.
    this.gridChannels = pe ? (k.N_grid_channels ?? 4) : 0;
    if (pe && this.gridChannels > 0) {
      const type = k.gridtype ?? "sinusoidal";
      if (type === "learnable") {
        this.posEmbd = ps.param(`${p}pos_embd`, [this.gridChannels, this.H, this.W], {
          mode: "kaiming_normal",
          fanIn: 1,
          fanOut: 1, // standard normal, as torch.randn
        });
      } else {
        this.posEmbd = rt().upload(positionalGrid(type, this.gridChannels, this.H, this.W), [
          this.gridChannels,
          this.H,
          this.W,
        ]).keep();
      }
    }
    if (opts.leadTime) [this.ltEmbd, this.probChannels, this.probScalar] = this.#leadTime(p);
    if (this.embeddingType !== "zero") {
      const freqs = this.embeddingType === "positional"
        ? positionalFreqs(noiseChannels, true)
        : new Rng((opts.seed ?? 0) + 7919).normals(noiseChannels / 2).map((v) => 16 * v); // N(0,1)*16
      this.noiseFreqs = ps.buffer(`${p}map_noise.freqs`, [noiseChannels / 2], freqs);
      this.mapLayer0 = new Linear(ps, `${p}map_layer0`, noiseChannels, this.embChannels, init);
      this.mapLayer1 = new Linear(ps, `${p}map_layer1`, this.embChannels, this.embChannels, init);
    }

    const block = { embChannels: this.embChannels, dropout, init, initZero, initAttn, heads: 1 };
    let cout = k.in_channels;
    const skips: number[] = [];
    for (let level = 0; level < mult.length; level++) {
      const res = this.H >> level;
      if (level === 0) {
        const cin = cout;
        cout = mc;
        this.enc.push([
          `${res}x${res}_conv`,
          new Conv2d(ps, `${p}enc.${res}x${res}_conv`, cin, cout, 3, init),
        ]);
      } else {
        this.enc.push([
          `${res}x${res}_down`,
          new UNetBlock(ps, `${p}enc.${res}x${res}_down`, cout, cout, { ...block, down: true }),
        ]);
      }
      skips.push(cout);
      for (let i = 0; i < numBlocks; i++) {
        const cin = cout;
        cout = mc * mult[level];
        const name = `${res}x${res}_block${i}`;
        this.enc.push([
          name,
          new UNetBlock(ps, `${p}enc.${name}`, cin, cout, { ...block, attention: attnRes.includes(res) }),
        ]);
        skips.push(cout);
      }
    }
    for (let level = mult.length - 1; level >= 0; level--) {
      const res = this.H >> level;
      const at = (n: string) => `${p}dec.${res}x${res}_${n}`;
      if (level === mult.length - 1) {
        this.dec.push([
          `in0`,
          new UNetBlock(ps, at("in0"), cout, cout, { ...block, attention: k.bottleneck_attention ?? true }),
        ]);
        this.dec.push([`in1`, new UNetBlock(ps, at("in1"), cout, cout, block)]);
      } else {
        this.dec.push([`up`, new UNetBlock(ps, at("up"), cout, cout, { ...block, up: true })]);
      }
      for (let i = 0; i <= numBlocks; i++) {
        const cin = cout + skips.pop()!;
        cout = mc * mult[level];
        const attention = i === numBlocks && attnRes.includes(res);
        this.dec.push([`block${i}`, new UNetBlock(ps, at(`block${i}`), cin, cout, { ...block, attention })]);
      }
      if (level === 0) {
        this.dec.push([`aux_norm`, new GroupNorm(ps, at("aux_norm"), cout, 1e-6)]);
        this.dec.push([`aux_conv`, new Conv2d(ps, at("aux_conv"), cout, k.out_channels, 3, initZero)]);
      }
    }
  }

  /** SongUNetPosLtEmbd's parameters, in state-dict order after the grid: `lt_embd`, then `scalar`. */
  #leadTime(p: string): [Tensor, number[], Tensor | null] {
    const k = this.kwargs;
    const C = k.lead_time_channels, S = k.lead_time_steps ?? 9;
    if (!Number.isInteger(C) || C! < 1) {
      throw new Error(`SongUNetPosLtEmbd: lead_time_channels must be a positive integer, got ${C}`);
    }
    if (!Number.isInteger(S) || S < 1) {
      throw new Error(`SongUNetPosLtEmbd: lead_time_steps must be a positive integer, got ${S}`);
    }
    const lt = this.ps.param(`${p}lt_embd`, [S, C!, this.H, this.W], {
      mode: "kaiming_normal",
      fanIn: 1,
      fanOut: 1, // standard normal, as torch.randn
    });
    const prob = k.prob_channels ?? [];
    for (const c of prob) {
      if (!Number.isInteger(c) || c < 0 || c >= k.out_channels) {
        throw new Error(
          `SongUNetPosLtEmbd: prob_channels entry ${c} is not an output channel (0..${k.out_channels - 1})`,
        );
      }
    }
    const scalar = prob.length ? this.ps.param(`${p}scalar`, [1, prob.length, 1, 1], { fill: 1 }) : null;
    return [lt, [...prob], scalar];
  }

  /** Channels the network appends to its input: the grid's, then the lead-time embedding's. */
  get appendedChannels(): number {
    return this.gridChannels + (this.ltEmbd?.shape[1] ?? 0);
  }

  /** Input spatial sizes must be multiples of this. */
  get sizeMultiple(): number {
    return 2 ** (this.levels - 1);
  }

  /** The grid channels for a batch of `B`, then the lead-time ones (full domain, patches by index, or the selector's choice). */
  #grid(B: number, o: UNetForwardOptions): Tensor | null {
    const parts: Tensor[] = [];
    const P = o.globalIndex?.shape[0] ?? 1;
    if (B % P !== 0) throw new Error(`global_index has ${P} patches, which does not divide the batch ${B}`);
    if (this.posEmbd) {
      const full = this.posEmbd.reshape([1, ...this.posEmbd.shape]);
      if (o.globalIndex) parts.push(tileBatch(gatherPixels(this.posEmbd, o.globalIndex), B / P));
      else parts.push(o.embeddingSelector ? o.embeddingSelector(full) : broadcastBatch(full, B));
    }
    if (this.ltEmbd) {
      const labels = o.leadTimeLabel;
      if (!labels) throw new Error("SongUNetPosLtEmbd: lead_time_label must be given (one per sample)");
      const want = o.globalIndex ? B / P : B;
      if (!o.embeddingSelector && labels.length !== want) {
        throw new Error(`SongUNetPosLtEmbd: ${labels.length} lead-time labels for ${want} samples`);
      }
      if (o.globalIndex) parts.push(leadTimePatches(this.ltEmbd, labels, o.globalIndex));
      else {
        const rows = selectLeadTime(this.ltEmbd, labels);
        parts.push(o.embeddingSelector ? o.embeddingSelector(rows) : rows);
      }
    }
    if (parts.length === 0) return null;
    return parts.length === 1 ? parts[0] : concatChannels(parts);
  }

  /** The noise-level embedding [B or 1, emb] (zeros for embedding_type "zero"). */
  #embedding(noiseLabels: Float32Array, o: UNetForwardOptions): Tensor {
    if (!this.mapLayer0 || !this.mapLayer1 || !this.noiseFreqs) {
      return rt().upload(new Float32Array(noiseLabels.length * this.embChannels), [
        noiseLabels.length,
        this.embChannels,
      ]);
    }
    const kind = this.embeddingType === "fourier" ? "fourier" : "positional";
    const e = noiseEmbedding(noiseLabels, this.noiseFreqs, kind, o.noiseLabelTensor);
    return silu(this.mapLayer1.forward(silu(this.mapLayer0.forward(e))));
  }

  /** Runs a block, checkpointed when its resolution is above the checkpoint level's threshold. */
  #block(block: UNetBlock, x: Tensor, emb: Tensor, mode: Mode): Tensor {
    const [, , h, w] = x.shape;
    const level = this.checkpointLevel;
    if (
      level <= 0 || !rt().tape ||
      Math.floor(Math.sqrt(h * w)) <= (Math.floor(Math.sqrt(this.H * this.W)) >> level) + 1
    ) {
      return block.forward(x, emb, mode);
    }
    // The recomputation must draw the same dropout masks: both runs start from the same seed.
    const start = mode.dropoutSeed?.next ?? 0;
    let next = start;
    const y = checkpoint((xi, ei) => {
      const m: Mode = mode.dropoutSeed ? { ...mode, dropoutSeed: { next: start } } : mode;
      const out = block.forward(xi, ei, m);
      next = m.dropoutSeed?.next ?? start;
      return out;
    }, [x, emb]);
    if (mode.dropoutSeed) mode.dropoutSeed.next = next;
    return y;
  }

  /** x [B, C, H, W] (without grid channels), noise labels [B] or [1]. Returns [B, out_channels, H, W]. */
  forward(x: Tensor, noiseLabels: Float32Array, o: UNetForwardOptions): Tensor {
    const [B, , H, W] = x.shape;
    if (H % this.sizeMultiple || W % this.sizeMultiple) {
      throw new Error(`SongUNet: input ${H}x${W} is not a multiple of ${this.sizeMultiple} (2^(levels-1))`);
    }
    if (noiseLabels.length !== B && noiseLabels.length !== 1) {
      throw new Error(`SongUNet: ${noiseLabels.length} noise labels for batch ${B} (need ${B} or 1)`);
    }
    const grid = this.#grid(B, o);
    if (grid) x = concatChannels([x, grid]);
    const firstConv = this.enc[0][1] as Conv2d;
    if (x.shape[1] !== firstConv.inChannels) {
      throw new Error(
        `SongUNet: input has ${
          x.shape[1]
        } channels (with the grid), the network expects ${firstConv.inChannels}`,
      );
    }
    const emb = this.#embedding(noiseLabels, o);
    const skips: Tensor[] = [];
    for (const [, layer] of this.enc) {
      x = layer instanceof Conv2d ? layer.forward(x) : this.#block(layer, x, emb, o.mode);
      skips.push(x);
    }
    let aux: Tensor | null = null;
    for (const [name, layer] of this.dec) {
      if (layer instanceof GroupNorm) aux = layer.forward(x, o.mode);
      else if (layer instanceof Conv2d) aux = layer.forward(silu(aux!));
      else {
        if (name.startsWith("block")) x = concatChannels([x, skips.pop()!]);
        x = this.#block(layer, x, emb, o.mode);
      }
    }
    if (this.probScalar) return probabilityChannels(aux!, this.probChannels, this.probScalar, o.mode.train);
    return aux!;
  }
}

const KNOWN = new Set([
  "img_resolution",
  "in_channels",
  "out_channels",
  "model_channels",
  "channel_mult",
  "channel_mult_emb",
  "channel_mult_noise",
  "num_blocks",
  "attn_resolutions",
  "dropout",
  "embedding_type",
  "encoder_type",
  "decoder_type",
  "resample_filter",
  "bottleneck_attention",
  "additive_pos_embed",
  "label_dim",
  "augment_dim",
  "gridtype",
  "N_grid_channels",
  "checkpoint_level",
  "lead_time_channels",
  "lead_time_steps",
  "prob_channels",
]);

/** Keywords of SongUNetPosLtEmbd only; `lead_time_steps` is inert without lead_time_channels. */
const LEAD_TIME = new Set(["lead_time_channels", "prob_channels"]);
