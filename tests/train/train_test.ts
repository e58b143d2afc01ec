/**
 * The training program end to end on tiny models: the loss falls, a resumed run equals an
 * uninterrupted one bit for bit, and a diffusion model trains on a frozen regression checkpoint.
 */
import { join } from "node:path";
import { train } from "../../src/train/train.ts";
import { listCheckpoints } from "../../src/train/checkpoint.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { assert, assertClose, assertEquals } from "../helpers/assert.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { valueAndGrad } from "../../src/gpu/autograd.ts";
import { full, sumAll } from "../../src/ops/elementwise.ts";
import { regressionLoss } from "../../src/diffusion/losses.ts";

import { ParamArena } from "../../src/train/arena.ts";
import { Adam } from "../../src/train/adam.ts";
import { Rng } from "../../src/util/rng.ts";
import { tempDir, tinyConfig, tinyRegressionNet } from "./tiny.ts";

const quiet = { log: () => {}, progress: false } as const;

function losses(dir: string): string[] {
  return Deno.readTextFileSync(join(dir, "metrics.jsonl")).trim().split("\n").map((l) => {
    const r = JSON.parse(l);
    return `${r.kind}@${r.samples}:${r.loss}`;
  });
}

function weightsEqual(a: string, b: string): void {
  const fa = readSafetensors(a), fb = readSafetensors(b);
  assertEquals([...fa.tensors.keys()], [...fb.tensors.keys()]);
  for (const [k, t] of fa.tensors) {
    const u = fb.tensors.get(k)!;
    const x = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const y = new Uint8Array(u.data.buffer, u.data.byteOffset, u.data.byteLength);
    assert(x.length === y.length && x.every((v, i) => v === y[i]), `tensor ${k} differs`);
  }
}

Deno.test("regression training drives the validation loss well below its start", async () => {
  const dir = tempDir("reg");
  const sm = await train({
    ...quiet,
    config: tinyConfig("regression", dir, [
      "training.hp.training_duration=800",
      "training.hp.lr=0.002",
      "training.io.print_progress_freq=40",
      "training.io.validation_freq=40",
      "training.io.validation_steps=2",
      "training.io.save_checkpoint_freq=400",
    ]),
  });
  assertEquals(sm.samples, 800);
  assertEquals(sm.steps, 200);
  const v = Deno.readTextFileSync(join(sm.checkpointDir, "metrics.jsonl")).trim().split("\n").map((l) =>
    JSON.parse(l)
  )
    .filter((r) => r.kind === "validation");
  assertEquals(v.length, 20);
  // Measured: about 315 after 10 steps, 56 after 200.
  assert(v[19].loss < 0.3 * v[0].loss, `validation loss ${v[0].loss} -> ${v[19].loss}`);
  assert(Number.isFinite(v[19].rmse.u10m) && v[19].rmse.u10m > 0, "RMSE in physical units");
  assertEquals(listCheckpoints(sm.checkpointDir).map((c) => c.nimg), [400, 800]);
  for (const f of ["loss_curve.svg", "loss_curve.png"]) {
    assert(Deno.statSync(join(sm.checkpointDir, f)).size > 1000);
  }
});

Deno.test("a stopped and resumed run equals an uninterrupted one, bit for bit (losses and weights)", async () => {
  const common = [
    "training.hp.training_duration=40",
    "training.io.print_progress_freq=4",
    "training.io.save_checkpoint_freq=16",
    "training.io.validation_freq=1000",
  ];
  const a = tempDir("whole"), b = tempDir("resumed");
  const whole = await train({ ...quiet, config: tinyConfig("regression", a, common) });
  const first = await train({ ...quiet, config: tinyConfig("regression", b, common), maxSteps: 5 });
  assertEquals(first.samples, 20);
  const second = await train({ ...quiet, config: tinyConfig("regression", b, common) });
  assertEquals(second.resumedFrom, 16);
  assertEquals(second.samples, 40);
  assertEquals(losses(second.checkpointDir), losses(whole.checkpointDir));
  weightsEqual(
    join(whole.checkpointDir, "CorrDiffRegressionUNet.0.40.safetensors"),
    join(second.checkpointDir, "CorrDiffRegressionUNet.0.40.safetensors"),
  );
  weightsEqual(
    join(whole.checkpointDir, "checkpoint.0.40.safetensors"),
    join(second.checkpointDir, "checkpoint.0.40.safetensors"),
  );
});

Deno.test("diffusion and patched diffusion train on a frozen regression checkpoint", async () => {
  const dir = tempDir("diff");
  const reg = await train({
    ...quiet,
    config: tinyConfig("regression", dir, ["training.hp.training_duration=16"]),
  });
  const common = [
    `training.io.regression_checkpoint_path=${reg.checkpointDir}`,
    "training.hp.lr=0.002",
    "training.io.print_progress_freq=80",
    "training.io.validation_freq=80",
    "training.io.validation_steps=2",
  ];
  const diff = await train({
    ...quiet,
    config: tinyConfig("diffusion", dir, [...common, "training.hp.training_duration=320"]),
  });
  const v = Deno.readTextFileSync(join(diff.checkpointDir, "metrics.jsonl")).trim().split("\n").map((l) =>
    JSON.parse(l)
  )
    .filter((r) => r.kind === "validation");
  assert(v.at(-1).loss < 0.8 * v[0].loss, `diffusion validation loss ${v[0].loss} -> ${v.at(-1).loss}`);
  assert(
    listCheckpoints(diff.checkpointDir).at(-1)!.network.endsWith(
      "EDMPrecondSuperResolution.0.320.safetensors",
    ),
  );

  // Patched: 8x8 patches, 4 per sample, at most 4 patches per forward -> 4 chunks of 1 per batch of 4.
  const patched = await train({
    ...quiet,
    config: tinyConfig("diffusion", dir, [
      ...common,
      "model=patched_diffusion",
      "++model.model_args.N_grid_channels=4",
      "training.hp.training_duration=8",
      "training.hp.patch_shape_x=8",
      "training.hp.patch_shape_y=8",
      "training.hp.patch_num=4",
      "++training.hp.max_patch_per_gpu=4",
    ]),
  });
  assertEquals(patched.samples, 8);
  assert(patched.lastLoss !== null && Number.isFinite(patched.lastLoss), "patched loss is finite");
  assert(patched.checkpointDir.endsWith("checkpoints_patched_diffusion"));
});

Deno.test("gradient accumulation: 2 rounds of 2 samples step like 1 round of 4 (dropout off)", async () => {
  const run = async (perGpu: number) => {
    const dir = tempDir(`acc${perGpu}`);
    const sm = await train({
      ...quiet,
      config: tinyConfig("regression", dir, [
        "training.hp.training_duration=8",
        `training.hp.batch_size_per_gpu=${perGpu}`,
        "++model.model_args.dropout=0",
        "training.io.print_progress_freq=4",
      ]),
    });
    const rec = Deno.readTextFileSync(join(sm.checkpointDir, "metrics.jsonl")).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    return {
      weights: readSafetensors(join(sm.checkpointDir, "CorrDiffRegressionUNet.0.8.safetensors")),
      losses: rec.map((r) => r.loss),
    };
  };
  const one = await run(4), two = await run(2);
  // The logged loss is the per-sample mean either way; the gradient of 2 rounds is twice as large
  // (train.py sums rounds), which Adam's normalisation cancels up to eps.
  two.losses.forEach((l: number, i: number) =>
    assert(Math.abs(l - one.losses[i]) <= 1e-5 * Math.abs(one.losses[i]), `loss ${l} vs ${one.losses[i]}`)
  );
  // The weights are not compared: Adam cancels the factor 2 only up to eps, and at the start many
  // gradients are near eps (the zero-initialised convolutions scale them by 1e-5). The gradients
  // themselves are compared in the next test.
  assert(one.weights.tensors.size === two.weights.tensors.size);
});

Deno.test("gradient accumulation sums the rounds' gradients in the arena (train.py: L = sum / batch_size_per_gpu)", async () => {
  const r = await initRuntime();
  const rng = new Rng(1);
  const y = rng.normals(4 * 2 * 256), x = rng.normals(4 * 3 * 256);
  const arenaGrads = async (rounds: number) => {
    const net = tinyRegressionNet(5, 0);
    net.ps.setRequiresGrad(true);
    const arena = new ParamArena(net.ps.params);
    const adam = new Adam(arena);
    const per = 4 / rounds;
    for (let k = 0; k < rounds; k++) {
      r.scope(() => {
        const yt = r.upload(y.slice(k * per * 512, (k + 1) * per * 512), [per, 2, 16, 16]);
        const xt = r.upload(x.slice(k * per * 768, (k + 1) * per * 768), [per, 3, 16, 16]);
        const { grads } = valueAndGrad(
          () => sumAll(regressionLoss(net, yt, xt, { train: true })),
          () => full([1], 1 / per),
        );
        arena.gatherGrads(grads, k === 0, adam.accumulate);
      });
    }
    const g = await arena.read("grad");
    adam.dispose();
    arena.dispose();
    return g;
  };
  const one = await arenaGrads(1), two = await arenaGrads(2);
  for (const [k, g] of one) {
    const doubled = g.map((v) => 2 * v);
    const scale = Math.max(...g.map(Math.abs), 1e-30);
    assertClose(two.get(k)!, doubled, 1e-5 * scale, 1e-4, k);
  }
});
