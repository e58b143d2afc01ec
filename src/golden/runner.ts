/**
 * Runs every case of every file in a golden manifest and compares each output with the case's
 * tolerance (|port - golden| <= atol + rtol |golden|). Driven by the manifest alone: handlers are
 * chosen from a case's name and inputs, networks are built from the listed class and kwargs.
 */
import { type CaseSpec, GoldenSet, type Tolerance } from "./manifest.ts";
import { findHandler } from "./handlers.ts";

/** Outcome of a golden case. */
export type Status = "PASS" | "FAIL" | "UNSUPPORTED";

/** A golden case's outcome with its worst error/tolerance ratio. */
export interface CaseResult {
  /** Name of the manifest's file entry. */
  file: string;
  /** Name of the case within the file entry. */
  caseName: string;
  /** Whether the case passed, failed or has no handler. */
  status: Status;
  /** Worst error/tolerance ratio over the case's outputs (<= 1 passes). */
  worst: number;
  /** The output with the worst ratio, or why the case failed / is unsupported. */
  detail: string;
  /** Wall-clock time the case took, in seconds (0 when unsupported). */
  seconds: number;
}

/** Outputs computed by a handler, by tensor name. */
export type Outputs = Map<string, ArrayLike<number>>;

/** What a handler gets: the golden set, the file entry's name, the case. */
export interface CaseContext {
  golden: GoldenSet;
  file: string;
  caseName: string;
  spec: CaseSpec;
}

/** Compares outputs with the golden tensors; returns the worst ratio and where it occurred. */
export function compareOutputs(ctx: CaseContext, got: Outputs): { worst: number; where: string } {
  let worst = 0, where = "";
  for (const name of ctx.spec.outputs) {
    const mine = got.get(name);
    if (!mine) throw new Error(`output ${name} was not produced`);
    const golden = ctx.golden.f32(ctx.file, name);
    if (mine.length !== golden.length) {
      throw new Error(`output ${name}: ${mine.length} values, golden has ${golden.length}`);
    }
    const tol = ctx.spec.tolerance?.[name] ?? ctx.spec.tolerance?.default ?? { atol: 1e-5, rtol: 1e-4 };
    const exact = tol === "exact";
    let { atol, rtol } = exact ? { atol: 0, rtol: 0 } : tol as Tolerance;
    // Some tolerances are stated relative to the largest golden magnitude of the tensor.
    if (!exact && /max\|golden\|/.test((tol as Tolerance & { note?: string }).note ?? "")) {
      atol = Math.max(atol, rtol * golden.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
      rtol = 0;
    }
    let w = 0;
    for (let i = 0; i < golden.length; i++) {
      const err = Math.abs(mine[i] - golden[i]);
      const r = exact ? (err === 0 ? 0 : Infinity) : err / (atol + rtol * Math.abs(golden[i]));
      if (!(r <= w)) w = Number.isNaN(r) ? Infinity : r;
    }
    if (w >= worst) {
      worst = w;
      where = name;
    }
  }
  return { worst, where };
}

/** Runs one case. */
export async function runCase(golden: GoldenSet, file: string, caseName: string): Promise<CaseResult> {
  const spec = golden.manifest.files[file].cases[caseName];
  const ctx: CaseContext = { golden, file, caseName, spec };
  const t0 = performance.now();
  const handler = findHandler(ctx);
  const seconds = () => (performance.now() - t0) / 1000;
  if (!handler) {
    return { file, caseName, status: "UNSUPPORTED", worst: NaN, detail: "no handler yet", seconds: 0 };
  }
  try {
    const got = await handler(ctx);
    if (got === "unsupported") {
      return {
        file,
        caseName,
        status: "UNSUPPORTED",
        worst: NaN,
        detail: "not implemented",
        seconds: seconds(),
      };
    }
    const { worst, where } = compareOutputs(ctx, got);
    return { file, caseName, status: worst <= 1 ? "PASS" : "FAIL", worst, detail: where, seconds: seconds() };
  } catch (e) {
    return {
      file,
      caseName,
      status: "FAIL",
      worst: Infinity,
      detail: (e as Error).stack ?? String(e),
      seconds: seconds(),
    };
  }
}

/** Runs every case in the manifest (optionally only files/cases matching `filter`), calling `report` per case. */
export async function runGolden(
  dir: string,
  opts: { filter?: RegExp; report?: (r: CaseResult) => void } = {},
): Promise<CaseResult[]> {
  const golden = new GoldenSet(dir);
  const results: CaseResult[] = [];
  for (const [file, fspec] of Object.entries(golden.manifest.files)) {
    for (const caseName of Object.keys(fspec.cases)) {
      if (opts.filter && !opts.filter.test(`${file}/${caseName}`)) continue;
      const r = await runCase(golden, file, caseName);
      results.push(r);
      opts.report?.(r);
    }
  }
  return results;
}

/** One line per case: status, file/case, worst ratio and where. */
export function formatResult(r: CaseResult): string {
  const w = Number.isFinite(r.worst) ? r.worst.toFixed(4) : String(r.worst);
  const detail = r.status === "FAIL" ? `  ${r.detail.split("\n")[0]}` : r.detail ? `  (${r.detail})` : "";
  return `${r.status.padEnd(11)} ${r.file}/${r.caseName}  worst=${w}  ${r.seconds.toFixed(2)}s${detail}`;
}
