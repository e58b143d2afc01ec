/**
 * The HRRR-mini statistics file: `{"input": {var: {"mean": m, "std": s}}, "output": {...},
 * "invariant": {...}}`, one mean and standard deviation per variable of each group.
 */

import { ChannelNormalization } from "./normalize.ts";

/** Mean and standard deviation of one variable. */
export interface VariableStats {
  /** Mean, in the variable's physical units. */
  mean: number;
  /** Standard deviation, in the variable's physical units. */
  std: number;
}

/** Statistics by group (`input`, `output`, `invariant`) and variable name. */
export type StatsTable = Record<string, Record<string, VariableStats>>;

/** Reads and parses a statistics JSON file; errors name the file. */
export async function readStatsJson(path: string): Promise<StatsTable> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: no such statistics file`);
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error(`${path}: expected an object of groups {"input": ..., "output": ..., "invariant": ...}`);
  }
  return json as StatsTable;
}

/**
 * Builds the normalisation of `variables` of `group` from a statistics table. Errors name the file,
 * the group and the variable that is missing or malformed.
 */
export function normalizationFor(
  stats: StatsTable,
  group: string,
  variables: string[],
  source: string,
): ChannelNormalization {
  const mean: number[] = [], std: number[] = [];
  for (const v of variables) {
    const s = stats[group]?.[v];
    if (s === undefined) {
      const known = Object.keys(stats[group] ?? {}).join(", ") || "none";
      throw new Error(`${source}: no statistics for ${group} variable '${v}' (${group} has: ${known})`);
    }
    if (typeof s !== "object" || s === null || typeof s.mean !== "number" || typeof s.std !== "number") {
      throw new Error(`${source}: ${group}.${v} needs numeric "mean" and "std", got ${JSON.stringify(s)}`);
    }
    mean.push(s.mean);
    std.push(s.std);
  }
  return new ChannelNormalization(mean, std, variables.map((v) => `${group}/${v}`), source);
}

/** Concatenates normalisations channel-wise (HRRR-mini: inputs followed by invariants). */
export function concatNormalizations(parts: ChannelNormalization[], source: string): ChannelNormalization {
  return new ChannelNormalization(
    parts.flatMap((p) => [...p.mean]),
    parts.flatMap((p) => [...p.std]),
    parts.flatMap((p) => p.names),
    source,
  );
}
