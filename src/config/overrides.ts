/**
 * Command-line overrides in Hydra's grammar: `key=value` (the key must exist), `+key=value` (it must
 * not), `++key=value` (either), `~key` / `~key=value` (delete), and `group=option` for config groups
 * (applied by the composer, see compose.ts). Values are YAML scalars or flow collections.
 */

import YAML from "yaml";
import { ConfigError, didYouMean } from "./errors.ts";
import { hasInterpolation } from "./interpolate.ts";
import {
  cloneValue,
  type Config,
  deleteAt,
  getAt,
  isMapping,
  listPaths,
  MISSING,
  setAt,
  splitPath,
} from "./tree.ts";

/** `set`: `key=v`; `add`: `+key=v`; `force`: `++key=v`; `delete`: `~key[=v]`. */
export type OverrideKind = "set" | "add" | "force" | "delete";

/** One parsed command-line override. */
export interface Override {
  /** Which of the four override forms it is. */
  kind: OverrideKind;
  /** Dotted config path (`training.hp.lr`) or config group path (`dataset`, `generation/sampler`). */
  key: string;
  /** Parsed value; absent only for a bare `~key`. */
  value?: unknown;
  /** Whether the token has `=value` (a bare `~key` has none). */
  hasValue: boolean;
  /** The token as written, for error messages. */
  raw: string;
}

/** What {@link parseOverrides} finds in an argument vector. */
export interface ParsedArgs {
  /** The `--config-name` (`-cn`) given, if any. */
  configName?: string;
  /** The `--config-path` (`-cp`) given, if any. */
  configPath?: string;
  /** The overrides, in the order given. */
  overrides: Override[];
  /** Arguments that are neither overrides nor config selectors, in order (flags such as `--help`). */
  rest: string[];
}

const OVERRIDE = /^(~|\+\+|\+)?([A-Za-z_][\w-]*(?:[./][\w-]+|\[\d+\])*)(?:=(.*))?$/s;

/**
 * Parses an override value: a YAML scalar (`1e-3`, `null`, `true`, `'quoted'`) or flow collection
 * (`[1,2]`, `{a: 1}`). Text that YAML would read as a block mapping, or that contains an interpolation
 * YAML cannot hold in a flow collection, stays a plain string; an empty value is the empty string.
 */
export function parseOverrideValue(text: string): unknown {
  const t = text.trim();
  if (t === "") return "";
  try {
    const v = YAML.parse(t);
    const collectionSyntax = t.startsWith("[") || t.startsWith("{");
    if ((isMapping(v) || Array.isArray(v)) && !collectionSyntax) return t;
    return v === undefined ? t : v;
  } catch (e) {
    if (t.includes("${") || !(t.startsWith("[") || t.startsWith("{"))) return t;
    throw new ConfigError(`Cannot parse override value '${t}': ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Parses one `[~|+|++]key[=value]` token; throws a ConfigError when it is not an override. */
export function parseOverride(token: string): Override {
  const m = OVERRIDE.exec(token);
  if (!m) {
    throw new ConfigError(
      `'${token}' is not an override: expected key=value, +key=value, ++key=value, ~key or group=option.`,
    );
  }
  const [, prefix, key, valueText] = m;
  const kind: OverrideKind = prefix === "~"
    ? "delete"
    : prefix === "++"
    ? "force"
    : prefix === "+"
    ? "add"
    : "set";
  const hasValue = valueText !== undefined;
  if (!hasValue && kind !== "delete") {
    throw new ConfigError(`Override '${token}' has no value: write ${token}=<value>.`, key);
  }
  return { kind, key, hasValue, raw: token, ...(hasValue ? { value: parseOverrideValue(valueText) } : {}) };
}

/**
 * Splits an argument vector into `--config-name`/`-cn`, `--config-path`/`-cp` (as `--x=v` or `--x v`),
 * overrides, and everything else (`rest`).
 */
export function parseOverrides(argv: string[]): ParsedArgs {
  const out: ParsedArgs = { overrides: [], rest: [] };
  const flags: Record<string, "configName" | "configPath"> = {
    "--config-name": "configName",
    "-cn": "configName",
    "--config-path": "configPath",
    "-cp": "configPath",
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const flag = flags[eq > 0 ? arg.slice(0, eq) : arg];
    if (flag) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === "") throw new ConfigError(`${arg} needs a value.`);
      out[flag] = value;
    } else if (!arg.startsWith("-") && OVERRIDE.test(arg) && (arg.includes("=") || arg.startsWith("~"))) {
      out.overrides.push(parseOverride(arg));
    } else out.rest.push(arg);
  }
  return out;
}

type Kind = "null" | "boolean" | "number" | "string" | "list" | "mapping";

function kindOf(v: unknown): Kind {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "list";
  if (isMapping(v)) return "mapping";
  return typeof v as Kind;
}

/**
 * Whether an override may replace `existing` with `value`: same kind, or either side null / `???` /
 * an interpolation. Integers and floats are one kind (JSON numbers). The string `"auto"` (as in
 * `batch_size_per_gpu: auto`) stands for "computed" and may trade places with a number.
 */
function compatible(existing: unknown, value: unknown): boolean {
  if (existing === null || existing === MISSING || value === null || value === MISSING) return true;
  if (hasInterpolation(existing) || hasInterpolation(value)) return true;
  const [a, b] = [kindOf(existing), kindOf(value)];
  return a === b || (existing === "auto" && b === "number") || (a === "number" && value === "auto");
}

const show = (v: unknown) => JSON.stringify(v);

/** Applies one value override (not a group selection) to a composed config, in place. */
export function applyValueOverride(cfg: Config, ov: Override): void {
  const segs = splitPath(ov.key);
  const at = getAt(cfg, segs);
  const hint = () => didYouMean(ov.key, listPaths(cfg));
  switch (ov.kind) {
    case "set": {
      if (!at.found) {
        throw new ConfigError(
          `Could not override '${ov.key}': no such key in the config.${hint()} ` +
            `To add a new key use +${ov.key}=..., to set it either way ++${ov.key}=...`,
          ov.key,
        );
      }
      if (!compatible(at.value, ov.value)) {
        throw new ConfigError(
          `Type mismatch for '${ov.key}': its value is a ${kindOf(at.value)} (${
            show(at.value)
          }) but '${ov.raw}' ` +
            `gives a ${
              kindOf(ov.value)
            }. Quote a string ('...'), or use ++${ov.raw} to replace it regardless of type.`,
          ov.key,
        );
      }
      return setAt(cfg, segs, cloneValue(ov.value));
    }
    case "add":
      if (at.found) {
        throw new ConfigError(
          `Could not add '${ov.key}': it already exists (${show(at.value)}). ` +
            `Use ${ov.key}=... to override it, or ++${ov.key}=... to set it either way.`,
          ov.key,
        );
      }
      return setAt(cfg, segs, cloneValue(ov.value));
    case "force":
      return setAt(cfg, segs, cloneValue(ov.value));
    case "delete":
      if (!at.found) {
        throw new ConfigError(`Could not delete '${ov.key}': no such key in the config.${hint()}`, ov.key);
      }
      if (ov.hasValue && show(at.value) !== show(ov.value)) {
        throw new ConfigError(
          `Could not delete '${ov.key}': its value is ${show(at.value)}, not ${
            show(ov.value)
          } as '${ov.raw}' requires.`,
          ov.key,
        );
      }
      deleteAt(cfg, segs);
  }
}
