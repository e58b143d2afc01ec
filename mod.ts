/**
 * corrdiff-webgpu: CorrDiff (generative km-scale downscaling) on Deno + WebGPU.
 *
 * The front door: the command-line scripts, the tests and the notebooks all import this module graph.
 *
 * @module
 */

// GPU runtime: device, tensors, recording, autograd.
export { getGpu, type Gpu, type KernelProfile } from "./src/gpu/device.ts";
export { f32bits, initRuntime, rt, Runtime } from "./src/gpu/runtime.ts";
export { Tensor } from "./src/gpu/tensor.ts";
export { Tape } from "./src/gpu/tape.ts";
export { startTape, stopTape, valueAndGrad } from "./src/gpu/autograd.ts";

// Ops (each records its backward on the active tape).
export * from "./src/ops/elementwise.ts";
export { conv2d, type Conv2dOptions, type Conv3Algorithm, conv3Algorithm } from "./src/ops/conv2d.ts";
export { avgPool2 } from "./src/ops/pool.ts";
export { groupCount, groupNorm } from "./src/ops/groupnorm.ts";
export { linear } from "./src/ops/linear.ts";
export {
  matmul,
  type MatmulDims,
  matmulInto,
  type MatmulOptions,
  type MatmulTranspose,
  type MatrixView,
} from "./src/ops/matmul.ts";
export { attention } from "./src/ops/attention.ts";
export { softmax } from "./src/ops/softmax.ts";
export { dropout } from "./src/ops/dropout.ts";
export {
  broadcastBatch,
  concatChannels,
  gatherPixels,
  sliceChannels,
  tileBatch,
} from "./src/ops/tensor_ops.ts";
export { DevicePatching } from "./src/ops/patching.ts";

// Networks.
export { type InitMode, type InitSpec, ParamStore } from "./src/nn/params.ts";
export { Conv2d, GroupNorm, Linear, type Mode, UNetAttention, UNetBlock } from "./src/nn/layers.ts";
export { type GridType, noiseEmbedding, positionalFreqs, positionalGrid } from "./src/nn/embedding.ts";
export { SongUNet, type SongUNetKwargs, type UNetForwardOptions } from "./src/nn/songunet.ts";
export { leadTimePatches, leadTimeRows, probabilityChannels, selectLeadTime } from "./src/nn/lead_time.ts";
export {
  buildNetwork,
  CorrDiffRegressionUNet,
  edmCoefficients,
  EDMPrecondSuperResolution,
  type Network,
  type WrapperKwargs,
} from "./src/nn/wrappers.ts";

// Diffusion: losses, samplers, patching.
export * from "./src/diffusion/losses.ts";
export * from "./src/diffusion/samplers.ts";
export * from "./src/diffusion/patching.ts";

// Data, configuration, files.
export * from "./src/data/mod.ts";
export * from "./src/config/mod.ts";
export * from "./src/io/safetensors.ts";
export * from "./src/io/netcdf_read.ts";
export * from "./src/io/netcdf_write.ts";
export * from "./src/io/generation_file.ts";
export * from "./src/io/generation_reader.ts";

// Evaluation and plots.
export * from "./src/metrics/mod.ts";
export * from "./src/plot/mod.ts";

// The golden suite, with every handler (layers, networks, losses, samplers, metrics, checkpoints).
import "./src/golden/all_handlers.ts";
export { type CaseResult, formatResult, runCase, runGolden } from "./src/golden/runner.ts";
export { GoldenSet } from "./src/golden/manifest.ts";
export { Rng } from "./src/util/rng.ts";

// Training: `train()` and its pieces (Adam on parameter arenas, data order, schedule, checkpoints).
export * from "./src/train/mod.ts";
export { checkpoint } from "./src/gpu/autograd.ts";
export { formatDuration, Progress, type ProgressOptions } from "./src/util/progress.ts";
export { selectTimeRange, subset } from "./src/data/subset.ts";

// Checkpoints: our safetensors, PhysicsNeMo .mdlus (zip / legacy tar), torch.save files and Adam state.
export {
  findLatestCheckpoint,
  type LoadedNetwork,
  loadNetwork,
  networkClass,
  networkFromMdlus,
  networkFromSafetensors,
  saveNetwork,
} from "./src/nn/checkpoint.ts";
export {
  isTar,
  type MdlusFile,
  type MdlusTensor,
  networkSpecFromArgs,
  parseMdlus,
  parsePythonJson,
  readMdlus,
  readTar,
  renameLegacyKeys,
} from "./src/io/mdlus.ts";
export {
  halfToFloat,
  PyGlobal,
  PyObject,
  type PyValue,
  readTorchFile,
  readTorchZip,
  type TorchDtype,
  TorchStorage,
  TorchTensor,
  type TorchZip,
  unpickle,
} from "./src/io/torch_pickle.ts";
export {
  adamStateByParam,
  type ParamAdamState,
  readTorchOptimizerState,
  type TorchAdamState,
} from "./src/io/torch_optimizer.ts";
export { crc32, isZip, ZipArchive, type ZipEntry } from "./src/io/zip.ts";

// Generation: ensembles from trained models (deno task generate), shards and their merge.
export {
  addMean,
  DiffusionStep,
  formatSummary,
  generate,
  type GenerateOptions,
  type GenerateSummary,
  GenerationPlan,
  type GenerationSettings,
  generationSettings,
  loadDiffusionModel,
  loadRegressionModel,
  mergeShards,
  type MergeSummary,
  parseShard,
  regressionMean,
  type SamplerSettings,
  samplerSettings,
  seedBatches,
  seededNoise,
  selectTimes,
  type Shard,
  shardOutputPath,
} from "./src/generate/mod.ts";

// The whole job on synthetic data (deno task demo, the notebooks): pipeline, evaluation against the
// baselines, the patch-size study.
export * from "./src/demo/mod.ts";

// More than one process: the MPI world (data-parallel training) and the launcher's environment.
export { initWorld, SINGLE_PROCESS, type World } from "./src/dist/world.ts";
export { detectLauncher, type LaunchInfo } from "./src/dist/launcher.ts";
export { resolveShard } from "./src/generate/plan.ts";

// Types that the signatures above mention (so that their docs resolve).
export type { Binding, Kernel } from "./src/gpu/runtime.ts";
export type { BufferPool } from "./src/gpu/pool.ts";
export type { DispatchProfiler, KernelTime } from "./src/gpu/profiler.ts";
export type { Grad } from "./src/gpu/tape.ts";
export type { AttentionOptions } from "./src/ops/attention.ts";
export type { GroupNormOnRead, GroupNormOptions } from "./src/ops/groupnorm.ts";
export type { Image, ImagePool } from "./src/gpu/image.ts";
export type { Derived } from "./src/gpu/runtime.ts";
export type { Bounds } from "./src/generate/clip.ts";
export type { ComposeOptions } from "./src/config/compose.ts";
export type { DataShape, DiffusionConditioningKind } from "./src/generate/models.ts";
export type { GenerationProgress } from "./src/generate/progress.ts";
export type { HostTensor } from "./src/generate/sampling.ts";
export type { InferenceMode, PatchSettings, TimeSelection } from "./src/generate/settings.ts";
export type { ResolvedShard, WorkUnit } from "./src/generate/plan.ts";
export type { Env } from "./src/dist/launcher.ts";
export type { Mpi, MpiArray, ReduceOp } from "./src/dist/mpi.ts";
export type {
  GeneratedFields,
  GeneratedVariable,
  ResidualKind,
  SeriesSpectra,
  SpectraAnalysis,
  SpectraOptions,
  VariableSpectra,
} from "./src/metrics/spectra_analysis.ts";
export type { CaseSpec, FileSpec, Manifest, NetworkSpec, Tolerance } from "./src/golden/manifest.ts";
export type { Status } from "./src/golden/runner.ts";
export type { UnpickleHooks } from "./src/io/torch_pickle.ts";
