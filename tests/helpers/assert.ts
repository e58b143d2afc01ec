/**
 * Minimal assertions (jsr:@std/assert is unreachable from our machines), plus the golden
 * tolerance rule |port - golden| <= atol + rtol * |golden|.
 */
export class AssertionError extends Error {}

export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new AssertionError(`${msg ? msg + ": " : ""}expected ${e}, got ${a}`);
}

export function assertAlmostEquals(actual: number, expected: number, tol = 1e-7, msg?: string): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}expected ${expected} ± ${tol}, got ${actual}`);
  }
}

export function assertThrows(fn: () => unknown, _cls?: unknown, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    if (includes && !(e as Error).message.includes(includes)) {
      throw new AssertionError(`error message "${(e as Error).message}" does not include "${includes}"`);
    }
    return e as Error;
  }
  throw new AssertionError("expected an error");
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  _cls?: unknown,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    if (includes && !(e as Error).message.includes(includes)) {
      throw new AssertionError(`error message "${(e as Error).message}" does not include "${includes}"`);
    }
    return e as Error;
  }
  throw new AssertionError("expected a rejection");
}

/** Worst ratio |a - g| / (atol + rtol |g|) over all elements; <= 1 passes. */
export function worstRatio(
  actual: ArrayLike<number>,
  golden: ArrayLike<number>,
  atol: number,
  rtol: number,
): number {
  if (actual.length !== golden.length) {
    throw new AssertionError(`length ${actual.length} vs golden ${golden.length}`);
  }
  let worst = 0;
  for (let i = 0; i < golden.length; i++) {
    const r = Math.abs(actual[i] - golden[i]) / (atol + rtol * Math.abs(golden[i]));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}

export function assertClose(
  actual: ArrayLike<number>,
  golden: ArrayLike<number>,
  atol: number,
  rtol: number,
  what = "",
): void {
  const w = worstRatio(actual, golden, atol, rtol);
  if (!(w <= 1)) throw new AssertionError(`${what}: worst error/tolerance ratio ${w.toFixed(3)} > 1`);
}
