/**
 * Golden cases of the training losses and the samplers, with the reference's random draws replayed
 * in call order.
 */
import { initRuntime, rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { broadcastBatch } from "../ops/tensor_ops.ts";
import { DevicePatching } from "../ops/patching.ts";
import { batchLoss, type Draws } from "../train/step.ts";
import type { HostBatch } from "../train/batch.ts";
import { applyPatching, gridPatching } from "../diffusion/patching.ts";
import { deterministicSampler, stochasticSampler } from "../diffusion/samplers.ts";
import { CorrDiffRegressionUNet, EDMPrecondSuperResolution } from "../nn/wrappers.ts";
import { registerHandler } from "./handlers.ts";
import { loadGoldenNetwork } from "./network_cases.ts";
import type { CaseContext, Outputs } from "./runner.ts";
import type { NetworkSpec } from "./manifest.ts";

/** The network stored in a named safetensors file of the set. */
function entryFor(ctx: CaseContext, file: string): { file: string; spec: NetworkSpec } {
  const entry = Object.entries(ctx.golden.manifest.files).find(([k, v]) =>
    v.file === file || k === file.replace(/\.safetensors$/, "")
  );
  const spec = entry?.[1].networks?.["<unprefixed>"];
  if (!entry || !spec) throw new Error(`golden ${ctx.file}: no network stored in ${file}`);
  return { file: entry[0], spec };
}

/** The case's own tensor `<case>.<name>` as host data and shape. */
function host(ctx: CaseContext, name: string): { data: Float32Array; shape: number[] } {
  const full = `${ctx.caseName}.${name}`;
  return { data: ctx.golden.f32(ctx.file, full), shape: ctx.golden.tensor(ctx.file, full).shape };
}

/** The case's lead-time labels (`<case>.lead_time_label`, lead-time networks), if it has them. */
function leadTimeOf(ctx: CaseContext): number[] | undefined {
  const name = `${ctx.caseName}.lead_time_label`;
  return (ctx.spec.inputs ?? []).includes(name) ? Array.from(ctx.golden.f32(ctx.file, name)) : undefined;
}

function upload(ctx: CaseContext, name: string): Tensor {
  const h = host(ctx, name);
  return rt().upload(h.data, h.shape);
}

async function readAll(pairs: [string, Tensor][]): Promise<Outputs> {
  const out: Outputs = new Map();
  for (const [k, t] of pairs) {
    out.set(k, await t.read());
    t.release();
  }
  return out;
}

async function runRegressionLoss(ctx: CaseContext): Promise<Outputs> {
  const r = await initRuntime();
  const own = ctx.golden.manifest.files[ctx.file].networks!["<unprefixed>"];
  const net = await loadGoldenNetwork(ctx, { file: ctx.file, spec: own }) as CorrDiffRegressionUNet;
  try {
    const loss = r.scope(() => {
      const lr = host(ctx, "img_lr");
      const setup = {
        net,
        regressionNet: null,
        P_mean: 0,
        P_std: 1.2,
        hrMeanConditioning: false,
        patch: null,
        // RegressionLossCE (lead-time models with probability channels)
        probChannels: ctx.spec.loss === "RegressionLossCE" ? ctx.spec.prob_channels as number[] : undefined,
      };
      return batchLoss(
        setup,
        upload(ctx, "img_clean"),
        rt().upload(lr.data, lr.shape),
        hostBatch(lr, leadTimeOf(ctx)),
        { train: ctx.spec.mode !== "eval" },
        new Replay([]),
        1,
      );
    });
    return await readAll([[`${ctx.caseName}.loss`, loss]]);
  } finally {
    net.ps.dispose();
  }
}

/** The host side of a loss case's batch: its input and lead-time labels. */
function hostBatch(lr: { data: Float32Array; shape: readonly number[] }, leadTime?: number[]): HostBatch {
  return { indices: [], target: new Float32Array(0), input: lr.data, B: lr.shape[0], leadTime };
}

async function runResidualLoss(ctx: CaseContext): Promise<Outputs> {
  const r = await initRuntime();
  const f = ctx.golden.manifest.files[ctx.file];
  const wf = f.weights_files as Record<string, string> | undefined;
  const diffSrc = wf?.net ? entryFor(ctx, wf.net) : { file: ctx.file, spec: f.networks!["<unprefixed>"] };
  const regFile = wf?.regression_net ?? f.regression_weights_file ??
    (ctx.spec.description.match(/[Rr]egression net:\s*([\w.]+)/)?.[1] ?? "");
  const regSrc = entryFor(ctx, regFile.endsWith(".safetensors") ? regFile : `${regFile}.safetensors`);
  const net = await loadGoldenNetwork(ctx, diffSrc) as EDMPrecondSuperResolution;
  const reg = await loadGoldenNetwork(ctx, regSrc) as CorrDiffRegressionUNet;
  const hasPatches = (ctx.spec.inputs ?? []).includes(`${ctx.caseName}.patch_indices`);
  const desc = ctx.spec.description;
  const num = (k: string, d: number) => Number(desc.match(new RegExp(`${k}=([-0-9.e]+)`))?.[1] ?? d);
  try {
    const loss = r.scope(() => {
      const clean = host(ctx, "img_clean"), lr = host(ctx, "img_lr");
      const noise = host(ctx, "draw1_noise_normal");
      const corners = hasPatches ? host(ctx, "patch_indices").data : undefined;
      const setup = {
        net,
        regressionNet: reg,
        P_mean: num("P_mean", 0),
        P_std: num("P_std", 1.2),
        hrMeanConditioning: !/hr_mean_conditioning=False/.test(desc),
        patch: hasPatches ? { Hp: noise.shape[2], Wp: noise.shape[3] } : null,
      };
      if (num("sigma_data", 0.5) !== net.sigmaData) {
        throw new Error(`golden ${ctx.caseName}: sigma_data differs from the network's`);
      }
      const P = corners ? corners.length / 2 : 1;
      const draws = new Replay([host(ctx, "draw0_sigma_normal").data, noise.data], corners);
      // Through the training code path (src/train/step.ts), with the recorded draws.
      return batchLoss(
        setup,
        rt().upload(clean.data, clean.shape),
        rt().upload(lr.data, lr.shape),
        hostBatch(lr, leadTimeOf(ctx)),
        { train: true },
        draws,
        P,
      );
    });
    return await readAll([[`${ctx.caseName}.loss`, loss]]);
  } finally {
    net.ps.dispose();
    reg.ps.dispose();
  }
}

/** Recorded draws replayed in order, and recorded patch corners, in place of a generator. */
class Replay implements Draws {
  #i = 0;
  constructor(readonly seq: Float32Array[], readonly corners?: ArrayLike<number>) {}
  normals(n: number): Float32Array {
    const d = this.seq[this.#i++];
    if (!d || d.length !== n) {
      throw new Error(
        `golden draws: draw ${this.#i - 1} has ${d?.length ?? 0} values, the loss asks for ${n}`,
      );
    }
    return d;
  }
  uniform(): number {
    throw new Error("golden draws: no uniform draws were recorded");
  }
  patchCorners(): ArrayLike<number> {
    if (!this.corners) throw new Error("golden draws: no patch corners were recorded");
    return this.corners;
  }
}

const camel: Record<string, string> = { num_steps: "numSteps", sigma_min: "sigmaMin", sigma_max: "sigmaMax" };

async function runSampler(ctx: CaseContext): Promise<Outputs> {
  const r = await initRuntime();
  const f = ctx.golden.manifest.files[ctx.file];
  const src = f.networks?.["<unprefixed>"]
    ? { file: ctx.file, spec: f.networks["<unprefixed>"] }
    : entryFor(ctx, f.weights_file!);
  const net = await loadGoldenNetwork(ctx, src) as EDMPrecondSuperResolution;
  const kwargs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((ctx.spec.sampler_kwargs ?? {}) as Record<string, unknown>)) {
    kwargs[camel[k] ?? k] = v;
  }
  const patchSpec = ctx.spec.patching as {
    patch_shape: [number, number];
    overlap_pix: number;
    boundary_pix: number;
  } | null;
  let dev: DevicePatching | null = null;
  try {
    const x = r.scope(() => {
      const latents = host(ctx, "latents"), lr = host(ctx, "img_lr"), mean = host(ctx, "mean_hr");
      const [B, , H, W] = latents.shape;
      // x_lr = cat[mean_hr expanded to the batch, img_lr], assembled on the host.
      const cm = mean.shape[1], cl = lr.shape[1], n = H * W;
      const xLr = new Float32Array(B * (cm + cl) * n);
      for (let b = 0; b < B; b++) {
        xLr.set(mean.data.subarray(0, cm * n), b * (cm + cl) * n);
        xLr.set(lr.data.subarray(b * cl * n, (b + 1) * cl * n), (b * (cm + cl) + cm) * n);
      }
      let cond: Tensor;
      let selector: ((g: Tensor) => Tensor) | undefined;
      if (patchSpec) {
        const gp = gridPatching(
          H,
          W,
          patchSpec.patch_shape[0],
          patchSpec.patch_shape[1],
          patchSpec.overlap_pix,
          patchSpec.boundary_pix,
        );
        dev = new DevicePatching(gp);
        const p = applyPatching(gp, xLr, [B, cm + cl, H, W], lr);
        cond = r.upload(p.data, p.shape);
        const d = dev;
        // the positional grid comes as [1, ...], lead-time rows as [labels, ...] (expanded as the reference does)
        selector = (grid) => d.apply(grid.shape[0] === B ? grid : broadcastBatch(grid, B));
      } else {
        cond = r.upload(xLr, [B, cm + cl, H, W]);
      }
      const d = dev as DevicePatching | null;
      const leadTimeLabel = leadTimeOf(ctx);
      const denoise = (xs: Tensor, s: number) => {
        const sig = new Float32Array([s]);
        if (!d) return net.forward(xs, cond, sig, { train: false }, { leadTimeLabel });
        return d.fuse(
          net.forward(d.apply(xs), cond, sig, { train: false }, {
            embeddingSelector: selector,
            leadTimeLabel,
          }),
        );
      };
      const draws = host(ctx, "randn_draws");
      const per = draws.data.length / draws.shape[0];
      let k = 0;
      const randnLike = (shape: readonly number[]) => {
        if (k >= draws.shape[0]) {
          throw new Error(`sampler asked for more than the ${draws.shape[0]} recorded draws`);
        }
        return r.upload(draws.data.subarray(per * k, per * ++k), shape);
      };
      const lat = r.upload(latents.data, latents.shape);
      const opts = { ...kwargs, netSigmaMin: net.sigmaMin, netSigmaMax: net.sigmaMax };
      return ctx.spec.sampler === "deterministic"
        ? deterministicSampler(denoise, lat, randnLike, opts)
        : stochasticSampler(denoise, lat, randnLike, opts);
    });
    return await readAll([[`${ctx.caseName}.x_final`, x]]);
  } finally {
    (dev as DevicePatching | null)?.dispose();
    net.ps.dispose();
  }
}

registerHandler((ctx) => {
  const ins = ctx.spec.inputs ?? [];
  const has = (n: string) => ins.includes(`${ctx.caseName}.${n}`);
  if (has("latents") && has("randn_draws") && typeof ctx.spec.sampler === "string") return runSampler;
  if (has("img_clean") && has("draw0_sigma_normal")) return runResidualLoss;
  if (has("img_clean") && has("img_lr") && ctx.golden.manifest.files[ctx.file].networks) {
    return runRegressionLoss;
  }
  return null;
});
