/**
 * The `training:` and `model:` sections of a resolved config, read once into typed settings with
 * one-line errors naming the key at fault (reference section 7.1 for the keys and defaults).
 */
import type { Config } from "../config/mod.ts";
import type { LrSchedule } from "./schedule.ts";

/** Model kinds the trainer builds (train.py's `cfg.model.name`, the lead-time ones by their kind). */
export type ModelName = "regression" | "diffusion" | "patched_diffusion";

/** The lead-time models train.py trains, by the kind each one is (their U-Net is SongUNetPosLtEmbd). */
const LEAD_TIME_KINDS: Record<string, ModelName> = {
  lt_aware_regression: "regression",
  lt_aware_ce_regression: "regression",
  lt_aware_patched_diffusion: "patched_diffusion",
};

/** Everything the training loop reads from the config. */
export interface TrainSettings {
  /** The `model:` section: kind, mean conditioning and the network's constructor arguments (`model_args`). */
  model: {
    /** `model.name` as configured (it names the checkpoint directory). */
    name: string;
    /** What is trained: the regression net, or a (patched) diffusion net. */
    kind: ModelName;
    /** A lead-time model: its samples carry lead-time labels. */
    leadTime: boolean;
    /** RegressionLossCE: a cross entropy on the dataset's probability channels (lt_aware_ce_regression). */
    crossEntropy: boolean;
    hrMeanConditioning: boolean;
    args: Record<string, unknown>;
  };
  /** The `training.hp` section, with batch sizes per process worked out. */
  hp: LrSchedule & {
    training_duration: number;
    total_batch_size: number;
    batch_size_per_gpu: number;
    /** Gradient-accumulation rounds per step. */
    rounds: number;
    grad_clip_threshold: number | null;
    P_mean: number;
    P_std: number;
    /** Patched diffusion only; null when the patch covers the image. */
    patch: { Hp: number; Wp: number; num: number; chunks: number[] } | null;
  };
  /** The `training.perf` section: the SongUNet checkpoint level, and the keys ignored on WebGPU. */
  perf: { checkpointLevel: number; ignored: string[] };
  /** The `training.io` section: checkpoint paths and how often to log, save and validate. */
  io: {
    regression_checkpoint_path: string | null;
    checkpoint_dir: string;
    print_progress_freq: number;
    save_checkpoint_freq: number;
    save_n_recent_checkpoints: number;
    validation_freq: number;
    validation_steps: number;
  };
  /** Seed of the initial weights, the data order and the loss's draws. */
  seed: number;
}

function section(cfg: Config, key: string): Record<string, unknown> {
  const v = (cfg as Record<string, unknown>)[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new Error(`config: '${key}' must be a mapping`);
  return v as Record<string, unknown>;
}

function reader(where: string, o: Record<string, unknown>) {
  const fail = (k: string, want: string): never => {
    throw new Error(`config: ${where}.${k} must be ${want}, got ${JSON.stringify(o[k])}`);
  };
  return {
    num(k: string, fallback: number, min = -Infinity): number {
      const v = o[k] ?? fallback;
      if (typeof v !== "number" || !Number.isFinite(v) || v < min) fail(k, `a number >= ${min}`);
      return v as number;
    },
    int(k: string, fallback: number, min = 0): number {
      const v = o[k] ?? fallback;
      if (!Number.isInteger(v) || (v as number) < min) fail(k, `an integer >= ${min}`);
      return v as number;
    },
    optNum(k: string): number | null {
      const v = o[k];
      if (v === undefined || v === null) return null;
      if (typeof v !== "number" || !(v > 0)) fail(k, "a positive number or null");
      return v as number;
    },
    str(k: string, fallback: string): string {
      const v = o[k] ?? fallback;
      if (typeof v !== "string") fail(k, "a string");
      return v as string;
    },
    optStr(k: string): string | null {
      const v = o[k];
      if (v === undefined || v === null) return null;
      if (typeof v !== "string" || v === "") fail(k, "a path");
      return v as string;
    },
  };
}

/**
 * Reads and checks the training settings for an image of `imageShape` = [H, W], for a run over
 * `world` data-parallel processes (each takes total_batch_size / world samples of a step).
 */
export function readTrainSettings(cfg: Config, imageShape: [number, number], world = 1): TrainSettings {
  const model = section(cfg, "model");
  const training = section(cfg, "training");
  const hp = reader("training.hp", section(training, "hp"));
  const perf = section(training, "perf");
  const io = reader("training.io", section(training, "io"));

  const name = String(model.name);
  const leadTime = name in LEAD_TIME_KINDS;
  const kind = leadTime ? LEAD_TIME_KINDS[name] : name as ModelName;
  if (!leadTime && kind !== "regression" && kind !== "diffusion" && kind !== "patched_diffusion") {
    throw new Error(
      `config: model.name '${name}' cannot be trained here (use regression, diffusion, patched_diffusion, ` +
        `lt_aware_regression, lt_aware_ce_regression or lt_aware_patched_diffusion)`,
    );
  }
  const modelArgs = section(model, "model_args");
  if (leadTime && modelArgs.model_type !== "SongUNetPosLtEmbd") {
    throw new Error(
      `config: model.name '${name}' needs model.model_args.model_type SongUNetPosLtEmbd, got ${modelArgs.model_type}`,
    );
  }

  const total = hp.int("total_batch_size", 256, 1);
  const perGpuRaw = section(training, "hp").batch_size_per_gpu ?? "auto";
  let perGpu = perGpuRaw === "auto" ? total : perGpuRaw;
  if (!Number.isInteger(perGpu) || (perGpu as number) < 1) {
    throw new Error(
      `config: training.hp.batch_size_per_gpu must be "auto" or a positive integer, got ${
        JSON.stringify(perGpuRaw)
      }`,
    );
  }
  // As train.py: each of the world's processes takes batch_gpu_total = total // world samples per step.
  const gpuTotal = Math.floor(total / world);
  if (gpuTotal < 1) {
    throw new Error(`config: training.hp.total_batch_size (${total}) is smaller than the ${world} processes`);
  }
  perGpu = Math.min(perGpu as number, gpuTotal);
  const rounds = Math.floor(gpuTotal / (perGpu as number));
  if ((perGpu as number) * rounds * world !== total) {
    throw new Error(
      world === 1
        ? `config: training.hp.total_batch_size (${total}) must be a multiple of batch_size_per_gpu (${perGpu})`
        : `config: training.hp.total_batch_size (${total}) must be a multiple of batch_size_per_gpu (${perGpu}) ` +
          `times the ${world} processes`,
    );
  }

  let patch: TrainSettings["hp"]["patch"] = null;
  if (kind === "patched_diffusion") {
    const [H, W] = imageShape;
    const Hp = Math.min(hp.int("patch_shape_y", H, 1), H), Wp = Math.min(hp.int("patch_shape_x", W, 1), W);
    if (Hp < H || Wp < W) {
      const num = hp.int("patch_num", 1, 1);
      const maxPerGpu = section(training, "hp").max_patch_per_gpu;
      let chunk = num;
      if (maxPerGpu !== undefined && maxPerGpu !== null) {
        if (!Number.isInteger(maxPerGpu) || (maxPerGpu as number) < 1) {
          throw new Error(
            `config: training.hp.max_patch_per_gpu must be a positive integer, got ${
              JSON.stringify(maxPerGpu)
            }`,
          );
        }
        chunk = Math.max(1, Math.min(num, Math.floor((maxPerGpu as number) / (perGpu as number))));
      }
      const chunks: number[] = [];
      for (let left = num; left > 0; left -= chunk) chunks.push(Math.min(chunk, left));
      patch = { Hp, Wp, num, chunks };
    }
  }

  const ignored: string[] = [];
  const fp = perf.fp_optimizations ?? "fp32";
  if (fp !== "fp32") ignored.push(`fp_optimizations=${fp} (WebGPU trains in float32)`);
  for (const k of ["dataloader_workers", "torch_compile", "use_apex_gn", "profile_mode"]) {
    if (perf[k] !== undefined && perf[k] !== null && perf[k] !== false && perf[k] !== 0) {
      ignored.push(`${k}=${perf[k]}`);
    }
  }
  const checkpointLevel = reader("training.perf", perf).int("songunet_checkpoint_level", 0, 0);

  return {
    model: {
      name,
      kind,
      leadTime,
      crossEntropy: name === "lt_aware_ce_regression",
      hrMeanConditioning: model.hr_mean_conditioning === true,
      args: { ...modelArgs },
    },
    hp: {
      training_duration: hp.num("training_duration", 2e8, 1),
      total_batch_size: total,
      batch_size_per_gpu: perGpu as number,
      rounds,
      lr: hp.num("lr", 2e-4, 0),
      lr_rampup: hp.num("lr_rampup", 0, 0),
      lr_decay: hp.num("lr_decay", 1, 0),
      lr_decay_rate: hp.num("lr_decay_rate", 5e5, 1),
      grad_clip_threshold: hp.optNum("grad_clip_threshold"),
      P_mean: hp.num("P_mean", 0),
      P_std: hp.num("P_std", 1.2, 0),
      patch,
    },
    perf: { checkpointLevel, ignored },
    io: {
      regression_checkpoint_path: io.optStr("regression_checkpoint_path"),
      checkpoint_dir: io.str("checkpoint_dir", "."),
      print_progress_freq: io.num("print_progress_freq", 1000, 1),
      save_checkpoint_freq: io.num("save_checkpoint_freq", 5000, 1),
      save_n_recent_checkpoints: io.int("save_n_recent_checkpoints", -1, -1),
      validation_freq: io.num("validation_freq", 5000, 1),
      validation_steps: io.int("validation_steps", 10, 0),
    },
    seed: reader("training", training).int("seed", 0, 0),
  };
}

/** train.py's periodic-task test: true when a multiple of `freq` was crossed by this step, or at the end. */
export function isTimeFor(curNimg: number, freq: number, batch: number, done: boolean): boolean {
  return done || curNimg % freq < batch;
}
