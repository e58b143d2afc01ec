/**
 * `${...}` interpolation, resolved once the whole config is composed and overridden (as OmegaConf does).
 *
 * Supported forms: `${a.b.c}` (absolute), `${.sibling}` / `${..uncle}` (relative to the node holding the
 * value), nesting (`${a.${b}}`), string concatenation (`run_${model.name}`), resolvers `${oc.env:VAR}`,
 * `${oc.env:VAR,default}` and `${hydra:job.name}`, and the escape `\${` for a literal `${`.
 * A value that is exactly one interpolation keeps the referenced value's type (number, list, mapping).
 */

import { ConfigError, didYouMean } from "./errors.ts";
import { cloneValue, type Config, getAt, isMapping, listPaths, MISSING, setAt, splitPath } from "./tree.ts";

type Part = { text: string } | { interp: Part[] };

/** A literal `${` produced by an escape, kept out of later passes until the end. */
const ESCAPED = "\u0000ESCAPED_INTERP\u0000";

/** True when a string still needs interpolation. */
export function hasInterpolation(v: unknown): v is string {
  return typeof v === "string" && v.includes("${");
}

/** Parses a template into text and (possibly nested) interpolation parts. */
function parseTemplate(s: string, where: string): Part[] {
  let i = 0;
  const parse = (nested: boolean): Part[] => {
    const parts: Part[] = [];
    let text = "";
    while (i < s.length) {
      if (s.startsWith("\\${", i)) {
        text += ESCAPED;
        i += 3;
      } else if (s.startsWith("${", i)) {
        if (text) parts.push({ text });
        text = "";
        i += 2;
        parts.push({ interp: parse(true) });
      } else if (nested && s[i] === "}") {
        i++;
        if (text) parts.push({ text });
        return parts;
      } else text += s[i++];
    }
    if (nested) throw new ConfigError(`Unterminated interpolation in '${s}' at '${where}'.`, where);
    if (text) parts.push({ text });
    return parts;
  };
  return parse(false);
}

/** Options of {@link resolveInterpolations}. */
export interface InterpolationOptions {
  /** Resolve a reference to a `???` value to `???` instead of failing. */
  allowMissing?: boolean;
  /** The Hydra runtime node, read by `${hydra:...}` (Hydra keeps it outside the job config). */
  hydra?: Record<string, unknown>;
}

/**
 * Resolves every interpolation in `root`, in place, and returns it.
 * Errors name the key holding the interpolation and the reference that failed.
 */
export function resolveInterpolations(root: Config, opts: InterpolationOptions = {}): Config {
  const active = new Set<string>(); // interpolations being evaluated: a revisit is a cycle
  const done = new Set<string>(); // already evaluated (results are never re-evaluated)

  /** Resolves the node at `segs`; `deep` also resolves everything below it. */
  const resolveNode = (segs: string[], deep: boolean, from: string): unknown => {
    for (let n = 1; n < segs.length; n++) resolveNode(segs.slice(0, n), false, from);
    const key = segs.join(".");
    const at = getAt(root, segs);
    if (!at.found) {
      throw new ConfigError(
        `Interpolation at '${from}' refers to '${key}', which does not exist.${
          didYouMean(key, listPaths(root))
        }`,
        from,
      );
    }
    let v = at.value;
    if (hasInterpolation(v) && !done.has(key)) {
      if (active.has(key)) {
        throw new ConfigError(
          `Interpolation cycle: ${[...active, key].map((k) => `'${k}'`).join(" -> ")}.`,
          key,
        );
      }
      active.add(key);
      v = evaluate(v, segs);
      setAt(root, segs, v);
      active.delete(key);
      done.add(key);
    }
    if (deep && (isMapping(v) || Array.isArray(v))) {
      for (const k of Object.keys(v)) resolveNode([...segs, k], true, from);
    }
    return getAt(root, segs).value;
  };

  const lookup = (ref: string, holder: string[]): unknown => {
    const where = holder.join(".");
    if (ref === "") throw new ConfigError(`Empty interpolation '\${}' at '${where}'.`, where);
    let segs: string[];
    const rel = /^(\.+)(.*)$/.exec(ref);
    if (rel) {
      // `.x` is a sibling of the holder, each further dot climbs one level.
      const up = rel[1].length - 1;
      if (up > holder.length - 1) {
        throw new ConfigError(`Relative interpolation '${ref}' at '${where}' climbs above the root.`, where);
      }
      segs = [...holder.slice(0, holder.length - 1 - up), ...splitPath(rel[2])];
    } else segs = splitPath(ref);
    const value = resolveNode(segs, true, where);
    if (value === MISSING && !opts.allowMissing) {
      throw new ConfigError(
        `Interpolation at '${where}' refers to '${
          segs.join(".")
        }', a missing mandatory value (???): set it with ${segs.join(".")}=<value>.`,
        segs.join("."),
      );
    }
    return cloneValue(value);
  };

  const callResolver = (name: string, arg: string, holder: string[]): unknown => {
    const where = holder.join(".");
    if (name === "oc.env") {
      const [variable, ...rest] = arg.split(",");
      const value = Deno.env.get(variable.trim());
      if (value !== undefined) return value;
      if (rest.length) return rest.join(",").trim();
      throw new ConfigError(
        `Environment variable '${variable.trim()}' (read at '${where}') is not set.`,
        where,
      );
    }
    if (name === "hydra") {
      const at = getAt(opts.hydra ?? {}, splitPath(arg.trim()));
      if (!at.found) throw new ConfigError(`'\${hydra:${arg}}' at '${where}': no such Hydra key.`, where);
      return at.value;
    }
    throw new ConfigError(
      `Unknown resolver '${name}' at '${where}'.${didYouMean(name, ["oc.env", "hydra"])}`,
      where,
    );
  };

  const evalParts = (parts: Part[], holder: string[], whole: boolean): unknown => {
    const values = parts.map((p) => {
      if ("text" in p) return p.text;
      const expr = String(evalParts(p.interp, holder, false)).trim();
      const res = /^([A-Za-z_][\w.]*):(.*)$/s.exec(expr);
      return res ? callResolver(res[1], res[2], holder) : lookup(expr, holder);
    });
    if (whole && values.length === 1 && !("text" in parts[0])) return values[0];
    return values.map((
      v,
    ) => (typeof v === "string" ? v : isMapping(v) || Array.isArray(v) ? JSON.stringify(v) : String(v)))
      .join("");
  };

  const evaluate = (s: string, holder: string[]): unknown =>
    evalParts(parseTemplate(s, holder.join(".")), holder, true);

  resolveNode([], true, "");
  for (const p of listPaths(root)) {
    const v = getAt(root, splitPath(p)).value;
    if (typeof v === "string" && v.includes(ESCAPED)) setAt(root, splitPath(p), v.replaceAll(ESCAPED, "${"));
  }
  return root;
}

/**
 * Resolves a defaults-list option such as `${model}` against the group choices made so far
 * (Hydra lets a defaults entry name another group's choice: `training: ${model}`).
 */
export function resolveChoice(
  option: string,
  choices: ReadonlyMap<string, string | null>,
  file: string,
): string {
  return option.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    const group = name.trim().replaceAll(".", "/");
    const chosen = choices.get(group);
    if (chosen === undefined || chosen === null) {
      throw new ConfigError(
        `In '${file}': defaults entry '${option}' refers to config group '${group}', which has no choice yet.${
          didYouMean(group, choices.keys())
        }`,
        group,
        file,
      );
    }
    return chosen;
  });
}
