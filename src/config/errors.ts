/**
 * Configuration errors, and the "did you mean ...?" suggestion every error about a name carries.
 */

/**
 * A configuration could not be composed, overridden or resolved.
 *
 * `key` is the dotted config path (or config group) at fault, `file` the YAML file involved, when known.
 */
export class ConfigError extends Error {
  /** An error with a message, and the config key and YAML file at fault when known. */
  constructor(message: string, readonly key?: string, readonly file?: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Levenshtein distance (insertions, deletions and substitutions each cost 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, prev[j] + 1, cur[j - 1] + 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The candidate closest to `name`, if it is close enough to be a plausible typo: within a third of the
 * name's length (at least 2 edits), or a candidate whose last segment (after `.` or `/`) is the bare name itself.
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const leaf = name.slice(Math.max(name.lastIndexOf("."), name.lastIndexOf("/")) + 1);
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    // A key written at the wrong depth (`lr` for `training.hp.lr`, `sampler` for `generation/sampler`)
    // counts as a near miss.
    const bare = !/[./]/.test(name);
    const d = bare && (c.endsWith("." + leaf) || c.endsWith("/" + leaf)) ? 1 : editDistance(name, c);
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return bestDist <= limit ? best : undefined;
}

/** `" Did you mean 'x'?"`, or the empty string when nothing is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c === undefined ? "" : ` Did you mean '${c}'?`;
}
