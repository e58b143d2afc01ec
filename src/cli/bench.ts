/**
 * `deno task bench [--json] [--repeats N]`: speed of the CorrDiff mini networks, of the generation
 * sampler and of the conv kernel on this adapter. Each figure is the median wall time of one recorded
 * pass plus one sync (the sync, about 11 ms on llvmpipe, is included: it is what a caller pays); the
 * sampler figures are one run each.
 */
import { parseArgs } from "node:util";
import { initRuntime, type Runtime } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { valueAndGrad } from "../gpu/autograd.ts";
import { conv2d } from "../ops/conv2d.ts";
import { mul, sumAll } from "../ops/elementwise.ts";
import { CorrDiffRegressionUNet, EDMPrecondSuperResolution } from "../nn/wrappers.ts";
import { Rng } from "../util/rng.ts";
import { addMean, DiffusionStep, regressionMean, seededNoise } from "../generate/sampling.ts";
import { samplerSettings } from "../generate/settings.ts";
import { benchTrainStep } from "../train/bench.ts";
import { DispatchProfiler, type FamilyTime, groupByFamily } from "../gpu/profiler.ts";

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "boolean" },
      repeats: { type: "string", default: "3" },
      profile: { type: "boolean" },
    },
  });
} catch (e) {
  console.error(
    `bench: ${
      (e as Error).message.split(". ")[0]
    }\nusage: deno task bench [--json] [--profile] [--repeats N]`,
  );
  Deno.exit(2);
}
const { values } = parsed;
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1) {
  console.error(`bench: --repeats must be a positive integer, got ${values.repeats}`);
  Deno.exit(2);
}
const log = (s: string) => values.json ? undefined : console.log(s);

/** The CorrDiff "mini" U-Net settings (conf/base/model_size/mini.yaml) at 64x64. */
const MINI = {
  img_resolution: [64, 64] as [number, number],
  model_channels: 64,
  channel_mult: [1, 2, 2],
  num_blocks: 4,
  attn_resolutions: [16],
  gridtype: "sinusoidal" as const,
  N_grid_channels: 4,
  embedding_type: "zero" as const,
  dropout: 0,
};

async function median(r: Runtime, fn: () => void, warmUp = true): Promise<number> {
  if (warmUp) {
    fn();
    await r.sync(); // pipeline compilation, pool growth
  }
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    await r.sync();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const r = await initRuntime();
const rng = new Rng(1);
const rand = (shape: number[]) => r.upload(rng.normals(shape.reduce((a, b) => a * b, 1)), shape).keep();
log(`adapter: ${r.gpu.description} (kernel profile ${r.gpu.profile})`);

const reg = new CorrDiffRegressionUNet({ ...MINI, img_in_channels: 9, img_out_channels: 2 }, 1);
log(`regression mini: ${(reg.ps.numParameters / 1e6).toFixed(2)} M parameters`);
const results: Record<string, number | string> = { adapter: r.gpu.description, profile: r.gpu.profile };

if (values.profile) {
  const p = await profileRegression(r, reg, rand);
  if (values.json) console.log(JSON.stringify({ ...results, ...p.json }));
  else console.log(p.table.join("\n"));
  Deno.exit(0);
}

for (const B of [1, 8]) {
  const x = rand([B, 2, 64, 64]), lr = rand([B, 5, 64, 64]);
  // Batch 8 reuses the pipelines compiled at batch 1: no second warm-up pass (each costs seconds here).
  results[`reg_fwd_b${B}_ms`] = await median(
    r,
    () => r.scope(() => void reg.forward(x, lr, { train: false })),
    B === 1,
  );
  log(`regression forward, batch ${B}: ${(results[`reg_fwd_b${B}_ms`] as number).toFixed(1)} ms`);
  if (B === 8) {
    const R = rand([B, 2, 64, 64]);
    reg.ps.setRequiresGrad(true);
    const step = (xs: Tensor, lrs: Tensor, Rs: Tensor) =>
      r.scope(() => {
        const { value, grads } = valueAndGrad(() => sumAll(mul(reg.forward(xs, lrs, { train: true }), Rs)));
        value.release();
        for (const g of grads.values()) g.release();
      });
    // Compile the backward kernels on a batch of one first.
    step(rand([1, 2, 64, 64]), rand([1, 5, 64, 64]), rand([1, 2, 64, 64]));
    await r.sync();
    results.reg_fwdbwd_b8_ms = await median(r, () => step(x, lr, R), false);
    reg.ps.setRequiresGrad(false);
    log(`regression forward+backward, batch 8: ${(results.reg_fwdbwd_b8_ms as number).toFixed(1)} ms`);
  }
}

// One full optimiser step (forward, backward, nan_to_num, Adam) with dropout on, as the reference's
// reg_train_step_b8 / diff_train_step_b8; the peak is the buffer pool's high-water mark plus the arenas
// and the images' textures.
for (const kind of ["regression", "diffusion"] as const) {
  const key = kind === "regression" ? "reg_train_step_b8" : "diff_train_step_b8";
  const b = await benchTrainStep(kind, { ...MINI, dropout: 0.13 }, { repeats });
  results[`${key}_ms`] = b.ms;
  results[`${key}_peak_mb`] = Math.round(b.peakBytes / 2 ** 20);
  results[`${key}_new_buffers`] = b.newBuffers;
  log(
    `${kind} train step, batch 8 (Adam): ${b.ms.toFixed(0)} ms, peak device memory ${
      results[`${key}_peak_mb`]
    } MiB, ${b.newBuffers} buffers created after the first step`,
  );
}

const diff = new EDMPrecondSuperResolution({ ...MINI, img_in_channels: 11, img_out_channels: 2 }, 2);
for (const B of [1, 8]) {
  const x = rand([B, 2, 64, 64]), cond = rand([B, 7, 64, 64]);
  const sigma = new Float32Array(B).fill(1.5);
  results[`diff_fwd_b${B}_ms`] = await median(
    r,
    () => r.scope(() => void diff.forward(x, cond, sigma, { train: false })),
    B === 1,
  );
  log(`diffusion forward, batch ${B}: ${(results[`diff_fwd_b${B}_ms`] as number).toFixed(1)} ms`);
}

// The generate pipeline for one time: the regression mean, the 18-step stochastic sampler (35
// diffusion calls) for a batch of members conditioned on it, the mean added, one read-back. One
// timed run each: the forward passes above compiled every pipeline, and a run at batch 8 takes minutes.
{
  const sampler = samplerSettings({ sampler: { type: "stochastic", num_steps: 18 } });
  const imgLr = { data: rng.normals(5 * 64 * 64), shape: [1, 5, 64, 64] };
  for (const B of [1, 8]) {
    r.pool.resetPeak();
    r.images.resetPeak();
    const t0 = performance.now();
    const mean = r.scope(() => regressionMean(reg, r.upload(imgLr.data, imgLr.shape))).keep();
    const step = new DiffusionStep(diff, imgLr, mean, null, sampler);
    const y = r.scope(() => {
      const { latents, randnLike } = seededNoise([...Array(B).keys()], [2, 64, 64], false);
      return addMean(mean, step.sample(latents, randnLike));
    });
    await y.read();
    results[`sampler18_b${B}_ms`] = performance.now() - t0;
    const peak = r.pool.stats().peakBytes + r.images.stats().peakBytes; // buffers and images' textures
    results[`sampler18_b${B}_peak_mb`] = Math.round(peak / 2 ** 20);
    y.release();
    step.dispose();
    mean.release();
    log(
      `stochastic sampler, 18 steps, batch ${B} (with the regression mean): ${
        (results[`sampler18_b${B}_ms`] as number).toFixed(0)
      } ms, peak device memory ${results[`sampler18_b${B}_peak_mb`]} MiB`,
    );
  }
}
reg.ps.dispose();
diff.ps.dispose();

{
  const x = rand([8, 64, 64, 64]), w = rand([64, 64, 3, 3]), b = rand([64]);
  const reps = 10;
  const t = await median(r, () =>
    r.scope(() => {
      for (let i = 0; i < reps; i++) conv2d(x, w, b);
    }));
  results.conv3x3_ms = t / reps;
  results.conv3x3_gflops = (2 * 8 * 64 * 64 * 64 * 64 * 9) / (results.conv3x3_ms * 1e6);
  log(
    `conv 3x3, batch 8, 64->64, 64x64: ${(results.conv3x3_ms as number).toFixed(2)} ms, ${
      (results.conv3x3_gflops as number).toFixed(1)
    } GFLOP/s`,
  );
}
if (values.json) console.log(JSON.stringify(results));

/** Op families of `--profile`, matched on `file.wgsl:entry` labels in this order. */
function families(): [string, (label: string) => boolean][] {
  return [
    // first: its weight-gradient entry would match the direct weight gradient's pattern
    ["conv 3x3 Winograd (transforms, products)", (l) => /^(winograd |conv2d_wino\.wgsl)/.test(l)],
    [
      "conv 3x3 (forward, input-gradient)",
      (l) => l.startsWith("conv2d_k3.wgsl:conv3_forward") || l.startsWith("conv2d_gpu.wgsl:gpu_forward"),
    ],
    ["conv weight-gradient", (l) => /grad_weight/.test(l)],
    ["conv 1x1", (l) => l.startsWith("conv2d_k1.wgsl")],
    ["conv weight re-layout", (l) => l.startsWith("conv2d.wgsl:weight_layout")],
    ["GroupNorm", (l) => l.startsWith("groupnorm.wgsl")],
    ["attention", (l) => l.startsWith("attention.wgsl") || l.startsWith("softmax.wgsl")],
    ["matmul (attention and Linear products)", (l) => l.startsWith("matmul.wgsl")],
    ["optimiser", (l) => l.startsWith("optim.wgsl")],
    ["elementwise", (l) => /^(elementwise|tensor_ops|dropout|patching)\.wgsl/.test(l)],
  ];
}

/**
 * `--profile`: device time per op family of the mini regression U-Net at batch 8, forward alone and
 * forward+backward (timestamp queries around every dispatch; see src/gpu/profiler.ts).
 */
async function profileRegression(
  r: Runtime,
  net: CorrDiffRegressionUNet,
  rand: (shape: number[]) => Tensor,
): Promise<{ table: string[]; json: Record<string, number> }> {
  const x = rand([8, 2, 64, 64]), lr = rand([8, 5, 64, 64]), R = rand([8, 2, 64, 64]);
  const forward = () => r.scope(() => void net.forward(x, lr, { train: false }));
  const both = () =>
    r.scope(() => {
      const { value, grads } = valueAndGrad(() => sumAll(mul(net.forward(x, lr, { train: true }), R)));
      value.release();
      for (const g of grads.values()) g.release();
    });
  const profiler = new DispatchProfiler(r.device);
  const measure = async (fn: () => void): Promise<{ wall: number; families: FamilyTime[] }> => {
    fn(); // compile and warm the pool outside the profile
    await r.sync();
    r.profiler = profiler;
    await profiler.reset();
    const t0 = performance.now();
    fn();
    await r.sync();
    const wall = performance.now() - t0;
    r.profiler = null;
    return { wall, families: groupByFamily(await profiler.totals(), families()) };
  };
  const fwd = await measure(forward);
  net.ps.setRequiresGrad(true);
  const fb = await measure(both);
  net.ps.setRequiresGrad(false);
  const json: Record<string, number> = {};
  const table: string[] = [];
  for (
    const [name, m] of [["regression forward, batch 8", fwd], [
      "regression forward+backward, batch 8",
      fb,
    ]] as const
  ) {
    const total = m.families.reduce((a, f) => a + f.ms, 0);
    table.push(
      `${name}: ${m.wall.toFixed(0)} ms wall (profiled), ${total.toFixed(0)} ms in kernels`,
      ...m.families.map((f) =>
        `  ${f.family.padEnd(36)} ${f.ms.toFixed(1).padStart(9)} ms ${
          (100 * f.ms / total).toFixed(1).padStart(5)
        }%  ${f.dispatches} dispatches`
      ),
    );
    const key = name.includes("backward") ? "reg_fwdbwd_b8" : "reg_fwd_b8";
    json[`${key}_wall_ms`] = m.wall;
    for (const f of m.families) {
      json[`${key}_${f.family.replace(/[^a-z0-9]+/gi, "_").replace(/_$/, "")}_ms`] = f.ms;
    }
  }
  return { table, json };
}
