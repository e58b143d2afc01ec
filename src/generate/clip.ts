/**
 * `generation.clip`: physical bounds of output variables, applied to every member written (and to the
 * regression mean where it is what is written). The networks know nothing of a field's physical range:
 * radar reflectivity composites, for one, are floored where there is no echo, and members trained on them
 * still fall below the floor. Clipping there is a choice about the product, so it is off unless asked for:
 *
 * ```yaml
 * generation:
 *   clip:
 *     refc: [-10, null]   # [min, max] in the variable's units; null: unbounded on that side
 * ```
 */
import { didYouMean } from "../config/errors.ts";
import { isMapping } from "../config/tree.ts";

/** Closed bounds of one variable (an open side is -Infinity or Infinity). */
export interface Bounds {
  /** Lower bound (-Infinity: open). */
  min: number;
  /** Upper bound (Infinity: open). */
  max: number;
}

/** Reads `generation.clip` (absent or null: no clipping) into bounds per variable name. */
export function parseClip(value: unknown): Map<string, Bounds> {
  const out = new Map<string, Bounds>();
  if (value === undefined || value === null) return out;
  if (!isMapping(value)) {
    throw new Error(
      `generation.clip must map output variables to [min, max] (null for an open side), got ${
        JSON.stringify(value)
      }`,
    );
  }
  for (const [name, v] of Object.entries(value)) {
    const side = (x: unknown) => x === null || (typeof x === "number" && Number.isFinite(x));
    if (
      !Array.isArray(v) || v.length !== 2 || !side(v[0]) || !side(v[1]) || (v[0] === null && v[1] === null)
    ) {
      throw new Error(
        `generation.clip.${name} must be [min, max] with numbers (null for an open side, not both), got ${
          JSON.stringify(v)
        }`,
      );
    }
    const b = { min: v[0] ?? -Infinity, max: v[1] ?? Infinity };
    if (!(b.min < b.max)) throw new Error(`generation.clip.${name}: min ${b.min} is not below max ${b.max}`);
    out.set(name, b);
  }
  return out;
}

/** The bounds of each output channel in order (null: unclipped); a name that is no output variable fails. */
export function channelBounds(clip: Map<string, Bounds>, outputNames: string[]): (Bounds | null)[] {
  for (const name of clip.keys()) {
    if (!outputNames.includes(name)) {
      throw new Error(
        `generation.clip.${name}: not an output variable of the dataset (${outputNames.join(", ")}).${
          didYouMean(name, outputNames)
        }`,
      );
    }
  }
  return outputNames.map((n) => clip.get(n) ?? null);
}

/** Clips `fields` ([channel][plane], physical units) in place to each channel's bounds. */
export function clipFields(fields: Float32Array, bounds: (Bounds | null)[], plane: number): void {
  bounds.forEach((b, c) => {
    if (!b) return;
    const f = fields.subarray(c * plane, (c + 1) * plane);
    for (let i = 0; i < f.length; i++) f[i] = Math.min(Math.max(f[i], b.min), b.max);
  });
}

/** The clipping in words, for the output file's `source` attribute ("" when none). */
export function describeClip(clip: Map<string, Bounds>): string {
  if (clip.size === 0) return "";
  const parts = [...clip].map(([n, b]) => `${n} to [${b.min}, ${b.max}]`);
  return `, members clipped: ${parts.join(", ")}`;
}
