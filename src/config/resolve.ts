/**
 * The one entry point scripts, tests and notebooks use to get a configuration:
 * compose (defaults lists, group overrides) -> apply value overrides -> resolve interpolations ->
 * check that no `???` is left.
 */

import { fileURLToPath } from "node:url";
import { composeConfig, groupPaths, isGroupKey } from "./compose.ts";
import { ConfigError } from "./errors.ts";
import { resolveInterpolations } from "./interpolate.ts";
import { applyValueOverride, type Override, parseOverride, parseOverrides } from "./overrides.ts";
import { type Config, getAt, isMapping, missingPaths, splitPath } from "./tree.ts";

/** Options of {@link resolveConfig}. */
export interface ResolveOptions {
  /** Primary config name, e.g. `config_training_hrrr_mini_regression` (`.yaml` optional). */
  configName: string;
  /** Directory of the primary config; default: this repository's `conf/`. */
  configPath?: string;
  /** Command-line style overrides (`a.b=1`, `+x=y`, `++x=y`, `~x`, `dataset=cwb`), applied in order. */
  overrides?: string[] | Override[];
  /** Leave `???` values in place instead of failing (for inspecting an incomplete config). */
  allowMissing?: boolean;
  /**
   * Keys whose `???` may stay (as Hydra, which fails only when a value is read): the program needs
   * them in some modes only and checks them itself.
   */
  optional?: readonly string[];
}

/** This repository's `conf/` directory. */
export function defaultConfigDir(): string {
  return fileURLToPath(new URL("../../conf", import.meta.url));
}

/**
 * Directories searched for configs: the config path and its `base/`, then the repository's `conf/`
 * and `conf/base/` (what the reference's `searchpath: [pkg://conf/base]` provides), so a user's own
 * top-level config can select the shipped groups.
 */
export function searchPathFor(configPath?: string): string[] {
  const repo = defaultConfigDir();
  const dirs = configPath === undefined ? [repo] : [configPath.replace(/\/+$/, ""), repo];
  return [...new Set(dirs.flatMap((d) => [d, `${d}/base`]))];
}

/** Rejects `sampler=...` where the group is `generation/sampler`, before it becomes a confusing type error. */
function checkNotNestedGroup(cfg: Config, ov: Override, groups: readonly string[]): void {
  if (ov.key.includes(".") || ov.kind === "delete") return;
  const nested = groups.find((g) => g.endsWith("/" + ov.key));
  const at = getAt(cfg, splitPath(ov.key));
  if (nested && typeof ov.value === "string" && (!at.found || isMapping(at.value))) {
    throw new ConfigError(
      `'${ov.raw}': '${ov.key}' is not a top-level config group. Did you mean '${nested}=${ov.value}'?`,
      ov.key,
    );
  }
}

/**
 * Composes and resolves a configuration, Hydra style. Returns a plain JSON object.
 * Throws a {@link ConfigError} naming the key or file at fault (with the closest valid name) for an
 * unknown key, config or group option, a type mismatch, a bad interpolation, or a `???` left unset.
 */
export function resolveConfig(opts: ResolveOptions): Config {
  const searchPath = searchPathFor(opts.configPath);
  const overrides = (opts.overrides ?? []).map((o) => (typeof o === "string" ? parseOverride(o) : o));
  const groupOverrides = overrides.filter((o) => isGroupKey(searchPath, o.key));
  const valueOverrides = overrides.filter((o) => !isGroupKey(searchPath, o.key));

  const cfg = composeConfig({ configName: opts.configName, searchPath, groupOverrides });
  const groups = groupPaths(searchPath);
  for (const ov of valueOverrides) {
    checkNotNestedGroup(cfg, ov, groups);
    applyValueOverride(cfg, ov);
  }

  // Hydra keeps its own node out of the job config; it stays reachable through `${hydra:...}`.
  const hydra = isMapping(cfg.hydra) ? cfg.hydra : undefined;
  delete cfg.hydra;
  resolveInterpolations(cfg, { allowMissing: opts.allowMissing, hydra });

  if (!opts.allowMissing) {
    const missing = missingPaths(cfg).filter((p) => !opts.optional?.includes(p));
    if (missing.length) {
      throw new ConfigError(
        `Missing mandatory value${missing.length > 1 ? "s" : ""} (???) in config '${opts.configName}': ` +
          `${missing.join(", ")}. Set ${missing.length > 1 ? "each" : "it"} on the command line, e.g. ${
            missing[0]
          }=<value>.`,
        missing[0],
      );
    }
  }
  return cfg;
}

/** What {@link loadConfigFromArgs} returns. */
export interface LoadedArgs {
  /** The resolved config. */
  config: Config;
  /** The config name used (`--config-name`, else the CLI's default). */
  configName: string;
  /** The config directory used (`--config-path`, else the repository's `conf/`). */
  configPath: string;
  /** The overrides applied, in the order given. */
  overrides: Override[];
  /** Arguments that were neither overrides nor `--config-name`/`--config-path`. */
  rest: string[];
}

/**
 * For CLIs: reads `--config-name`/`--config-path` and overrides from `argv` (defaulting to
 * `defaultConfigName` and the repository's `conf/`), resolves the config, and returns it with the
 * leftover arguments.
 */
export function loadConfigFromArgs(
  argv: string[],
  defaultConfigName: string,
  opts: { allowMissing?: boolean; optional?: readonly string[] } = {},
): LoadedArgs {
  const parsed = parseOverrides(argv);
  const configName = parsed.configName ?? defaultConfigName;
  const configPath = parsed.configPath ?? defaultConfigDir();
  const config = resolveConfig({
    configName,
    configPath,
    overrides: parsed.overrides,
    allowMissing: opts.allowMissing,
    optional: opts.optional,
  });
  return { config, configName, configPath, overrides: parsed.overrides, rest: parsed.rest };
}
