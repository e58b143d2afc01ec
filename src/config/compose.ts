/**
 * Hydra-style composition: a primary config's `defaults` list selects options of config groups
 * (directories of YAML files on a search path), recursively, and each file's content is merged at its
 * package. Depth-first order; a file's own content goes where `_self_` stands in its defaults list
 * (at the end when `_self_` is not listed, as in Hydra >= 1.1).
 *
 * Packages: a group option lands at `<parent package>.<group>` unless the entry names one
 * (`- dataset@validation: cwb`, relative to the parent; `@_global_.x` is absolute) or the file's header
 * does (`# @package _global_`, `# @package _global_.model`, `# @package _group_`, or a literal path,
 * which is absolute).
 */

import YAML from "yaml";
import { firstLine } from "../io/file_errors.ts";
import { ConfigError, didYouMean } from "./errors.ts";
import { resolveChoice } from "./interpolate.ts";
import type { Override } from "./overrides.ts";
import { type Config, isMapping, mergeAt } from "./tree.ts";

/** One entry of a `defaults` list. */
interface DefaultsEntry {
  kind: "self" | "group" | "config";
  /** Group path as written (`dataset`, `/dataset` for absolute). */
  group?: string;
  /** Option (group entry) or config name (config entry); null disables the entry. */
  name: string | null;
  /** Explicit package from `group@pkg`. */
  pkg?: string;
  optional: boolean;
}

interface LoadedFile {
  file: string;
  header?: string;
  defaults: DefaultsEntry[];
  content: Record<string, unknown>;
}

/** Options of {@link composeConfig}. */
export interface ComposeOptions {
  /** Primary config name, without `.yaml`, looked up in `searchPath[0]`. */
  configName: string;
  /** Directories searched, in order, for the primary config and for config groups. */
  searchPath: string[];
  /** Group selections from the command line (`dataset=cwb`, `+g=o`, `++g=o`, `~g`). */
  groupOverrides?: Override[];
}

const join = (a: string, b: string, sep: string) => (a && b ? `${a}${sep}${b}` : a || b);

function existsFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function listDir(path: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(path)];
  } catch {
    return [];
  }
}

/** Finds `<dir>/<relPath>.yaml` on the search path. */
function findConfig(searchPath: readonly string[], relPath: string): string | undefined {
  for (const dir of searchPath) {
    const p = `${dir}/${relPath}.yaml`;
    if (existsFile(p)) return p;
  }
  return undefined;
}

/** The options of a config group: the YAML files in its directory, over the whole search path. */
export function groupOptions(searchPath: readonly string[], group: string): string[] {
  const names = new Set<string>();
  for (const dir of searchPath) {
    for (const e of listDir(`${dir}/${group}`)) {
      if (e.isFile && e.name.endsWith(".yaml")) names.add(e.name.slice(0, -5));
    }
  }
  return [...names].sort();
}

/** Every config group path (directories holding YAML files) on the search path, e.g. `generation/sampler`. */
export function groupPaths(searchPath: readonly string[]): string[] {
  const out = new Set<string>();
  const walk = (dir: string, rel: string) => {
    for (const e of listDir(dir)) {
      // A search-path root nested in another (conf/base in conf/) is walked as a root of its own.
      if (!e.isDirectory || searchPath.includes(`${dir}/${e.name}`)) continue;
      const sub = join(rel, e.name, "/");
      if (listDir(`${dir}/${e.name}`).some((f) => f.isFile && f.name.endsWith(".yaml"))) out.add(sub);
      walk(`${dir}/${e.name}`, sub);
    }
  };
  for (const dir of searchPath) walk(dir, "");
  return [...out].sort();
}

/** True when an override key names a config group rather than a config value. */
export function isGroupKey(searchPath: readonly string[], key: string): boolean {
  if (key.includes(".")) return false;
  if (key.includes("/")) return true;
  return searchPath.some((dir) => {
    try {
      return Deno.statSync(`${dir}/${key}`).isDirectory;
    } catch {
      return false;
    }
  });
}

function parseEntry(raw: unknown, file: string): DefaultsEntry {
  if (raw === "_self_") return { kind: "self", name: null, optional: false };
  if (typeof raw === "string") return { kind: "config", name: raw, optional: false };
  if (isMapping(raw) && Object.keys(raw).length === 1) {
    let [key, value] = Object.entries(raw)[0];
    if (value !== null && typeof value !== "string") {
      throw new ConfigError(
        `In '${file}': defaults entry '${key}' must select one option (a string or null).`,
        key,
        file,
      );
    }
    const optional = key.startsWith("optional ");
    if (optional) key = key.slice("optional ".length).trim();
    if (/^override\s/.test(key)) {
      throw new ConfigError(
        `In '${file}': 'override' defaults entries are not supported; use ${
          key.slice(9)
        }=... on the command line.`,
        key,
        file,
      );
    }
    const [group, pkg] = key.split("@");
    return { kind: "group", group, name: value, pkg, optional };
  }
  throw new ConfigError(`In '${file}': malformed defaults entry ${JSON.stringify(raw)}.`, undefined, file);
}

/** Reads a config file: its `@package` header (from the leading comment block), defaults list and content. */
export function loadConfigFile(file: string): LoadedFile {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    throw new ConfigError(`Cannot read config file '${file}': ${(e as Error).message}`, undefined, file);
  }
  let header: string | undefined;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t !== "" && !t.startsWith("#")) break;
    const m = /^#\s*@package\s*:?\s*(\S+)/.exec(t);
    if (m) header = m[1];
  }
  let parsed: unknown;
  try {
    // parseDocument rather than parse: parse prints warnings (an unknown tag...) itself, and its
    // errors carry a multi-line code frame. Here both become one line; PyYAML, which the reference
    // uses, rejects what yaml only warns about.
    const doc = YAML.parseDocument(text);
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw problem;
    parsed = doc.toJS();
  } catch (e) {
    throw new ConfigError(`Cannot parse YAML in '${file}': ${firstLine(e)}`, undefined, file);
  }
  parsed ??= {};
  if (!isMapping(parsed)) {
    throw new ConfigError(`Config file '${file}' must hold a mapping at the top level.`, undefined, file);
  }
  const { defaults = [], ...content } = parsed;
  if (defaults !== null && !Array.isArray(defaults)) {
    throw new ConfigError(`In '${file}': 'defaults' must be a list.`, "defaults", file);
  }
  return { file, header, defaults: (defaults ?? []).map((d) => parseEntry(d, file)), content };
}

/** The package a header names, given the package and group the file would otherwise get. */
function headerPackage(header: string, defaultPkg: string, group: string, file: string): string {
  if (header === "_global_") return "";
  if (header.startsWith("_global_.")) return header.slice("_global_.".length);
  if (header === "_group_") return defaultPkg;
  const name = file.slice(file.lastIndexOf("/") + 1).replace(/\.yaml$/, "");
  return header.replaceAll("_group_", group.replaceAll("/", ".")).replaceAll("_name_", name);
}

function entryPackage(e: DefaultsEntry, parentPkg: string): string {
  if (e.pkg !== undefined) {
    if (e.pkg === "_global_") return "";
    if (e.pkg.startsWith("_global_.")) return e.pkg.slice("_global_.".length);
    return join(parentPkg, e.pkg, ".");
  }
  return join(parentPkg, e.group!.replace(/^\//, "").replaceAll("/", "."), ".");
}

function primaryFileOf(searchPath: readonly string[], configName: string): string {
  const file = `${searchPath[0]}/${configName.replace(/\.yaml$/, "")}.yaml`;
  if (existsFile(file)) return file;
  const available = listDir(searchPath[0]).filter((e) => e.isFile && e.name.endsWith(".yaml"))
    .map((e) => e.name.slice(0, -5)).sort();
  throw new ConfigError(
    `Config '${configName}' not found in '${searchPath[0]}'.${didYouMean(configName, available)} ` +
      `Available: ${available.join(", ") || "(none)"}.`,
    undefined,
    file,
  );
}

/** The option a command-line group override selects (null: none), checked against the entry it replaces. */
function overriddenOption(
  ov: Override,
  group: string,
  current: () => string | null,
  searchPath: readonly string[],
): string | null {
  const v = ov.value;
  if (v !== null && v !== undefined && typeof v !== "string" && typeof v !== "number") {
    throw new ConfigError(
      `'${ov.raw}': config group '${group}' takes an option name. ` +
        `Available: ${groupOptions(searchPath, group).join(", ")}.`,
      group,
    );
  }
  if (ov.kind === "add") {
    throw new ConfigError(
      `Could not add '${ov.raw}': group '${group}' is already in the defaults list. Use ${group}=${v} to change it.`,
      group,
    );
  }
  if (ov.kind !== "delete") return v === null ? null : String(v);
  if (ov.hasValue && String(v) !== current()) {
    throw new ConfigError(`Could not delete '${ov.raw}': group '${group}' selects '${current()}'.`, group);
  }
  return null;
}

/** Composes the primary config and everything its defaults list selects; interpolations stay unresolved. */
export function composeConfig(opts: ComposeOptions): Config {
  const { searchPath } = opts;
  const primary = loadConfigFile(primaryFileOf(searchPath, opts.configName));
  const overrides = new Map<string, Override>();
  for (const ov of opts.groupOverrides ?? []) overrides.set(ov.key.replace(/^\//, ""), ov);

  // Choices known before descending, so `training: ${model}` sees `model` whatever the order.
  const choices = new Map<string, string | null>();
  for (const e of primary.defaults) {
    if (e.kind !== "group") continue;
    const g = e.group!.replace(/^\//, "");
    const ov = overrides.get(g);
    const name = ov ? (ov.kind === "delete" ? null : String(ov.value)) : e.name;
    if (name === null || !name.includes("${")) choices.set(g, name);
  }
  for (const [g, ov] of overrides) {
    if (!choices.has(g) && ov.kind !== "delete") choices.set(g, String(ov.value));
  }

  const root: Config = {};
  const used = new Set<string>();
  const visit = (loaded: LoadedFile, pkg: string, group: string) => {
    const effPkg = loaded.header === undefined ? pkg : headerPackage(loaded.header, pkg, group, loaded.file);
    const entries = loaded.defaults.some((e) => e.kind === "self")
      ? loaded.defaults
      : [...loaded.defaults, { kind: "self", name: null, optional: false } as DefaultsEntry];
    for (const e of entries) {
      if (e.kind === "self") {
        mergeAt(root, effPkg, loaded.content);
      } else if (e.kind === "config") {
        const rel = e.name!.startsWith("/") ? e.name!.slice(1) : join(group, e.name!, "/");
        const file = findConfig(searchPath, rel);
        if (!file) {
          throw new ConfigError(
            `In '${loaded.file}': config '${rel}' not found.${
              didYouMean(e.name!, groupOptions(searchPath, group))
            }`,
            rel,
            loaded.file,
          );
        }
        visit(loadConfigFile(file), effPkg, rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "");
      } else {
        const full = e.group!.startsWith("/") ? e.group!.slice(1) : join(group, e.group!, "/");
        const ov = overrides.get(full);
        const fromFile = () => (e.name === null ? null : resolveChoice(e.name, choices, loaded.file));
        if (ov) used.add(full);
        const option = ov ? overriddenOption(ov, full, fromFile, searchPath) : fromFile();
        choices.set(full, option);
        if (option === null) continue;
        const file = findConfig(searchPath, `${full}/${option}`);
        if (!file) {
          if (e.optional) continue;
          const available = groupOptions(searchPath, full);
          throw new ConfigError(
            `In ${ov ? `override '${ov.raw}'` : `'${loaded.file}'`}: config group '${full}' has no option ` +
              `'${option}'.${didYouMean(option, available)} Available: ${available.join(", ") || "(none)"}.`,
            full,
            loaded.file,
          );
        }
        visit(loadConfigFile(file), entryPackage(e, effPkg), full);
      }
    }
  };
  visit(primary, "", "");

  // `+group=option` (and `++` for a group not selected anywhere) appends to the primary defaults list.
  for (const [group, ov] of overrides) {
    if (used.has(group)) continue;
    if (ov.kind === "add" || ov.kind === "force") {
      const entry: DefaultsEntry = { kind: "group", group, name: null, optional: false };
      overrides.set(group, { ...ov, kind: "set" }); // it now selects the appended entry's option
      visit({ file: "<command line>", defaults: [entry], content: {} }, "", "");
      continue;
    }
    const hint = ov.kind === "delete"
      ? ""
      : ` Use +${group}=${ov.value} to add it.${didYouMean(group, choices.keys())}`;
    throw new ConfigError(
      `Could not ${
        ov.kind === "delete" ? "delete" : "override"
      } '${ov.raw}': config group '${group}' is not ` +
        `in the defaults list of '${opts.configName}'.${hint}`,
      group,
    );
  }
  return root;
}
