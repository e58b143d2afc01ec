/**
 * Where the tests find reference data. This is the one place that decides it.
 *
 * - Golden data: the subset committed in tests/fixtures/golden is always there and is what unit tests
 *   read, so a fresh clone passes on its own. The full set (../shared/golden beside the repository, or
 *   $CORRDIFF_SHARED/golden) is used in addition when present: the golden suite then runs every case
 *   of it too.
 * - Real datasets (../shared/data): tests that need them run when present and are otherwise reported
 *   as ignored, with the reason in their name, so they are never counted as passed.
 */
import { pathExists } from "../../src/util/fs.ts";

/** The committed golden subset (see tests/fixtures/golden/README.md). */
export const FIXTURE_GOLDEN_DIR = new URL("../fixtures/golden", import.meta.url).pathname;

/** Lead-time network cases made with the reference (tests/fixtures/make_lead_time_golden.py). */
export const LEAD_TIME_GOLDEN_DIR = new URL("../fixtures/golden_lead_time", import.meta.url).pathname;

/** The shared data directory: $CORRDIFF_SHARED, else ../shared next to the repository. */
export const SHARED_DIR = Deno.env.get("CORRDIFF_SHARED") ??
  new URL("../../../shared", import.meta.url).pathname;

/** The golden directory unit tests read: always the committed fixtures, so results do not depend on the machine. */
export const GOLDEN_DIR = FIXTURE_GOLDEN_DIR;

/** The full golden set, or null when it is not beside the repository. */
export const SHARED_GOLDEN_DIR: string | null = pathExists(`${SHARED_DIR}/golden/manifest.json`)
  ? `${SHARED_DIR}/golden`
  : null;

/** A golden directory and the label tests give it. */
export interface GoldenSource {
  label: "fixtures" | "lead-time" | "shared";
  dir: string;
}

/** Every golden set to run: the fixtures and the lead-time cases always, the full shared set when present. */
export const GOLDEN_SETS: GoldenSource[] = [
  { label: "fixtures", dir: FIXTURE_GOLDEN_DIR },
  { label: "lead-time", dir: LEAD_TIME_GOLDEN_DIR },
  ...(SHARED_GOLDEN_DIR ? [{ label: "shared" as const, dir: SHARED_GOLDEN_DIR }] : []),
];

/** Why the full golden set is not run, or null when it is. */
export const NO_SHARED_GOLDEN_REASON: string | null = SHARED_GOLDEN_DIR
  ? null
  : `${SHARED_DIR}/golden not found (set CORRDIFF_SHARED to the shared directory)`;

/** The real datasets directory (../shared/data or $CORRDIFF_SHARED/data); may not exist. */
export const SHARED_DATA_DIR = `${SHARED_DIR}/data`;

/**
 * A test that needs a file of the real datasets: it runs when `${SHARED_DATA_DIR}/${relPath}` exists,
 * and is otherwise ignored with the reason appended to its name.
 */
export function sharedDataTest(
  name: string,
  relPath: string,
  fn: (path: string) => Promise<void> | void,
): Deno.TestDefinition {
  const path = `${SHARED_DATA_DIR}/${relPath}`;
  const present = pathExists(path);
  return {
    name: present ? name : `${name} [needs ${path}: not found]`,
    ignore: !present,
    fn: () => fn(path),
  };
}
