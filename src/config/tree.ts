/**
 * The config tree: plain JSON objects addressed by dotted paths, merged the way OmegaConf merges.
 */

import YAML from "yaml";
import { ConfigError, didYouMean } from "./errors.ts";

/** A resolved configuration: a plain JSON object (mappings, lists, strings, numbers, booleans, null). */
export type Config = Record<string, unknown>;

/** The mandatory-value marker: a key set to `???` must be given a value before the config is used. */
export const MISSING = "???";

/** True for a plain mapping node (not a list, not null). */
export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Splits `a.b[0].c` (or `a.b.0.c`) into segments; the empty path is the root. */
export function splitPath(path: string): string[] {
  if (path === "") return [];
  const segs = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  if (segs.some((s) => s === "")) throw new ConfigError(`Malformed config key '${path}'.`, path);
  return segs;
}

/** Child of a mapping or list node by segment, or `undefined` when absent. */
function child(node: unknown, seg: string): { found: boolean; value?: unknown } {
  if (isMapping(node)) return Object.hasOwn(node, seg) ? { found: true, value: node[seg] } : { found: false };
  if (Array.isArray(node) && /^\d+$/.test(seg)) {
    const i = Number(seg);
    return i < node.length ? { found: true, value: node[i] } : { found: false };
  }
  return { found: false };
}

/** Looks a path up; `found` is false when any segment is absent. */
export function getAt(root: unknown, segs: readonly string[]): { found: boolean; value?: unknown } {
  let node: unknown = root;
  for (const seg of segs) {
    const c = child(node, seg);
    if (!c.found) return { found: false };
    node = c.value;
  }
  return { found: true, value: node };
}

/** Sets a path, creating intermediate mappings; a list element can be replaced but a list not grown. */
export function setAt(root: Config, segs: readonly string[], value: unknown): void {
  if (segs.length === 0) throw new ConfigError("Cannot replace the config root.");
  let node: unknown = root;
  for (let i = 0; i < segs.length - 1; i++) {
    const c = child(node, segs[i]);
    if (!c.found || !(isMapping(c.value) || Array.isArray(c.value))) {
      if (!isMapping(node)) throw new ConfigError(`Cannot create '${segs.slice(0, i + 1).join(".")}'.`);
      node[segs[i]] = {};
    }
    node = child(node, segs[i]).value;
  }
  const last = segs[segs.length - 1];
  if (isMapping(node)) node[last] = value;
  else if (Array.isArray(node) && /^\d+$/.test(last) && Number(last) < node.length) {
    node[Number(last)] = value;
  } else {throw new ConfigError(
      `Cannot set '${segs.join(".")}': its parent is not a mapping.`,
      segs.join("."),
    );}
}

/** Deletes a path; returns false when it was absent. */
export function deleteAt(root: Config, segs: readonly string[]): boolean {
  const parent = getAt(root, segs.slice(0, -1));
  const last = segs[segs.length - 1];
  if (!parent.found) return false;
  if (isMapping(parent.value) && Object.hasOwn(parent.value, last)) {
    delete parent.value[last];
    return true;
  }
  if (Array.isArray(parent.value) && /^\d+$/.test(last) && Number(last) < parent.value.length) {
    parent.value.splice(Number(last), 1);
    return true;
  }
  return false;
}

/** Deep copy of a JSON value. */
export function cloneValue<T>(v: T): T {
  return structuredClone(v);
}

/**
 * Merges `src` into `dest` in place: mappings merge key by key, everything else (lists, scalars, null,
 * `???`) is replaced by the later value.
 *
 * A later `???` replaces an earlier value on purpose: `training/diffusion.yaml` marks
 * `io.regression_checkpoint_path` as `???` ("must be overridden") over `base_all.yaml`'s null, and the
 * run should then refuse to start without it.
 */
export function mergeInto(dest: Record<string, unknown>, src: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(src)) {
    if (isMapping(v) && isMapping(dest[k])) mergeInto(dest[k] as Record<string, unknown>, v);
    else dest[k] = cloneValue(v);
  }
}

/** Merges `content` at the dotted `pkg` path of `root` ("" is the root). */
export function mergeAt(root: Config, pkg: string, content: Record<string, unknown>): void {
  const segs = splitPath(pkg);
  if (segs.length === 0) return mergeInto(root, content);
  const at = getAt(root, segs);
  if (at.found && isMapping(at.value)) mergeInto(at.value, content);
  else {
    const fresh: Record<string, unknown> = {};
    mergeInto(fresh, content);
    setAt(root, segs, fresh);
  }
}

/** Every dotted path in the tree (mapping keys and list indices), parents before children. */
export function listPaths(root: unknown, prefix = ""): string[] {
  const out: string[] = [];
  const entries = isMapping(root)
    ? Object.entries(root)
    : Array.isArray(root)
    ? root.map((v, i) => [String(i), v] as const)
    : [];
  for (const [k, v] of entries) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p, ...listPaths(v, p));
  }
  return out;
}

/** Every path whose value is `???`. */
export function missingPaths(root: unknown): string[] {
  return listPaths(root).filter((p) => getAt(root, splitPath(p)).value === MISSING);
}

/**
 * The value at a dotted path (`"training.hp.lr"`, `"dataset.output_variables.0"`).
 * Throws a ConfigError naming the key, with the closest existing key, when it is absent or still `???`.
 */
export function getKey<T = unknown>(cfg: Config, path: string): T {
  const at = getAt(cfg, splitPath(path));
  if (!at.found) {
    throw new ConfigError(`Config key '${path}' not found.${didYouMean(path, listPaths(cfg))}`, path);
  }
  if (at.value === MISSING) {
    throw new ConfigError(`Missing mandatory value '${path}': set it with ${path}=<value>.`, path);
  }
  return at.value as T;
}

/** The config as YAML (round-trips through `YAML.parse` to an equal object), for recording a run. */
export function toYaml(cfg: Config): string {
  return YAML.stringify(cfg, { lineWidth: 0 });
}
