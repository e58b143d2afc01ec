/**
 * GroupNorm with an optional fused SiLU, and its gradient (kernels in kernels/groupnorm.wgsl).
 *
 * The reference normalises with the biased variance (divisor N) in train mode and with the unbiased
 * one (divisor N - 1) in eval mode; both are reproduced, forward and backward. Statistics are
 * computed as a mean followed by a mean of squared deviations, so large offsets do not cancel.
 */
import type { KernelProfile } from "../gpu/device.ts";
import { rt } from "../gpu/runtime.ts";
import { type DeclaredKernel, declareKernel } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { defineOp } from "../gpu/op.ts";

/**
 * Values per thread in the cpu family. On llvmpipe each workgroup has a fixed cost of a few
 * microseconds, so long chunks win: on [8, 64, 64, 64] the four elementwise passes took 20-40% less
 * time with 256 values per thread than with 16-64.
 */
const CPU_CHUNK = 256;

/** Options of `groupNorm`. */
export interface GroupNormOptions {
  /** Number of groups (contiguous channel blocks); must divide the channel count. */
  groups: number;
  /** Added to the variance (1e-6 inside the reference's U-Net). */
  eps: number;
  /** Applies SiLU after the affine transform (the reference's `act="silu"`). */
  silu?: boolean;
  /** Train mode: biased variance (divisor N). Eval mode: unbiased variance (divisor N - 1). */
  train: boolean;
  /** Kernel family; defaults to the adapter's profile (tests force one to check both). */
  profile?: KernelProfile;
}

/**
 * A GroupNorm (+SiLU) of a convolution's input, for the convolution to apply as it reads the input
 * (`Conv2dOptions.normalize`): its parameters, as {@link groupNorm} takes them.
 */
export interface GroupNormOnRead {
  /** Per-channel scale [C]. */
  gamma: Tensor;
  /** Per-channel shift [C]. */
  beta: Tensor;
  /** Groups, epsilon, SiLU, train/eval variance. */
  opts: GroupNormOptions;
}

/** The reference's group count: min(32, ceil(C / 4)); errors if it does not divide C. */
export function groupCount(channels: number): number {
  if (!Number.isInteger(channels) || channels < 1) {
    throw new Error(`groupCount: invalid channel count ${channels}`);
  }
  const groups = Math.min(32, Math.ceil(channels / 4));
  if (channels % groups !== 0) {
    throw new Error(`groupCount: ${channels} channels are not divisible into ${groups} groups`);
  }
  return groups;
}

/** How a [B, C, H, W] tensor is cut into per-thread chunks for one kernel family. */
interface Plan {
  B: number;
  C: number;
  hw: number;
  cpg: number;
  pairs: number;
  chunk: number;
  nchunks: number;
  /** The chunk entry points move vec4s (override VEC4): hw is a multiple of 4. */
  vec4: boolean;
  profile: KernelProfile;
  divisor: number;
  eps: number;
  silu: boolean;
}

function plan(x: Tensor, opts: GroupNormOptions): Plan {
  if (x.shape.length !== 4) throw new Error(`groupNorm: x must be [B, C, H, W], got [${x.shape}]`);
  const [B, C, H, W] = x.shape;
  const { groups } = opts;
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0) {
    throw new Error(`groupNorm: ${groups} groups do not divide the ${C} channels of x [${x.shape}]`);
  }
  if (!(opts.eps >= 0)) throw new Error(`groupNorm: eps must be >= 0, got ${opts.eps}`);
  const hw = H * W;
  const cpg = C / groups;
  const profile = opts.profile ?? rt().gpu.profile;
  const vec4 = hw % 4 === 0;
  const chunk = profile === "cpu" ? Math.min(hw, CPU_CHUNK) : vec4 ? 4 : 1;
  const n = cpg * hw;
  return {
    B,
    C,
    hw,
    cpg,
    pairs: B * groups,
    chunk,
    nchunks: Math.ceil(hw / chunk),
    vec4,
    profile,
    divisor: opts.train ? n : n - 1,
    eps: opts.eps,
    silu: opts.silu ?? false,
  };
}

const PARAMS = {
  rows: "u32",
  hw: "u32",
  channels: "u32",
  cpg: "u32",
  pairs: "u32",
  chunk: "u32",
  nchunks: "u32",
  eps: "f32",
  divisor: "f32",
  silu: "u32",
} as const;
const BINDINGS = ["x", "gamma", "beta", "stats", "part", "dy", "out", "dgamma", "dbeta", "sums"] as const;
type BindingName = typeof BINDINGS[number];
/** The chunk entry points (override VEC4) also take x, dy and out as vec4 arrays, at bindings of their own. */
const VEC4_ALIASES: Partial<Record<BindingName, string>> = { x: "x4", dy: "dy4", out: "out4" };
const CHUNKED = new Set(["stats_chunks", "normalize_chunks", "bwd_chunks", "bwd_dx"]);
const KERNELS = new Map<string, DeclaredKernel>();

function kernelFor(entry: string): DeclaredKernel {
  let k = KERNELS.get(entry);
  if (!k) {
    const names = CHUNKED.has(entry) ? [...BINDINGS, ...Object.values(VEC4_ALIASES)] : BINDINGS;
    KERNELS.set(entry, k = declareKernel({ file: "groupnorm", entry, params: PARAMS, bindings: names }));
  }
  return k;
}
for (
  const e of [
    "stats_chunks",
    "stats_combine",
    "stats_workgroup",
    "normalize_chunks",
    "bwd_chunks",
    "bwd_rows_workgroup",
    "bwd_reduce",
    "bwd_dx",
  ]
) kernelFor(e);

function run(
  entry: string,
  p: Plan,
  b: Partial<Record<BindingName, Tensor>>,
  groups: [number, number],
): void {
  const chunked = CHUNKED.has(entry);
  const k = chunked ? kernelFor(entry).with({ VEC4: p.vec4 }) : kernelFor(entry);
  const named: Record<string, Tensor> = { ...b };
  if (chunked) {
    for (const [name, t] of Object.entries(b)) {
      const alias = VEC4_ALIASES[name as BindingName];
      if (alias) named[alias] = t;
    }
  }
  const params = {
    rows: p.B * p.C,
    hw: p.hw,
    channels: p.C,
    cpg: p.cpg,
    pairs: p.pairs,
    chunk: p.chunk,
    nchunks: p.nchunks,
    eps: p.eps,
    divisor: p.divisor,
    silu: p.silu ? 1 : 0,
  };
  k.run(params, named, groups);
}

function launch(entry: string, p: Plan, b: Partial<Record<BindingName, Tensor>>, threads: number): void {
  run(entry, p, b, kernelFor(entry).grid(threads));
}

/** One 256-thread workgroup per item (the gpu family's reductions). */
function launchPerItem(entry: string, p: Plan, b: Partial<Record<BindingName, Tensor>>, items: number): void {
  run(entry, p, b, rt().grid(items, 1));
}

/** Per-(sample, group) mean and rstd, [pairs * 2]. */
function statistics(x: Tensor, p: Plan): Tensor {
  const r = rt();
  const stats = r.empty([p.pairs * 2]);
  if (p.profile === "gpu") {
    launchPerItem("stats_workgroup", p, { x, stats }, p.pairs);
    return stats;
  }
  const chunks = p.B * p.C * p.nchunks;
  const part = r.empty([chunks * 2]);
  launch("stats_chunks", p, { x, part }, chunks);
  launch("stats_combine", p, { part, stats }, p.pairs);
  part.release();
  return stats;
}

/**
 * Per-(sample, group) mean and rstd of x [B, C, H, W] as {@link groupNorm} computes them, [B * groups * 2]
 * (mean, rstd pairs): for a consumer that normalises as it reads `n` (not differentiable).
 */
export function groupNormStatistics(x: Tensor, n: GroupNormOnRead): Tensor {
  return statistics(x, checkedPlan(x, n.gamma, n.beta, n.opts));
}

/** dx, dgamma, dbeta from the output gradient. */
function backward(x: Tensor, gamma: Tensor, beta: Tensor, stats: Tensor, dy: Tensor, p: Plan): Tensor[] {
  const r = rt();
  const rows = p.B * p.C;
  const part = r.empty([rows * (p.profile === "gpu" ? 1 : p.nchunks) * 2]);
  if (p.profile === "gpu") {
    launchPerItem("bwd_rows_workgroup", p, { x, gamma, beta, stats, dy, part }, rows);
  } else {
    launch("bwd_chunks", p, { x, gamma, beta, stats, dy, part }, rows * p.nchunks);
  }
  // bwd_reduce reads part with the layout its producer used: one partial per row in the gpu family.
  const reduced = p.profile === "gpu" ? { ...p, chunk: p.hw, nchunks: 1 } : p;
  const dgamma = r.empty(gamma.shape);
  const dbeta = r.empty(beta.shape);
  const sums = r.empty([p.pairs * 2]);
  launch("bwd_reduce", reduced, { part, gamma, dgamma, dbeta, sums }, Math.max(p.C, p.pairs));
  part.release();
  const dx = r.empty(x.shape);
  launch("bwd_dx", p, { x, gamma, beta, stats, dy, sums, out: dx }, rows * p.nchunks);
  sums.release();
  return [dx, dgamma, dbeta];
}

/**
 * GroupNorm of x [B, C, H, W] with per-channel gamma and beta [C]; groups are contiguous channel
 * blocks. Train mode uses the biased variance (divisor N), eval mode the unbiased one (divisor N - 1),
 * as the reference's eval path does. With `silu`, SiLU follows the affine transform.
 * Differentiable in x, gamma and beta in both modes.
 */
export function groupNorm(x: Tensor, gamma: Tensor, beta: Tensor, opts: GroupNormOptions): Tensor {
  return GROUP_NORM({ x, gamma, beta }, checkedPlan(x, gamma, beta, opts));
}

function checkedPlan(x: Tensor, gamma: Tensor, beta: Tensor, opts: GroupNormOptions): Plan {
  const p = plan(x, opts);
  for (const [name, t] of [["gamma", gamma], ["beta", beta]] as const) {
    if (t.size !== p.C) {
      throw new Error(`groupNorm: ${name} [${t.shape}] must have ${p.C} values for x [${x.shape}]`);
    }
  }
  return p;
}

const GROUP_NORM = defineOp({
  name: "groupNorm",
  forward: ({ x, gamma, beta }: { x: Tensor; gamma: Tensor; beta: Tensor }, p: Plan) => {
    const stats = statistics(x, p);
    const out = rt().empty(x.shape);
    launch("normalize_chunks", p, { x, gamma, beta, stats, out }, p.B * p.C * p.nchunks);
    return { out, saved: { stats } };
  },
  backward: (dy, { inputs: { x, gamma, beta }, params: p, saved: { stats } }) => {
    const [dx, dgamma, dbeta] = backward(x, gamma, beta, stats, dy, p);
    return { x: dx, gamma: dgamma, beta: dbeta };
  },
});
