/**
 * 2-D convolution as in the reference's Conv2d (cross-correlation, OIHW weights, k = 1 or 3, zero
 * padding k / 2, stride 1) with its optional resampling fused into the kernels: `up` reads the input
 * nearest-neighbour up-sampled 2x, `down` reads it 2x2-mean pooled (stride 2, floor).
 *
 * Every variant is expressed through one idea: the convolution runs on a *grid* read from a tensor
 * (plainly, up-sampled, or pooled), and writes its result plainly, 2x2-summed or 2x2-spread. The
 * backward passes are the same kernels on other grids:
 *   grad-input  = convolution of dy with the flipped, transposed weights; the adjoint of nearest-up is
 *                 a 2x2 sum, of 2x2-mean pooling a spread of 1/4 (for k = 1 both become reads of dy);
 *   grad-weight = sum over pixels of dy x the (resampled) input, in chunks plus a summing pass;
 *   grad-bias   = sum of dy over batch and pixels.
 * Kernels: kernels/conv2d_k3.wgsl and conv2d_k1.wgsl (register-blocked, for CPU rasterisers such as
 * llvmpipe), kernels/conv2d_gpu.wgsl (workgroup-memory tiles, for real GPUs), kernels/conv2d.wgsl
 * (weight layout, chunk reduction); the weight gradient is in conv2d_grad_weight.ts, the declared entry
 * points in conv2d_kernels.ts. The adapter's profile picks the family; `opts.profile` forces one.
 */
import { IMAGE_SHIFT } from "../gpu/image.ts";
import { rt } from "../gpu/runtime.ts";
import type { KernelProfile } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { axpby, scale, sumLeading, sumRows, zeros } from "./elementwise.ts";
import { type Grid, gridRows, isPlain, K, roundUp, type Store } from "./conv2d_kernels.ts";
import { gradWeight } from "./conv2d_grad_weight.ts";
import { avgPool2 } from "./pool.ts";
import { groupNorm, type GroupNormOnRead, groupNormStatistics } from "./groupnorm.ts";
import {
  winogradConv3,
  winogradFits,
  winogradGradPays,
  winogradGradWeight,
  winogradPays,
} from "./conv2d_winograd.ts";

/** Resampling fused before the convolution (not both), and an optional kernel-family override. */
export interface Conv2dOptions {
  /** Nearest-neighbour 2x up-sampling of x before the convolution (output 2H x 2W). */
  up?: boolean;
  /** 2x2 mean pooling, stride 2 (floor), of x before the convolution (output floor(H/2) x floor(W/2)). */
  down?: boolean;
  /** Kernel family; default: the adapter's (`rt().gpu.profile`). Tests use it to run both. */
  profile?: KernelProfile;
  /**
   * Where the "cpu" family's 3x3 forward (and input-gradient) reads its weights: uniform buffers, one
   * dispatch per 16-channel block, or storage, one dispatch in all. Default: storage for small grids.
   * Tests use it to run both.
   */
  k3Weights?: "uniform" | "storage";
  /**
   * How the "cpu" family runs a plain 3x3 convolution (and its input gradient): the direct kernel, or
   * Winograd F(4x4, 3x3) (src/ops/conv2d_winograd.ts). Default: {@link conv3Algorithm}'s choice.
   */
  k3Algorithm?: Conv3Algorithm;
  /**
   * y = scale * (conv(x) + bias + add): a residual added, and the sum scaled, in the convolution's own
   * store (a UNet block's `(h + skip) * skip_scale`). `add` has y's shape.
   */
  residual?: { add: Tensor; scale: number };
  /**
   * x is the input before a GroupNorm (+SiLU) that the convolution applies as it reads x, where it can: a
   * plain or up-sampling 3x3 convolution through Winograd with no autograd tape recording (inference).
   * Anywhere else the GroupNorm runs first, as its own pass.
   */
  normalize?: GroupNormOnRead;
}

/** How plain 3x3 convolutions run on the "cpu" family: "auto" picks Winograd where it pays. */
export type Conv3Algorithm = "auto" | "direct" | "winograd";
let conv3Default: Conv3Algorithm = "auto";

/**
 * Sets (with an argument) and returns the process-wide default of {@link Conv2dOptions.k3Algorithm}:
 * "direct" reproduces the direct kernel's rounding everywhere (Winograd's is up to ~10x larger, within
 * the golden tolerances).
 */
export function conv3Algorithm(set?: Conv3Algorithm): Conv3Algorithm {
  if (set) conv3Default = set;
  return conv3Default;
}

/**
 * Whether a plain 3x3 convolution of x [B, K, H, W] into M channels runs through Winograd: its forward
 * (or input gradient, the same convolution of dy), or its weight gradient.
 */
function useWinograd(
  profile: KernelProfile,
  x: readonly number[],
  M: number,
  forced?: Conv3Algorithm,
  pass: "forward" | "weight" = "forward",
): boolean {
  if (profile !== "cpu") return false;
  const [B, K, H, W] = x;
  const choice = forced ?? conv3Default;
  if (choice === "direct") return false;
  if (choice === "winograd") return winogradFits(B, K, M, H, W);
  return pass === "forward" ? winogradPays(B, K, M, H, W) : winogradGradPays(B, K, M, H, W);
}

/** conv3_forward: output channels per weight block, floats per uniform buffer, input channels per buffer. */
const K3_BLOCK = 16;
const K3_UNIFORM_FLOATS = 16384;
const K3_CHANNELS_PER_UNIFORM = Math.floor(K3_UNIFORM_FLOATS / (9 * K3_BLOCK));
/** conv3_forward reads its weights from storage in one dispatch below this many workgroups per CPU core. */
const K3_MIN_GROUPS_PER_CORE = 8;
const GPU_WG_INVOCATIONS = 256;
const GPU_WG_BYTES = 792 * 4;

/**
 * Convolution of x [B, Cin, H, W] with weight [Cout, Cin, k, k] (k = 1 or 3) and bias [Cout], [B, Cout]
 * (one per sample: a UNet block's noise-embedding shift folded into the bias) or null.
 * `up` / `down` resample x before the convolution (fused). Records its backward on the active tape.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const r = rt();
  const { B, Cin, H, W, Cout, k } = checkShapes(x, weight, bias, opts);
  const profile = chooseProfile(opts.profile);
  const norm = opts.normalize;
  if (norm) {
    // Winograd's input transform normalises as it reads, so the normalised tensor is never written. A
    // gradient would need that tensor: with a tape recording (or off Winograd) the GroupNorm runs first.
    const [Hc, Wc] = opts.up ? [2 * H, 2 * W] : [H, W];
    const onRead = k === 3 && !opts.down && !r.tape &&
      useWinograd(profile, [B, Cin, Hc, Wc], Cout, opts.k3Algorithm);
    if (!onRead) {
      const xn = groupNorm(x, norm.gamma, norm.beta, norm.opts);
      return conv2d(xn, weight, bias, { ...opts, normalize: undefined });
    }
  }
  if (opts.down && profile === "cpu") {
    // Pool first, then a plain convolution: a pooled read costs four loads per value on a CPU
    // rasteriser, a pooling pass one (2x on the encoder's down-sampling convolutions).
    return conv2d(avgPool2(x), weight, bias, { ...opts, down: false });
  }
  const grid = readGrid(H, W, opts);
  const res = opts.residual ?? null;
  if (res && res.add.shape.join() !== [B, Cout, grid.Hc, grid.Wc].join()) {
    throw new Error(
      `conv2d: residual [${res.add.shape}] does not match the output [${B},${Cout},${grid.Hc},${grid.Wc}]`,
    );
  }
  if (res && profile === "cpu" && k === 1) {
    // the 1x1 kernel has no residual store: add it afterwards
    return axpby(res.scale, conv2d(x, weight, bias, { ...opts, residual: undefined }), res.scale, res.add);
  }
  // Winograd reads a plain or up-sampled grid (the cpu family pools first): the forward and the weight
  // gradient; the input gradient only on a plain grid (an up-sampled one sums 2x2 blocks in its store)
  const wino3 = k === 3 && !opts.down;
  const gridShape = [B, Cin, grid.Hc, grid.Wc];
  const y = wino3 && useWinograd(profile, gridShape, Cout, opts.k3Algorithm)
    ? r.scope(() =>
      // the scope frees the GroupNorm statistics
      winogradConv3({
        x,
        weight,
        transposed: false,
        bias,
        residual: res,
        up: opts.up,
        normalize: norm && { ...norm, stats: groupNormStatistics(x, norm) },
      })
    )
    : forward(x, weight, bias, opts, profile, grid, res);
  if (r.tape?.wants(x, weight, bias, res?.add)) {
    const needX = r.tape.wants(x);
    const needW = r.tape.wants(weight);
    const inputs = [x, weight, ...(bias ? [bias] : []), ...(res ? [res.add] : [])];
    r.tape.record(inputs, y, (g) => {
      // d y / d (conv + bias + add) = scale: one scaled gradient serves every input
      const gy = res && res.scale !== 1 ? scale(g, res.scale) : g;
      const gx = needX ? gradInput(profile, k, gy, weight, x.shape, opts) : null;
      const gw = !needW
        ? null
        : wino3 && useWinograd(profile, gridShape, Cout, opts.k3Algorithm, "weight")
        ? winogradGradWeight(x, gy, opts.up)
        : k === 1 && opts.up
        // dw = sum_p dy[p] x[p / 2]: the 2x2 sums of dy against x on the coarse grid (4x fewer products)
        ? r.scope(() => gradWeight(profile, k, x, avgPool2(gy), Cout, { ...plainGrid(H, W), inScale: 4 }))
        : gradWeight(profile, k, x, gy, Cout, grid);
      const grads = [gx, gw];
      if (bias) {
        const perSample = sumRows(gy, B * Cout); // [B * Cout]
        grads.push(bias.shape.length === 2 ? perSample.reshape(bias.shape) : sumLeading(perSample, B));
      }
      if (res) grads.push(gy);
      return grads;
    }, [x, weight]);
  }
  return y;
}

/** The direct kernels' forward (every case but Winograd's), in a scope. */
function forward(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  opts: Conv2dOptions,
  profile: KernelProfile,
  grid: Grid,
  res: { add: Tensor; scale: number } | null,
): Tensor {
  const [, Cin, H, W] = x.shape;
  const [Cout, , k] = weight.shape;
  return rt().scope(() => {
    const wt = layoutWeights(weight, false, k, weightBlock(profile, k, Cout));
    if (k === 1 && opts.up && profile === "cpu") {
      // a 1x1 convolution commutes with nearest up-sampling: 4x fewer FLOPs on the coarse grid, then
      // each value stored over its 2x2 block
      const store: Store = { mode: 2, Ho: grid.Hc, Wo: grid.Wc, outScale: 1 };
      return apply(profile, k, { src: x, Cr: Cin, Cw: Cout, grid: plainGrid(H, W), store }, wt, bias);
    }
    const store = { ...plainStore(grid), outScale: res?.scale ?? 1 };
    const call = { src: x, Cr: Cin, Cw: Cout, grid, store, k3Weights: opts.k3Weights, residual: res };
    return apply(profile, k, call, wt, bias);
  });
}

function checkShapes(x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dOptions) {
  if (x.shape.length !== 4) throw new Error(`conv2d: x must be [B, Cin, H, W], got [${x.shape}]`);
  const [B, Cin, H, W] = x.shape;
  const [Cout, Cw, k, k2] = weight.shape;
  if (weight.shape.length !== 4 || Cw !== Cin || k !== k2 || (k !== 1 && k !== 3)) {
    throw new Error(
      `conv2d: weight [${weight.shape}] does not fit input [${x.shape}]: expected [Cout, ${Cin}, k, k] with k = 1 or 3`,
    );
  }
  const perChannel = bias?.shape.length === 1 && bias.size === Cout;
  const perSample = bias?.shape.length === 2 && bias.shape[0] === B && bias.shape[1] === Cout;
  if (bias && !perChannel && !perSample) {
    throw new Error(
      `conv2d: bias [${bias.shape}] does not match the ${Cout} output channels of weight [${weight.shape}] ` +
        `(expected [${Cout}], or [${B}, ${Cout}] for one bias per sample)`,
    );
  }
  if (opts.up && opts.down) throw new Error("conv2d: up and down cannot both be set");
  if (opts.down && (H < 2 || W < 2)) {
    throw new Error(`conv2d: down-sampling needs H, W >= 2, got input [${x.shape}]`);
  }
  return { B, Cin, H, W, Cout, k };
}

function chooseProfile(forced?: KernelProfile): KernelProfile {
  const { gpu } = rt();
  const profile = forced ?? gpu.profile;
  if (profile === "gpu") {
    // The tiled kernels need 256 invocations and 3.1 KiB of workgroup memory (WebGPU's defaults
    // guarantee both); an adapter below that gets the register-blocked kernels, which need neither.
    const l = gpu.limits;
    if (
      l.maxComputeInvocationsPerWorkgroup < GPU_WG_INVOCATIONS ||
      l.maxComputeWorkgroupStorageSize < GPU_WG_BYTES
    ) {
      return "cpu";
    }
  }
  return profile;
}

/** The grid the forward convolution reads from x [.., H, W]. */
function readGrid(H: number, W: number, o: Conv2dOptions): Grid {
  if (o.up) return { Hc: 2 * H, Wc: 2 * W, up: 1, down: 0, inScale: 1 };
  if (o.down) return { Hc: Math.floor(H / 2), Wc: Math.floor(W / 2), up: 0, down: 1, inScale: 0.25 };
  return { Hc: H, Wc: W, up: 0, down: 0, inScale: 1 };
}

function plainGrid(H: number, W: number): Grid {
  return { Hc: H, Wc: W, up: 0, down: 0, inScale: 1 };
}

function plainStore(g: Grid): Store {
  return { mode: 0, Ho: g.Hc, Wo: g.Wc, outScale: 1 };
}

/** weight [Cout, Cin, k, k] → [written-channel block][read channel][tap][channel in block], flipped for grad-input. */
function layoutWeights(weight: Tensor, transposed: boolean, k: number, block: number): Tensor {
  const r = rt();
  return r.derived(
    weight,
    `conv2d layout ${transposed} ${block}`,
    () => layout(weight, transposed, k, block),
  );
}

function layout(weight: Tensor, transposed: boolean, k: number, block: number): Tensor {
  const r = rt();
  const [Cout, Cin] = weight.shape;
  const read = transposed ? Cout : Cin;
  const pad = roundUp(transposed ? Cin : Cout, block);
  const wt = r.empty([pad / block, read, k * k, block]);
  const rows = read * k * k;
  const params = { n: rows, Cout, Cin, taps: k * k, pad, block };
  K.layout.with({ TRANSPOSED: transposed }).run(params, { src: weight, dst: wt }, [
    Math.ceil(rows / 64),
    gridRows(block),
    pad / block,
  ]);
  return wt;
}

/** Written-channel block of each kernel's weight layout. */
function weightBlock(profile: KernelProfile, k: number, Cw: number): number {
  if (profile === "gpu") return roundUp(Cw, 8); // one block, padded to the 8-channel workgroup slice
  return k === 3 ? K3_BLOCK : roundUp(Cw, 16); // 3x3: blocks copied to uniform buffers; 1x1: one block
}

/** The i-th 64 KiB uniform buffer conv3_forward reads its weights from (the runtime's, reused by every call). */
function uniformWeightBuffer(i: number): Tensor {
  return rt().uniformScratch(i, K3_UNIFORM_FLOATS);
}

/** A convolution call: src [B, Cr, Hin, Win] read through `grid`, written as [B, Cw, store.Ho, store.Wo]. */
interface Call {
  src: Tensor;
  Cr: number;
  Cw: number;
  grid: Grid;
  store: Store;
  /** 3x3, "cpu" family: forces the weights' path (see {@link Conv2dOptions.k3Weights}). */
  k3Weights?: "uniform" | "storage";
  /**
   * How the "cpu" family runs a plain 3x3 convolution (and its input gradient): the direct kernel, or
   * Winograd F(4x4, 3x3) (src/ops/conv2d_winograd.ts). Default: {@link conv3Algorithm}'s choice.
   */
  k3Algorithm?: Conv3Algorithm;
  /** Plain stores: added times its scale (see {@link Conv2dOptions.residual}). */
  residual?: { add: Tensor; scale: number } | null;
}

/** Runs a convolution with laid-out weights wt, adding bias (plain stores only), into a new tensor or `out`. */
function apply(
  profile: KernelProfile,
  k: number,
  c: Call,
  wt: Tensor,
  bias: Tensor | null,
  out?: Tensor,
): Tensor {
  const r = rt();
  const [B, , Hin, Win] = c.src.shape;
  const { grid: g, store: s } = c;
  const y = out ?? r.empty([B, c.Cw, s.Ho, s.Wo]);
  const coPad = wt.shape[0] * wt.shape[3];
  const hasBias = bias ? bias.shape.length : 0; // 1: one per channel, 2: one per sample and channel
  const inScale = g.inScale;
  const outScale = s.outScale;
  const resScale = c.residual?.scale ?? 0;
  const res = c.residual?.add ?? c.src; // bound either way (statically used), read only with a scale
  const common = { B, Cin: c.Cr, Cout: c.Cw, Hin, Win, Hc: g.Hc, Wc: g.Wc };
  if (profile === "gpu") {
    const tilesX = Math.ceil(g.Wc / 16);
    const [gx, gy] = r.grid(B * Math.ceil(g.Hc / 16) * tilesX, 1);
    const params = {
      ...common,
      k,
      up: g.up,
      down: g.down,
      coPad,
      hasBias,
      storeMode: s.mode,
      Ho: s.Ho,
      Wo: s.Wo,
      inScale,
      outScale,
      tilesX,
      resScale,
    };
    K.gpuForward.run(params, { x: c.src, wt, bias: bias ?? wt, y, res }, [
      gx,
      gy,
      coPad / 8,
    ]);
    return y;
  }
  const pool = g.down;
  if (k === 3) {
    if (pool) throw new Error("conv2d: internal error, the 3x3 cpu kernels read no pooled grid");
    const tilesX = Math.ceil(g.Wc / 8);
    const tilesY = Math.ceil(g.Hc / 4);
    const [gx, gz] = r.grid(B * tilesX * tilesY, 8);
    // rows of x a multiple of 4 long, read plainly: 8 of a tile row's 10 values as two vec4 loads
    const vec4 = isPlain(g, Hin, Win) && Win % 4 === 0;
    // plain stores into rows a multiple of 4 long: the accumulators' column quads as vec4 stores
    const y4 = s.mode === 0 && s.Wo % 4 === 0;
    const kernel = K.conv3Forward.with({ VEC4: vec4, STORE: s.mode, RESIDUAL: resScale !== 0, Y4: y4 });
    const blocks = wt.shape[0];
    const base = {
      ...common,
      tilesX,
      tilesY,
      up: g.up,
      down: g.down,
      Ho: s.Ho,
      Wo: s.Wo,
      inScale,
      outScale,
      CinTotal: c.Cr,
      resScale,
    };
    const storage = c.k3Weights ? c.k3Weights === "storage" : gx * gz < K3_MIN_GROUPS_PER_CORE * cpuCores();
    if (storage) {
      // Few workgroups per dispatch (a small grid): one dispatch for every block and channel, weights
      // read from storage, beats a copy and a dispatch per block and chunk (1.5x at 16x16, batch 1).
      const params = { ...base, hasBias, coBlock: 0, ci0: 0 };
      const bindings = {
        x: c.src,
        bias: bias ?? c.src,
        y,
        wu: uniformWeightBuffer(0),
        wts: wt,
        x4: c.src,
        res,
        y4: y,
        res4: res,
      };
      kernel.with({ WSTORAGE: true }).run(params, bindings, [gx, blocks, gz]);
      return y;
    }
    // one dispatch per 16-channel block and chunk of input channels, each with its weights copied
    // into a uniform buffer; chunks after the first add to y
    let u = 0;
    for (let coBlock = 0; coBlock < blocks; coBlock++) {
      for (let ci0 = 0; ci0 < c.Cr; ci0 += K3_CHANNELS_PER_UNIFORM, u++) {
        const n = Math.min(K3_CHANNELS_PER_UNIFORM, c.Cr - ci0);
        const weights = uniformWeightBuffer(u);
        r.copy(wt, (coBlock * c.Cr + ci0) * 9 * K3_BLOCK, weights, 0, n * 9 * K3_BLOCK);
        const params = {
          ...base,
          Cin: n,
          hasBias: ci0 === 0 ? hasBias : 0,
          coBlock,
          ci0,
        };
        kernel.with({ ACCUMULATE: ci0 > 0 }).run(params, {
          x: c.src,
          bias: bias ?? c.src,
          y,
          wu: weights,
          wts: wt,
          x4: c.src,
          res,
          y4: y,
          res4: res,
        }, [
          gx,
          1,
          gz,
        ]);
      }
    }
    return y;
  }
  // 1x1: plain stores, or the spread of a nearest up-sampling (mode 2 with scale 1, see conv2d)
  const spread = s.mode === 2 && s.outScale === 1;
  if (s.mode !== 0 && !spread) throw new Error("conv2d: internal error, unsupported 1x1 store");
  const plane = g.Hc * g.Wc;
  const tiles = Math.ceil(plane / (pool ? 16 : 32)); // pooled reads: half the pixels per thread
  // one flat run of workgroups: the channel blocks of each run of 8 tiles in a row (kernels/conv2d_k1.wgsl)
  const [gx, gz] = r.grid(Math.ceil((B * tiles) / 8) * (coPad / 16), 1);
  const params = { ...common, plane, tiles, up: g.up, down: g.down, coPad, hasBias, inScale };
  const vec4 = isPlain(g, Hin, Win) && plane % 4 === 0;
  const y4 = !spread && plane % 4 === 0; // plain stores of aligned pixel quads
  // the weights (once per version) and x (copied per call) through images (src/gpu/image.ts): 1.3-1.45x
  // at batch 8, 64-128 channels; as fast at batch 1, 16x16
  const wi = r.useImages && r.imageable(wt) ? r.derived(wt, "image", () => r.imageOf(wt)) : null;
  const xi = r.useImages && vec4 && r.imageable(c.src) ? r.imageOf(c.src) : null;
  const kernel = K.conv1Forward.with({
    POOL: pool,
    HALF: pool,
    VEC4: vec4,
    CI4: !pool,
    SPREAD: spread,
    Y4: y4,
    IMG: xi !== null,
    IMGW: wi !== null,
    IMG_SHIFT: IMAGE_SHIFT,
  });
  const images = { xi: xi?.view, wi: wi?.view };
  kernel.run(params, { x: c.src, wt, bias: bias ?? wt, y, x4: c.src, y4: y, ...images }, [gx, 1, gz]);
  xi?.release();
  return y;
}

/** Cores the CPU rasteriser spreads workgroups over (the "cpu" family runs on the host's CPU). */
function cpuCores(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** d loss / d x [B, Cin, H, W] from gy = d loss / d y. */
function gradInput(
  profile: KernelProfile,
  k: number,
  gy: Tensor,
  weight: Tensor,
  xShape: readonly number[],
  o: Conv2dOptions,
): Tensor {
  const r = rt();
  const [, Cin, H, W] = xShape;
  const [Cout] = weight.shape;
  const [B, , Hy, Wy] = gy.shape;
  if (k === 3 && !o.down && useWinograd(profile, gy.shape, Cin, o.k3Algorithm)) {
    if (!o.up) return winogradConv3({ x: gy, weight, transposed: true, bias: null });
    // the adjoint of nearest-up is the 2x2 sum: the input gradient on the fine grid (dy's), through
    // Winograd, pooled (4x the mean); the direct kernel's summing store took 225 ms of kernel time against
    // about 70 (128 channels, 64x64, batch 8)
    return r.scope(() =>
      avgPool2(winogradConv3({ x: gy, weight, transposed: true, bias: null, outScale: 4 }))
    );
  }
  return r.scope(() => {
    const wt = layoutWeights(weight, true, k, weightBlock(profile, k, Cin));
    const call = (grid: Grid, store: Store): Call => ({
      src: gy,
      Cr: Cout,
      Cw: Cin,
      grid,
      store,
      k3Weights: o.k3Weights,
    });
    const plain: Store = { mode: 0, Ho: H, Wo: W, outScale: 1 };
    if (!o.up && !o.down) return apply(profile, k, call(plainGrid(H, W), plain), wt, null);
    if (k === 1 && o.up) {
      // per pixel, so the 2x2 sum of dy first (4x the mean: inScale), then a plain 1x1 convolution on the
      // coarse grid: 4x fewer products than reading dy pooled
      const pooled = call({ ...plainGrid(H, W), inScale: 4 }, plain);
      return apply(profile, k, { ...pooled, src: avgPool2(gy) }, wt, null);
    }
    if (k === 1 && o.down) {
      // Per pixel, so resample dy instead: the adjoint of pooling is 1/4 of dy read up-sampled (zero on
      // an odd last row or column).
      return apply(profile, k, call({ Hc: H, Wc: W, up: 1, down: 0, inScale: 0.25 }, plain), wt, null);
    }
    if (o.up) {
      // convolve on the fine grid (dy's), sum each 2x2 block into one pixel of x
      return apply(profile, k, call(plainGrid(Hy, Wy), { mode: 1, Ho: H, Wo: W, outScale: 1 }), wt, null);
    }
    // convolve on the coarse grid (dy's), spread each pixel / 4 over its 2x2 block of x; an odd last
    // row or column of x never reaches the pooled input, so its gradient is zero
    const out = H % 2 === 1 || W % 2 === 1 ? zeros([B, Cin, H, W]) : undefined;
    return apply(
      profile,
      k,
      call(plainGrid(Hy, Wy), { mode: 2, Ho: H, Wo: W, outScale: 0.25 }),
      wt,
      null,
      out,
    );
  });
}
