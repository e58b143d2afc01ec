/**
 * Data-parallel training over MPI on this machine (two ranks, loopback only): with dropout off, two
 * ranks that each take half of every global batch end with the weights and Adam moments of one
 * process taking the whole batch, within float32 summation-order rounding; a resumed two-rank run
 * continues the same training; a rank that fails ends the job instead of leaving the other waiting.
 * Ignored, with the reason in the name, where mpirun or the MPI library is missing.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../helpers/assert.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { train } from "../../src/train/train.ts";
import { tempDir, TINY_DATA, TINY_MODEL, tinyConfig } from "../train/tiny.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const LR = 1e-3;
const COMMON = [
  "++model.model_args.dropout=0",
  "training.hp.total_batch_size=4",
  `training.hp.lr=${LR}`,
  "training.io.print_progress_freq=4",
  "training.io.save_checkpoint_freq=8",
  "training.io.validation_steps=0",
];

/** Why the test cannot run here, or null. */
async function missing(): Promise<string | null> {
  try {
    const out = await new Deno.Command("mpirun", { args: ["--version"], stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) return "mpirun --version failed";
  } catch {
    return "mpirun not found (apt-get install openmpi-bin)";
  }
  // In a child process, so that this one never loads libmpi.
  const probe = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `import { Mpi } from "${new URL("../../src/dist/mpi.ts", import.meta.url)}"; Mpi.load();`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!probe.success) {
    const text = new TextDecoder().decode(probe.stderr);
    return /no MPI library found[^\n]*/.exec(text)?.[0] ??
      `the MPI library does not load: ${text.trim().split("\n")[0]}`;
  }
  return null;
}

/** `mpirun -np 2 deno run -A src/cli/train.ts <args>` on loopback; resolves to its exit and output. */
async function mpirunTrain(args: string[]): Promise<{ code: number; text: string }> {
  const env: Record<string, string> = {};
  if (Deno.uid() === 0) {
    Object.assign(env, { OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" });
  }
  const out = await new Deno.Command("mpirun", {
    args: [
      "--oversubscribe",
      // Unbound: pinning each rank to one core starves its llvmpipe threads on a CPU adapter.
      "--bind-to",
      "none",
      "--mca",
      "btl",
      "self,tcp",
      "--mca",
      "btl_tcp_if_include",
      "lo",
      "--mca",
      "oob_tcp_if_include",
      "lo",
      "-np",
      "2",
      Deno.execPath(),
      "run",
      "-A",
      join(ROOT, "src/cli/train.ts"),
      "--config-name=config_training_synthetic_regression.yaml",
      ...args,
    ],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(600_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** Per float tensor of two safetensors files: the largest |a - b|, the sum of squares, the largest |b|. */
function differences(
  a: string,
  b: string,
): Map<string, { diff: number; sumSq: number; count: number; scale: number }> {
  const fa = readSafetensors(a), fb = readSafetensors(b);
  assertEquals([...fa.tensors.keys()].sort(), [...fb.tensors.keys()].sort());
  const out = new Map<string, { diff: number; sumSq: number; count: number; scale: number }>();
  for (const [k, t] of fa.tensors) {
    const u = fb.tensors.get(k)!;
    if (!(t.data instanceof Float32Array) || !(u.data instanceof Float32Array)) continue;
    let diff = 0, sumSq = 0, scale = 0;
    for (let i = 0; i < t.data.length; i++) {
      const d = t.data[i] - u.data[i];
      diff = Math.max(diff, Math.abs(d));
      sumSq += d * d;
      scale = Math.max(scale, Math.abs(u.data[i]));
    }
    out.set(k, { diff, sumSq, count: t.data.length, scale });
  }
  return out;
}

const reason = await missing();

Deno.test({
  name: `2 MPI ranks train the same weights as 1 process with the same global batch${
    reason ? ` [${reason}]` : ""
  }`,
  ignore: reason !== null,
  sanitizeResources: false,
  fn: async () => {
    const dir = tempDir("mpi");
    const cli = [...TINY_DATA, ...TINY_MODEL, ...COMMON, `training.io.checkpoint_dir=${join(dir, "two")}`];
    // Two steps, a checkpoint at 8 samples; then a second launch resumes there for a third step.
    const first = await mpirunTrain([...cli, "training.hp.training_duration=8"]);
    assert(first.code === 0, `2-rank run failed:\n${first.text}`);
    assert(first.text.includes("data parallel over 2 processes"), first.text);
    const second = await mpirunTrain([...cli, "training.hp.training_duration=12"]);
    assert(second.code === 0, `resumed 2-rank run failed:\n${second.text}`);
    assert(second.text.includes("resuming from") && second.text.includes("(8 samples"), second.text);

    const one = await train({
      log: () => {},
      progress: false,
      config: tinyConfig("regression", join(dir, "one"), [...COMMON, "training.hp.training_duration=12"]),
    });
    assertEquals(one.samples, 12);

    const ck = (who: string, f: string) => join(dir, who, "checkpoints_regression", f);
    let worstW = 0, worstRms = 0, worstM = 0;
    for (const n of [8, 12]) {
      const move = LR * (n / 4); // Adam moves a weight by at most about lr per step
      // Rounding differences move every weight by a tiny fraction of that. Adam turns the rounding noise of
      // a gradient that is ~0 (the attention keys' bias, say) into steps of up to ~0.1 lr, hence the loose
      // bound per weight and the tight one on the RMS over all weights.
      let sq = 0, count = 0;
      const weights = (who: string) => ck(who, `CorrDiffRegressionUNet.0.${n}.safetensors`);
      for (const [k, d] of differences(weights("two"), weights("one"))) {
        worstW = Math.max(worstW, d.diff);
        assert(d.diff <= 0.1 * move, `${k} after ${n} samples: |2 ranks - 1| = ${d.diff}`);
        sq += d.sumSq;
        count += d.count;
      }
      const rms = Math.sqrt(sq / count);
      worstRms = Math.max(worstRms, rms);
      assert(rms <= 1e-3 * move, `RMS weight difference after ${n} samples: ${rms}`);
      // The moments hold the (averaged) gradients themselves: a missing 1/N or a rank's missing share
      // would change them by O(1).
      const states = (who: string) => ck(who, `checkpoint.0.${n}.safetensors`);
      for (const [k, d] of differences(states("two"), states("one"))) {
        worstM = Math.max(worstM, d.diff / (d.scale || 1));
        assert(d.diff <= 1e-3 * d.scale, `${k} after ${n} samples: |2 ranks - 1| = ${d.diff} of ${d.scale}`);
      }
      const state = (who: string) => {
        const f = readSafetensors(ck(who, `checkpoint.0.${n}.safetensors`));
        const s = JSON.parse(f.metadata.training_state);
        const order = f.tensors.get("data_order")!.data as BigInt64Array;
        return { curNimg: s.curNimg, step: s.step, samplerIdx: s.samplerIdx, order: [...order].join(",") };
      };
      assertEquals(state("two"), state("one"), `training state after ${n} samples`);
    }
    // The logged losses (averaged over the ranks) agree too.
    const losses = (who: string) =>
      Deno.readTextFileSync(ck(who, "metrics.jsonl")).trim().split("\n").map((l) => JSON.parse(l))
        .filter((r) => r.kind === "train").map((r) => [r.samples, r.loss]);
    const [l2, l1] = [losses("two"), losses("one")];
    assertEquals(l2.map((x) => x[0]), l1.map((x) => x[0]));
    l2.forEach(([s, v], i) =>
      assert(Math.abs(v - l1[i][1]) <= 1e-5 * Math.abs(l1[i][1]), `loss at ${s}: ${v} vs ${l1[i][1]}`)
    );
    const e = (x: number) => x.toExponential(2);
    console.log(
      `2 ranks vs 1 (lr ${LR}, 3 steps): max |dw| ${e(worstW)}, RMS dw ${e(worstRms)}, ` +
        `max moment difference / tensor scale ${e(worstM)}`,
    );
    Deno.removeSync(dir, { recursive: true });
  },
});

Deno.test({
  name: `a failing rank ends the whole MPI job with one line${reason ? ` [${reason}]` : ""}`,
  ignore: reason !== null,
  fn: async () => {
    const dir = tempDir("mpi-fail");
    // 3 samples cannot be split over 2 ranks: every rank fails, and none is left waiting.
    const run = await mpirunTrain([
      ...TINY_DATA,
      ...TINY_MODEL,
      "training.hp.total_batch_size=3",
      `training.io.checkpoint_dir=${dir}`,
    ]);
    assert(run.code !== 0, run.text);
    assert(run.text.includes("train: error (rank") && run.text.includes("times the 2 processes"), run.text);
    Deno.removeSync(dir, { recursive: true });
  },
});
