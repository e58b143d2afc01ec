/**
 * Generation: ensembles from trained CorrDiff models (`deno task generate`), sharding over machines
 * and merging the shards (`deno task merge`).
 *
 * @module
 */
export {
  type GenerationSettings,
  generationSettings,
  type InferenceMode,
  type PatchSettings,
  type SamplerSettings,
  samplerSettings,
  type TimeSelection,
} from "./settings.ts";
export {
  formatConfigTime,
  GenerationPlan,
  parseConfigTime,
  parseShard,
  seedBatches,
  selectTimes,
  type Shard,
  type WorkUnit,
} from "./plan.ts";
export { type DataShape, loadDiffusionModel, loadRegressionModel } from "./models.ts";
export { addMean, DiffusionStep, type HostTensor, regressionMean, seededNoise } from "./sampling.ts";
export { readShardInfo, type RunLayout, RunOutput, SHARD_ATTRIBUTES, type ShardInfo } from "./output.ts";
export { createProgress, type GenerationProgress, type GenerationProgressOptions } from "./progress.ts";
export {
  formatSummary,
  generate,
  type GenerateOptions,
  type GenerateSummary,
  patchingFor,
  shardOutputPath,
} from "./run.ts";
export { mergeShards, type MergeSummary } from "./merge.ts";
