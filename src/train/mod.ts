/**
 * Training (reference: examples/weather/corrdiff/train.py): `train()` runs the whole program from a
 * resolved config; the pieces (Adam on parameter arenas, the data order, the schedule, one step,
 * validation, checkpoints) are exported for notebooks and tests.
 *
 * ```ts
 * import { resolveConfig, train } from "./mod.ts";
 * const config = resolveConfig({ configName: "config_training_synthetic_regression", overrides: ["training.hp.training_duration=64"] });
 * const summary = await train({ config });
 * ```
 *
 * @module
 */
export { formatSummary, train, type TrainOptions, type TrainSummary } from "./train.ts";
export { Adam, type AdamOptions, type OptimStats } from "./adam.ts";
export { ParamArena, readBuffer, type Segment, type Slot } from "./arena.ts";
export { InfiniteSampler, MT19937, type SamplerState } from "./sampler.ts";
export { learningRate, type LrSchedule, scheduleWarning } from "./schedule.ts";
export { isTimeFor, type ModelName, readTrainSettings, type TrainSettings } from "./settings.ts";
export {
  batchLoss,
  type Draws,
  frozenRegressionMean,
  type LossSetup,
  lossSetup,
  recordStep,
  type StepContext,
} from "./step.ts";
export { validate, validationIndices, type ValidationResult } from "./validate.ts";
export {
  type CheckpointFiles,
  listCheckpoints,
  type LoadedState,
  loadTrainState,
  saveCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
export { findResumePoint, listPhysicsNemoCheckpoints, type ResumePoint } from "./resume.ts";
export { buildTrainee, loadRegressionNet, networkArgs } from "./models.ts";
export { type HostBatch, loadBatch, uploadBatch } from "./batch.ts";
export { MetricsLog, type MetricsRecord } from "./metrics.ts";
export { benchTrainStep, type TrainStepBench } from "./bench.ts";
