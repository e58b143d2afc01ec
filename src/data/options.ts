/**
 * Typed access to a dataset's options (the `dataset:` section of a config, minus `type`), with
 * errors that name the dataset type and the key at fault.
 */

import { isAbsolute, resolve } from "node:path";

/** Reads typed values from a dataset's options and rejects keys that the dataset does not know. */
export class DatasetOptions {
  readonly #seen = new Set<string>();

  /**
   * Wraps a dataset's options; keys read are recorded for `rejectUnknown`.
   *
   * @param values the options (snake_case keys as in the reference's YAML)
   * @param where names the dataset in errors, e.g. `dataset (hrrr_mini)`
   * @param baseDir directory that relative paths are resolved against (default: the working directory)
   */
  constructor(readonly values: Record<string, unknown>, readonly where: string, readonly baseDir?: string) {}

  #get(key: string): unknown {
    this.#seen.add(key);
    return this.values[key];
  }

  #fail(key: string, expected: string, v: unknown): never {
    throw new Error(`${this.where}: '${key}' must be ${expected}, got ${JSON.stringify(v)}`);
  }

  /** A required or defaulted string. */
  string(key: string, fallback?: string): string {
    const v = this.#get(key) ?? fallback;
    if (typeof v !== "string" || v === "") {
      if (v === undefined) throw new Error(`${this.where}: missing required key '${key}'`);
      this.#fail(key, "a non-empty string", v);
    }
    return v;
  }

  /** A file path, resolved against the base directory when relative. */
  path(key: string): string {
    const p = this.string(key);
    return isAbsolute(p) ? p : resolve(this.baseDir ?? Deno.cwd(), p);
  }

  /** An optional path: `null` or absent gives `null`. */
  optionalPath(key: string): string | null {
    const v = this.#get(key);
    return v === undefined || v === null ? null : this.path(key);
  }

  /** A list of strings; `null` gives `null` (meaning "all"), absent gives the fallback. */
  stringList(key: string, fallback: string[] | null): string[] | null {
    const v = this.#get(key);
    if (v === undefined) return fallback;
    if (v === null) return null;
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) this.#fail(key, "a list of names", v);
    return [...v];
  }

  /** A list of integers, absent gives the fallback. */
  intList(key: string, fallback: number[]): number[] {
    const v = this.#get(key) ?? fallback;
    if (!Array.isArray(v) || !v.every((n) => Number.isInteger(n))) this.#fail(key, "a list of integers", v);
    return [...v];
  }

  /** A number, absent gives the fallback. */
  number(key: string, fallback: number): number {
    const v = this.#get(key) ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) this.#fail(key, "a finite number", v);
    return v;
  }

  /** An integer >= `min`, absent gives the fallback. */
  integer(key: string, fallback: number, min = 0): number {
    const v = this.#get(key) ?? fallback;
    if (!Number.isInteger(v) || (v as number) < min) this.#fail(key, `an integer >= ${min}`, v);
    return v as number;
  }

  /** A boolean, absent gives the fallback. */
  boolean(key: string, fallback: boolean): boolean {
    const v = this.#get(key) ?? fallback;
    if (typeof v !== "boolean") this.#fail(key, "true or false", v);
    return v;
  }

  /** Marks keys as accepted without reading them (the reference accepts and ignores them). */
  ignore(...keys: string[]): void {
    for (const k of keys) this.#seen.add(k);
  }

  /** Throws if any key was never read: a typo would otherwise be silently ignored. */
  rejectUnknown(): void {
    const unknown = Object.keys(this.values).filter((k) => !this.#seen.has(k));
    if (unknown.length) {
      throw new Error(
        `${this.where}: unknown option(s) ${unknown.map((k) => `'${k}'`).join(", ")}; known: ${
          [...this.#seen].join(", ")
        }`,
      );
    }
  }
}
