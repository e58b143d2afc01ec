/**
 * Resuming: from a PhysicsNeMo training directory (the reference's own files, copied from
 * ../shared/golden/checkpoints into tests/fixtures/checkpoints), after a SIGKILL in the middle of a
 * checkpoint save, and the clear errors for checkpoints that cannot be resumed.
 */
import { join } from "node:path";
import { train } from "../../src/train/train.ts";
import { listCheckpoints, loadTrainState } from "../../src/train/checkpoint.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { tempDir, TINY_DATA, TINY_MODEL, tinyConfig } from "./tiny.ts";
import { resolveConfig } from "../../src/config/mod.ts";

const quiet = { log: () => {}, progress: false } as const;
const FIXTURES = new URL("../fixtures/checkpoints/", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/** The reference fixtures' networks: 16x24, 3 inputs (u10m, v10m, orography), 2 outputs, 4 channels. */
function fixtureConfig(kind: "regression" | "diffusion", dir: string, extra: string[] = []) {
  return resolveConfig({
    configName: `config_training_synthetic_${kind}`,
    overrides: [
      "dataset.image_shape=[16,24]",
      "dataset.num_samples=16",
      "++model.model_args.model_channels=4",
      "++model.model_args.channel_mult=[1,2]",
      "++model.model_args.attn_resolutions=[8]",
      "++model.model_args.num_blocks=1",
      `training.io.checkpoint_dir=${dir}`,
      "training.hp.total_batch_size=2",
      "training.hp.training_duration=8",
      ...extra,
    ],
  });
}

Deno.test("training continues a PhysicsNeMo checkpoint directory with its Adam state", async () => {
  const dir = tempDir("pnemo");
  Deno.mkdirSync(join(dir, "checkpoints_regression"));
  for (const f of ["CorrDiffRegressionUNet.0.4.mdlus", "checkpoint.0.4.pt"]) {
    Deno.copyFileSync(join(FIXTURES, "checkpoints_regression", f), join(dir, "checkpoints_regression", f));
  }
  const lines: string[] = [];
  const sm = await train({
    log: (l) => lines.push(l),
    progress: false,
    config: fixtureConfig("regression", dir),
  });
  assertEquals(sm.resumedFrom, 4);
  assertEquals(sm.steps, 2);
  assert(lines.some((l) => l.includes("checkpoint.0.4.pt") && l.includes("Adam step 2")), lines.join("\n"));
  const last = listCheckpoints(sm.checkpointDir).at(-1)!;
  assertEquals(loadTrainState(last.state).state.step, 4); // 2 reference steps + 2 of ours

  // The diffusion directory, on top of the reference's regression checkpoint.
  Deno.mkdirSync(join(dir, "checkpoints_diffusion"));
  for (const f of ["EDMPrecondSuperResolution.0.4.mdlus", "checkpoint.0.4.pt"]) {
    Deno.copyFileSync(join(FIXTURES, "checkpoints_diffusion", f), join(dir, "checkpoints_diffusion", f));
  }
  const reg = join(FIXTURES, "checkpoints_regression", "CorrDiffRegressionUNet.0.4.mdlus");
  const d = await train({
    ...quiet,
    config: fixtureConfig("diffusion", dir, [`training.io.regression_checkpoint_path=${reg}`]),
  });
  assertEquals([d.resumedFrom, d.samples], [4, 8]);
});

Deno.test("a run killed while writing a checkpoint resumes from the previous one and ends as an unkilled run", async () => {
  const base = tempDir("kill");
  const args = [
    "run",
    "-A",
    join(ROOT, "src/cli/train.ts"),
    "--config-name=config_training_synthetic_regression",
    ...TINY_DATA,
    ...TINY_MODEL,
    "training.hp.total_batch_size=4",
    "training.hp.training_duration=24",
    "training.io.save_checkpoint_freq=8",
    "training.io.print_progress_freq=4",
    `training.io.checkpoint_dir=${base}/killed`,
  ];
  const killed = await new Deno.Command(Deno.execPath(), {
    args,
    env: { CORRDIFF_FAILPOINT: "kill-during-save:16" },
    stdout: "null",
    stderr: "null",
  }).output();
  assertEquals(killed.signal, "SIGKILL");
  const dir = join(base, "killed", "checkpoints_regression");
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert(
    names.some((n) => /^checkpoint\.0\.16\.safetensors\.tmp-\d+$/.test(n)),
    `half-written state left: ${names}`,
  );
  assertEquals(listCheckpoints(dir).map((c) => c.nimg), [8]);
  const lines: string[] = [];
  const resumed = await train({
    log: (l) => lines.push(l),
    progress: false,
    config: tinyConfig("regression", join(base, "killed"), [
      "training.hp.training_duration=24",
      "training.io.save_checkpoint_freq=8",
      "training.io.print_progress_freq=4",
    ]),
  });
  assertEquals([resumed.resumedFrom, resumed.samples], [8, 24]);
  assert(lines.some((l) => l.includes(".tmp-")), "the stale temporary is reported");
  assert(![...Deno.readDirSync(dir)].some((e) => e.name.includes(".tmp-")), "the stale temporary is removed");
  const whole = await train({
    ...quiet,
    config: tinyConfig("regression", join(base, "whole"), [
      "training.hp.training_duration=24",
      "training.io.save_checkpoint_freq=8",
      "training.io.print_progress_freq=4",
    ]),
  });
  const a = readSafetensors(join(whole.checkpointDir, "CorrDiffRegressionUNet.0.24.safetensors"));
  const b = readSafetensors(join(resumed.checkpointDir, "CorrDiffRegressionUNet.0.24.safetensors"));
  for (const [k, t] of a.tensors) {
    assertEquals([...b.tensors.get(k)!.data as Float32Array], [...t.data as Float32Array], k);
  }
});

Deno.test("checkpoints that cannot be resumed are clear errors, never a fresh start", async () => {
  const dir = tempDir("bad");
  const cfg = (extra: string[] = []) =>
    tinyConfig("regression", dir, ["training.hp.training_duration=8", ...extra]);
  const sm = await train({ ...quiet, config: cfg() });
  const ck = listCheckpoints(sm.checkpointDir).at(-1)!;

  // Another architecture in the config.
  await assertRejects(
    () => train({ ...quiet, config: cfg(["++model.model_args.model_channels=16"]) }),
    Error,
    "model_channels: checkpoint 8, config 16",
  );

  // A damaged state file.
  const bytes = Deno.readFileSync(ck.state);
  Deno.writeFileSync(ck.state, bytes.subarray(0, bytes.length >> 1));
  const e = await assertRejects(
    () => train({ ...quiet, config: cfg(["training.hp.training_duration=16"]) }),
    Error,
    ck.state,
  );
  assert(!e.message.includes("\n"), "one line");
  Deno.writeFileSync(ck.state, bytes);

  // A diffusion checkpoint given as the regression one.
  const fake = join(FIXTURES, "diffusion_16x24.mdlus");
  await assertRejects(
    () =>
      train({
        ...quiet,
        config: tinyConfig("diffusion", dir, [`training.io.regression_checkpoint_path=${fake}`]),
      }),
    Error,
    "holds a EDMPrecondSuperResolution, not a regression model",
  );
  // A regression checkpoint of another dataset shape.
  const other = join(FIXTURES, "regression_16x24.mdlus");
  await assertRejects(
    () =>
      train({
        ...quiet,
        config: tinyConfig("diffusion", dir, [`training.io.regression_checkpoint_path=${other}`]),
      }),
    Error,
    "does not fit the dataset",
  );
});

Deno.test("non-finite data and a diverging loss stop with the sample, time or step named", async () => {
  const dir = tempDir("nan");
  const nanDs = join(ROOT, "tests/train/nan_dataset.ts");
  await assertRejects(
    () =>
      train({
        ...quiet,
        config: tinyConfig("regression", dir, [
          `dataset.type=${nanDs}::NanDataset`,
          "++dataset.nan_sample=5",
          "training.hp.training_duration=64",
        ]),
      }),
    Error,
    "sample 5 (time 2000-01-01T05:00:00Z) has 1 non-finite value in its input channels",
  );
  const e = await assertRejects(
    () =>
      train({
        ...quiet,
        config: tinyConfig("regression", dir, [
          "training.hp.lr=1e30",
          "training.hp.training_duration=64",
          "training.io.print_progress_freq=32",
          "training.io.save_checkpoint_freq=16",
        ]),
      }),
    Error,
    "the training loss became non-finite at step",
  );
  assert(
    e.message.includes("checkpoint.0.16.safetensors") || e.message.includes("no checkpoint was written"),
    e.message,
  );
});
