/**
 * The data layer: datasets behind the {@link DownscalingDataset} interface, the registry that
 * builds them from a config, the NetCDF reader they use, and the resampling and normalisation
 * helpers shared with training and generation.
 */

export * from "./dataset.ts";
export {
  channel,
  channelName,
  DownscalingDatasetBase,
  nanGrid,
  NormalizedDataset,
  RawItemDataset,
} from "./base.ts";
export { composeHrrrMiniInput, HrrrMiniDataset, type HrrrMiniOptions } from "./hrrr_mini.ts";
export { CwbDataset, type CwbOptions } from "./cwb.ts";
export {
  canonicalSyntheticName,
  SYNTHETIC_ALIASES,
  SYNTHETIC_FIELDS,
  SYNTHETIC_INVARIANTS,
  SyntheticDataset,
  type SyntheticOptions,
  type SyntheticSample,
  type SyntheticVariableInfo,
  syntheticVariableInfo,
} from "./synthetic.ts";
export {
  type SyntheticFiles,
  writeSyntheticAsHrrrMini,
  type WriteSyntheticOptions,
} from "./synthetic_write.ts";
export { ChannelNormalization } from "./normalize.ts";
export { blockMean, cropWindow, resizeCubic, subsample, upsampleBilinearExtrapolate } from "./resample.ts";
export {
  concatNormalizations,
  normalizationFor,
  readStatsJson,
  type StatsTable,
  type VariableStats,
} from "./stats.ts";
export { decodeCfTimes, unpackCf } from "./cf.ts";
export { DatasetOptions } from "./options.ts";
export {
  type EnergySpectrum,
  fft2,
  gaussianBlur,
  gaussianRandomField,
  nastromGage,
  nonDivergentWind,
  powerLaw,
  spectralNoise,
  standardize,
  toReal,
} from "./gaussian_field.ts";
export * from "../io/netcdf_read.ts";
