/**
 * Hydra-style configuration for corrdiff-webgpu: YAML config groups under `conf/`, composed by
 * defaults lists, overridden from the command line, interpolated, and returned as plain JSON.
 *
 * ```ts
 * import { resolveConfig, getKey } from "./src/config/mod.ts";
 * const cfg = resolveConfig({
 *   configName: "config_training_synthetic_regression",
 *   overrides: ["training.hp.lr=1e-3", "model_size=mini"],
 * });
 * const lr = getKey<number>(cfg, "training.hp.lr");
 * ```
 *
 * @module
 */

export { closest, ConfigError, didYouMean, editDistance } from "./errors.ts";
export { type Config, getKey, MISSING, toYaml } from "./tree.ts";
export {
  type Override,
  type OverrideKind,
  type ParsedArgs,
  parseOverride,
  parseOverrides,
  parseOverrideValue,
} from "./overrides.ts";
export { composeConfig, groupOptions, groupPaths } from "./compose.ts";
export {
  defaultConfigDir,
  loadConfigFromArgs,
  type LoadedArgs,
  resolveConfig,
  type ResolveOptions,
  searchPathFor,
} from "./resolve.ts";
