/**
 * The training program (reference: examples/weather/corrdiff/train.py): datasets and networks from
 * a resolved config, auto-resume from the newest checkpoint, then steps until `training_duration`
 * samples, with progress, validation, metrics and checkpoints on the reference's schedule.
 */
import { isAbsolute, resolve } from "node:path";
import type { Config } from "../config/mod.ts";
import { broadcastParams, GradientAverager } from "../dist/grads.ts";
import { SINGLE_PROCESS, type World } from "../dist/world.ts";
import { createTrainValidDatasets, type DownscalingDataset } from "../data/dataset.ts";
import { initRuntime, rt } from "../gpu/runtime.ts";
import { networkClass } from "../nn/checkpoint.ts";
import type { CorrDiffRegressionUNet, EDMPrecondSuperResolution } from "../nn/wrappers.ts";
import { acquireLock } from "../util/lock.ts";
import { Progress } from "../util/progress.ts";
import { Rng } from "../util/rng.ts";
import { Adam } from "./adam.ts";
import { ParamArena } from "./arena.ts";
import { type HostBatch, loadBatch } from "./batch.ts";
import { removeStaleTemporaries, saveCheckpoint, type TrainState } from "./checkpoint.ts";
import { findResumePoint } from "./resume.ts";
import { MetricsLog } from "./metrics.ts";
import { buildTrainee, loadRegressionNet, networkArgs } from "./models.ts";
import { InfiniteSampler } from "./sampler.ts";
import { learningRate, scheduleWarning } from "./schedule.ts";
import { isTimeFor, readTrainSettings, type TrainSettings } from "./settings.ts";
import { lossSetup, recordGradients, recordStep, recordUpdate, type StepContext } from "./step.ts";
import { validate } from "./validate.ts";

/** Options of {@link train}. */
export interface TrainOptions {
  /** The resolved config (see `resolveConfig` / `loadConfigFromArgs`). */
  config: Config;
  /** Directory relative paths in the config resolve against (default: the working directory). */
  baseDir?: string;
  /** Where messages go (default: console.log). */
  log?: (line: string) => void;
  /** Progress display: a bar on a terminal, lines otherwise (default), or none. */
  progress?: boolean;
  /** Stop after this many steps of this session, as if interrupted (tests, notebooks). */
  maxSteps?: number;
  /**
   * The data-parallel processes this run is one of (default: a plain run). Rank 0 alone logs,
   * validates and writes checkpoints and metrics; see `initWorld` in src/dist/world.ts.
   */
  world?: World;
}

/** What a finished (or stopped) run reports. */
export interface TrainSummary {
  /** Training samples seen in all, this session and those before it (`cur_nimg`). */
  samples: number;
  /** Optimiser steps taken in this session. */
  steps: number;
  /** Wall time of this session. */
  seconds: number;
  /** Mean training loss over the last logging interval; null: none logged. */
  lastLoss: number | null;
  /** Lowest validation loss of the run so far; null: never validated. */
  bestValidation: number | null;
  /** The last validation: loss, and per output variable the RMSE of the model and of the upsampled input. */
  lastValidation: { loss: number; rmse: Record<string, number>; inputRmse: Record<string, number> } | null;
  /** Directory of the checkpoints and metrics. */
  checkpointDir: string;
  /** State file of the newest checkpoint; null: none written or resumed from. */
  lastCheckpoint: string | null;
  /** Samples seen when this session started (0: a fresh run). */
  resumedFrom: number;
  /** Trainable parameters of the network. */
  numParameters: number;
}

function shapeOf(ds: DownscalingDataset) {
  const [H, W] = ds.imageShape();
  return { cOut: ds.outputChannels().length, cLr: ds.inputChannels().length, H, W };
}

/** Differences between two constructor-argument sets, as `key: a vs b`. */
function argDiff(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => `${k}: checkpoint ${JSON.stringify(a[k])}, config ${JSON.stringify(b[k])}`);
}

/** Constructor arguments that change the network itself (runtime flags such as amp_mode do not). */
const RUNTIME_ARGS = new Set(["use_fp16", "amp_mode", "checkpoint_level", "use_apex_gn", "profile_mode"]);

/** Defaults the reference applies to arguments a checkpoint or a config may leave out. */
const ARG_DEFAULTS: Record<string, unknown> = {
  model_type: "SongUNetPosEmbd",
  sigma_data: 0.5,
  sigma_min: 0,
  sigma_max: Infinity,
};

function architecture(args: Record<string, unknown>, diffusion: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...args })) if (!RUNTIME_ARGS.has(k)) out[k] = v;
  for (const [k, v] of Object.entries(ARG_DEFAULTS)) {
    if (!(k in out) && (diffusion || !k.startsWith("sigma"))) out[k] = v;
  }
  return out;
}

/** Trains the model a config describes; resumes from the newest checkpoint in its directory. */
export async function train(o: TrainOptions): Promise<TrainSummary> {
  const world = o.world ?? SINGLE_PROCESS;
  const lead = world.rank === 0;
  const log = lead ? o.log ?? ((l: string) => console.log(l)) : () => {};
  const cfg = o.config as Record<string, unknown>;
  const base = o.baseDir ?? Deno.cwd();
  await initRuntime();
  const r = rt();

  const dsCfg = { ...(cfg.dataset as Record<string, unknown>) };
  if (cfg.validation && typeof cfg.validation === "object") dsCfg.validation = cfg.validation;
  const { train: ds, valid } = await createTrainValidDatasets(dsCfg, { baseDir: base });
  const s: TrainSettings = readTrainSettings(o.config, ds.imageShape(), world.size);
  const shape = shapeOf(ds);
  if (s.model.leadTime && ds.length > 0 && (await ds.item(0)).leadTime === undefined) {
    throw new Error(
      `config: model.name '${s.model.name}' is a lead-time model, but dataset.type ${dsCfg.type} gives ` +
        `its samples no lead-time labels (a dataset's item() returns them as leadTime)`,
    );
  }
  for (const k of s.perf.ignored) log(`note: training.perf.${k} does not apply on WebGPU and is ignored`);
  const warn = scheduleWarning(s.hp);
  if (warn) log(`warning: ${warn}`);

  const ckDir = resolve(base, s.io.checkpoint_dir, `checkpoints_${s.model.name}`);
  // One run per checkpoint directory; `using` releases it on return and on any error.
  // (Rank 0's: the other ranks of a data-parallel run only read the directory.)
  using _lock = lead ? acquireLock(ckDir, { purpose: "training", createParent: true }) : null;
  const args = networkArgs(s, ds);
  let net: CorrDiffRegressionUNet | EDMPrecondSuperResolution;
  const stale = lead ? removeStaleTemporaries(ckDir) : [];
  for (const f of stale) log(`removed ${f}, left by a run killed while saving`);
  const resumed = findResumePoint(ckDir);
  if (resumed) {
    const { loaded } = resumed;
    const wantClass = s.model.kind === "regression" ? "CorrDiffRegressionUNet" : "EDMPrecondSuperResolution";
    if (loaded.className !== wantClass) {
      loaded.net.ps.dispose();
      throw new Error(
        `${loaded.path}: holds a ${loaded.className}, but model.name=${s.model.name} trains a ${wantClass}`,
      );
    }
    const isDiff = s.model.kind !== "regression";
    const diff = argDiff(
      architecture(loaded.args, isDiff),
      architecture(args as Record<string, unknown>, isDiff),
    );
    if (diff.length) {
      loaded.net.ps.dispose();
      throw new Error(
        `${loaded.path} does not match the config (${
          diff.join("; ")
        }); use another training.io.checkpoint_dir`,
      );
    }
    net = loaded.net as typeof net;
  } else {
    net = buildTrainee(s, args, s.seed);
  }
  let regressionNet: CorrDiffRegressionUNet | null = null;
  if (s.model.kind !== "regression") {
    if (!s.io.regression_checkpoint_path) {
      throw new Error(
        "config: training.io.regression_checkpoint_path is required to train a diffusion model",
      );
    }
    const p = s.io.regression_checkpoint_path;
    regressionNet = await loadRegressionNet(isAbsolute(p) ? p : resolve(base, p), ds);
  }

  net.model.checkpointLevel = s.perf.checkpointLevel;
  net.ps.setRequiresGrad(true);
  const arena = new ParamArena(net.ps.params);
  const adam = new Adam(arena);
  let sampler = new InfiniteSampler(ds.length, { seed: s.seed });
  const rng = new Rng(s.seed + 1);
  const state: TrainState = {
    curNimg: 0,
    step: 0,
    lr: s.hp.lr,
    sampler: sampler.getState(),
    rng: rng.getState(),
    nonFiniteGrads: 0,
    bestValidation: null,
    wallSeconds: 0,
  };
  if (resumed) {
    const missing = [...net.ps.params.keys()].filter((k) =>
      !resumed.expAvg.has(k) || !resumed.expAvgSq.has(k)
    );
    if (missing.length) {
      throw new Error(`${resumed.statePath}: no Adam moments for ${missing.slice(0, 3).join(", ")}`);
    }
    Object.assign(state, resumed.state);
    arena.write("expAvg", resumed.expAvg);
    arena.write("expAvgSq", resumed.expAvgSq);
    adam.step = state.step;
    adam.setCounters(state.nonFiniteGrads);
    if (resumed.origin === "ours") {
      sampler.setState(state.sampler);
      rng.setState(state.rng);
    } else {
      // As train.py resumes: a fresh data order entered at cur_nimg.
      sampler = new InfiniteSampler(ds.length, { seed: s.seed, startIdx: state.curNimg });
      state.sampler = sampler.getState();
    }
    log(`resuming from ${resumed.statePath} (${state.curNimg} samples, Adam step ${state.step})`);
  }
  const resumedFrom = state.curNimg;
  const wallBefore = state.wallSeconds;
  let averager: GradientAverager | null = null;
  if (world.size > 1) {
    // Every rank must continue the same run: a checkpoint directory that is not shared would not be.
    const at = new Float64Array([resumedFrom, -resumedFrom]);
    world.allreduce(at, "max");
    if (at[0] !== -at[1]) {
      throw new Error(
        `the ranks resume from different checkpoints (${-at[1]} to ${at[0]} samples): ` +
          `${ckDir} must be the same directory for every rank`,
      );
    }
    await broadcastParams(arena, world);
    averager = new GradientAverager(arena, world);
  }
  const metrics = lead ? new MetricsLog(ckDir, resumedFrom) : null;
  const ctx: StepContext = {
    settings: s,
    loss: lossSetup(s, net, regressionNet),
    net,
    regressionNet,
    arena,
    adam,
    rng,
    shape,
    replica: { rank: world.rank, size: world.size },
  };
  const cls = networkClass(net).name;
  log(
    `training ${cls} (${arena.numParameters.toLocaleString("en")} parameters) on ${ds.length} samples of ` +
      `${shape.H}x${shape.W}, ${shape.cLr} -> ${shape.cOut} channels; batch ${s.hp.total_batch_size} ` +
      `(${s.hp.rounds} x ${s.hp.batch_size_per_gpu})${
        s.hp.patch ? `, ${s.hp.patch.num} patches of ${s.hp.patch.Hp}x${s.hp.patch.Wp}` : ""
      }${leadTimeNote(net)}; ` +
      `${s.hp.training_duration} samples; checkpoints in ${ckDir}`,
  );
  if (world.size > 1) {
    log(
      `data parallel over ${world.description}: ${s.hp.rounds} x ${s.hp.batch_size_per_gpu} samples per ` +
        `rank and step, ${(averager!.bytes / 2 ** 20).toFixed(1)} MiB of gradients averaged per step`,
    );
  }

  // Launchers hand ranks a pseudo-terminal even when the job's output goes to a file: lines, not a bar.
  const tty = world.size === 1 && Deno.stdout.isTerminal();
  const progress = o.progress === false || !lead
    ? null
    : new Progress(s.hp.training_duration, { unit: "samples", start: state.curNimg, tty });
  const say = (l: string) => progress ? progress.log(l) : log(l);
  const total = s.hp.total_batch_size;
  let steps = 0, lastLoss: number | null = null, stepsSinceRead = 0;
  let lastValidation: TrainSummary["lastValidation"] = null;
  let lastCheckpoint: string | null = resumed?.statePath ?? null;
  let inFlight: Promise<void> | null = null;
  const t0 = performance.now();
  let done = state.curNimg >= s.hp.training_duration;
  const extra = () =>
    `loss ${lastLoss === null ? "--" : lastLoss.toPrecision(4)} | lr ${state.lr.toExponential(2)}`;

  while (!done && (o.maxSteps === undefined || steps < o.maxSteps)) {
    // The global batch in the reference's order; rank r takes its samples r, r + N, r + 2N, ... as the
    // reference's per-rank sampler does, and every rank's sampler state stays the same (one checkpoint fits all).
    const global = Array.from({ length: total }, () => sampler.next());
    const mine = global.filter((_, i) => i % world.size === world.rank);
    const batches: HostBatch[] = [];
    for (let k = 0; k < s.hp.rounds; k++) {
      const per = s.hp.batch_size_per_gpu;
      batches.push(await loadBatch(ds, mine.slice(k * per, (k + 1) * per)));
    }
    state.lr = learningRate(state.lr, state.curNimg, s.hp);
    if (averager) {
      // Each rank's own noise for this step, from the shared generator (whose state checkpoints save).
      ctx.rng = new Rng(rng.nextU32() ^ Math.imul(world.rank + 1, 0x9e3779b9));
      recordGradients(ctx, batches, adam.step + 1);
      await averager.average();
      recordUpdate(ctx, state.lr);
    } else {
      recordStep(ctx, batches, state.lr, adam.step + 1);
    }
    r.flush();
    // At most two steps in flight: waiting for the previous one overlaps the current one's work.
    const prev = inFlight;
    inFlight = r.device.queue.onSubmittedWorkDone();
    if (prev) await prev;
    steps++;
    stepsSinceRead++;
    state.step = adam.step;
    state.curNimg += total;
    done = state.curNimg >= s.hp.training_duration;

    if (isTimeFor(state.curNimg, s.io.print_progress_freq, total, done)) {
      const st = await adam.readStats();
      if (world.size > 1) {
        // The loss averaged over the ranks; a non-finite loss on any rank stops them all.
        const v = new Float64Array([st.lossSum / world.size, st.firstBadLossStep || Infinity]);
        world.allreduce(v.subarray(0, 1), "sum");
        world.allreduce(v.subarray(1), "min");
        st.lossSum = v[0];
        st.firstBadLossStep = Number.isFinite(v[1]) ? v[1] : 0;
      }
      if (st.firstBadLossStep > 0) {
        throw new Error(
          `the training loss became non-finite at step ${st.firstBadLossStep}; ` +
            (lastCheckpoint
              ? `the last good checkpoint is ${lastCheckpoint}`
              : "no checkpoint was written yet"),
        );
      }
      lastLoss = st.lossSum / stepsSinceRead;
      stepsSinceRead = 0;
      state.nonFiniteGrads = st.nonFiniteGrads;
      metrics?.add({
        kind: "train",
        samples: state.curNimg,
        step: state.step,
        loss: lastLoss,
        lr: state.lr,
        grad_norm: st.gradNorm,
        nonfinite_grads: st.nonFiniteGrads,
        seconds: (performance.now() - t0) / 1000,
      });
      if (!progress || !tty) {
        progress?.update(
          state.curNimg,
          extra() + ` | grad norm ${st.gradNorm.toPrecision(3)}` +
            (st.nonFiniteGrads ? ` | non-finite grads ${st.nonFiniteGrads}` : ""),
          true,
        );
        if (!progress) log(`${state.curNimg} samples | ${extra()}`);
      }
    }
    progress?.update(state.curNimg, extra());

    const validating = lead && valid && s.io.validation_steps > 0;
    if (validating && isTimeFor(state.curNimg, s.io.validation_freq, total, done)) {
      const v = await validate(ctx, valid, s.io.validation_steps);
      lastValidation = { loss: v.loss, rmse: v.rmse, inputRmse: v.inputRmse };
      if (state.bestValidation === null || v.loss < state.bestValidation) state.bestValidation = v.loss;
      metrics?.add({
        kind: "validation",
        samples: state.curNimg,
        step: state.step,
        loss: v.loss,
        rmse: v.rmse,
        input_rmse: v.inputRmse,
      });
      const rm = Object.entries(v.rmse).map(([k, x]) =>
        `${k} RMSE ${x.toPrecision(4)}` +
        (k in v.inputRmse ? ` vs ${v.inputRmse[k].toPrecision(4)} for the upsampled input` : "")
      ).join(", ");
      say(`validation at ${state.curNimg} samples: loss ${v.loss.toPrecision(4)}${rm ? ` (${rm})` : ""}`);
    }

    if (lead && isTimeFor(state.curNimg, s.io.save_checkpoint_freq, total, done)) {
      state.sampler = sampler.getState();
      state.rng = rng.getState();
      state.wallSeconds = wallBefore + (performance.now() - t0) / 1000;
      const [expAvg, expAvgSq] = [await arena.read("expAvg"), await arena.read("expAvgSq")];
      const files = await saveCheckpoint(
        ckDir,
        net,
        cls,
        { expAvg, expAvgSq },
        state,
        o.config,
        s.io.save_n_recent_checkpoints,
      );
      lastCheckpoint = files.state;
      await metrics!.plot(`${cls} on ${ds.length} samples`).catch((e) =>
        say(`loss curve not drawn: ${(e as Error).message}`)
      );
    }
  }
  if (inFlight) await inFlight;
  progress?.done();
  if (averager && averager.times.calls > 0) {
    const t = averager.times, ms = (x: number) => (1000 * x / t.calls).toFixed(1);
    const read = ms(t.readSeconds), reduce = ms(t.allreduceSeconds), upload = ms(t.uploadSeconds);
    log(
      `gradient averaging per step (after the first): ${read} ms waiting for the backward pass and reading back, ` +
        `${reduce} ms MPI_Allreduce, ${upload} ms upload`,
    );
  }
  const summary: TrainSummary = {
    samples: state.curNimg,
    steps,
    seconds: (performance.now() - t0) / 1000,
    lastLoss,
    bestValidation: state.bestValidation,
    lastValidation,
    checkpointDir: ckDir,
    lastCheckpoint,
    resumedFrom,
    numParameters: arena.numParameters,
  };
  averager?.dispose();
  adam.dispose();
  arena.dispose();
  regressionNet?.ps.dispose();
  ds.close?.();
  valid?.close?.();
  return summary;
}

/** The summary as the lines printed at the end of `deno task train`. */
export function formatSummary(sm: TrainSummary): string[] {
  const lines = [
    `done: ${sm.samples} samples (${sm.steps} steps this session${
      sm.resumedFrom ? `, resumed at ${sm.resumedFrom}` : ""
    }) ` +
    `in ${sm.seconds.toFixed(1)} s`,
    `last training loss ${sm.lastLoss?.toPrecision(4) ?? "--"}; best validation loss ${
      sm.bestValidation?.toPrecision(4) ?? "-- (no validation section)"
    }`,
  ];
  if (sm.lastValidation && Object.keys(sm.lastValidation.rmse).length) {
    const base = sm.lastValidation.inputRmse;
    lines.push(
      `last validation RMSE: ${
        Object.entries(sm.lastValidation.rmse).map(([k, v]) =>
          `${k} ${v.toPrecision(4)}` + (k in base ? ` (upsampled input: ${base[k].toPrecision(4)})` : "")
        ).join(", ")
      }`,
    );
  }
  lines.push(`checkpoints, metrics.jsonl and loss_curve.svg/png in ${sm.checkpointDir}`);
  if (sm.lastCheckpoint) lines.push(`last checkpoint: ${sm.lastCheckpoint}`);
  return lines;
}

/** ", lead-time model (N lead times[, cross entropy on channels ...])" for the start-up line. */
function leadTimeNote(net: CorrDiffRegressionUNet | EDMPrecondSuperResolution): string {
  const lt = net.model.ltEmbd;
  if (!lt) return "";
  const prob = net.model.probChannels;
  return `, lead-time model (${lt.shape[0]} lead times${
    prob.length ? `, probability channels ${prob.join(", ")}` : ""
  })`;
}
