/**
 * Training-step benchmarks for `deno task bench`: one full optimiser step (forward, backward,
 * nan_to_num, Adam) of the mini regression or diffusion model at 64x64, batch 8, as
 * ../shared/bench/torch_bench.py times the reference (`reg_train_step_b8`, `diff_train_step_b8`).
 */
import { initRuntime } from "../gpu/runtime.ts";
import { CorrDiffRegressionUNet, EDMPrecondSuperResolution, type WrapperKwargs } from "../nn/wrappers.ts";
import { Rng } from "../util/rng.ts";
import { Adam } from "./adam.ts";
import { ParamArena } from "./arena.ts";
import type { HostBatch } from "./batch.ts";
import { readTrainSettings } from "./settings.ts";
import { lossSetup, recordStep, type StepContext } from "./step.ts";

/** Median step time and the peak of pooled device memory plus the arenas. */
export interface TrainStepBench {
  /** Median wall time of one step, milliseconds. */
  ms: number;
  /** Peak bytes of pooled device memory during the steps, plus the parameter, gradient and moment arenas. */
  peakBytes: number;
  /** Device buffers created during the timed steps (after the first): 0 when the pool serves them all. */
  newBuffers: number;
}

/**
 * Times `repeats` steps (after one warm-up step that compiles the pipelines) of the `kind` model
 * built from `unet` (the mini U-Net arguments) with `cLr` input and `cOut` output channels.
 */
export async function benchTrainStep(
  kind: "regression" | "diffusion",
  unet: Record<string, unknown>,
  o: { B?: number; H?: number; W?: number; cLr?: number; cOut?: number; repeats?: number } = {},
): Promise<TrainStepBench> {
  const r = await initRuntime();
  r.pool.resetPeak();
  r.images.resetPeak();
  const B = o.B ?? 8, H = o.H ?? 64, W = o.W ?? 64, cLr = o.cLr ?? 5, cOut = o.cOut ?? 2;
  const grid = (unet.N_grid_channels as number | undefined) ?? 4;
  const base = { ...unet, img_resolution: [H, W], img_out_channels: cOut } as WrapperKwargs;
  const settings = readTrainSettings({
    model: { name: kind, hr_mean_conditioning: kind === "diffusion", model_args: unet },
    training: { hp: { total_batch_size: B, batch_size_per_gpu: B, training_duration: 1e9 } },
  }, [H, W]);
  const regressionNet = kind === "diffusion"
    ? new CorrDiffRegressionUNet({ ...base, img_in_channels: cLr + grid }, 3)
    : null;
  const net = kind === "regression"
    ? new CorrDiffRegressionUNet({ ...base, img_in_channels: cLr + grid }, 1)
    : new EDMPrecondSuperResolution({ ...base, img_in_channels: cLr + cOut + grid }, 2);
  net.ps.setRequiresGrad(true);
  const arena = new ParamArena(net.ps.params);
  const adam = new Adam(arena);
  const rng = new Rng(4);
  const ctx: StepContext = {
    settings,
    loss: lossSetup(settings, net, regressionNet),
    net,
    regressionNet,
    arena,
    adam,
    rng,
    shape: { cOut, cLr, H, W },
  };
  const batch: HostBatch = {
    indices: [...Array(B).keys()],
    target: rng.normals(B * cOut * H * W),
    input: rng.normals(B * cLr * H * W),
    B,
  };
  const arenaBytes = arena.segments.reduce((a, s) => a + 16 * s.length, 0);
  const times: number[] = [];
  let created = 0;
  for (let i = 0; i <= (o.repeats ?? 3); i++) {
    if (i === 1) created = r.pool.stats().created;
    const t0 = performance.now();
    recordStep(ctx, [batch], 2e-4, adam.step + 1);
    await r.sync();
    if (i > 0) times.push(performance.now() - t0);
  }
  const peakBytes = r.pool.stats().peakBytes + r.images.stats().peakBytes + arenaBytes;
  const newBuffers = r.pool.stats().created - created;
  adam.dispose();
  arena.dispose();
  regressionNet?.ps.dispose();
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], peakBytes, newBuffers };
}
