import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { valueAndGrad } from "../../src/gpu/autograd.ts";
import { full } from "../../src/ops/elementwise.ts";
import { dropout } from "../../src/ops/dropout.ts";

const N = 1 << 16;

/** Keep mask (1 kept, 0 dropped) of dropout applied to ones. */
async function mask(n: number, p: number, seed: number, profile: "cpu" | "gpu" = "cpu"): Promise<Uint8Array> {
  const y = dropout(full([n], 1), p, seed, true, profile);
  const host = await y.read();
  y.release();
  const scale = Math.fround(1 / (1 - p));
  return Uint8Array.from(host, (v, i) => {
    if (v !== 0 && v !== scale) throw new Error(`element ${i} is ${v}, neither 0 nor ${scale}`);
    return v === 0 ? 0 : 1;
  });
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/** Pearson correlation of two 0/1 sequences. */
function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ma = mean(a), mb = mean(b);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

Deno.test("dropout is the identity in eval mode and for p = 0", async () => {
  const r = await initRuntime();
  const x = r.upload(randn(100, 1), [4, 25]);
  assert(dropout(x, 0.3, 1, false) === x, "eval mode returns x");
  assert(dropout(x, 0, 1, true) === x, "p = 0 returns x");
  const zero = dropout(x, 1, 1, true);
  assertEquals([...await zero.read()].every((v) => v === 0), true, "p = 1 drops everything");
  assertThrows(() => dropout(x, 1.5, 1, true), Error, "[0, 1]");
  assertThrows(() => dropout(x, 0.1, -1, true), Error, "seed");
  x.release();
  zero.release();
});

Deno.test("dropout keeps 1 - p of the values, preserves the mean, and has no visible correlations", async () => {
  await initRuntime();
  const p = 0.3;
  const m = await mask(N, p, 1234);
  const kept = mean(m);
  const sd = Math.sqrt(p * (1 - p) / N); // about 0.0018
  assert(Math.abs(kept - (1 - p)) < 5 * sd, `kept fraction ${kept}`);
  // E[out] = x: the scaled mask averages to 1 within its standard error.
  const outMean = kept / (1 - p);
  assert(Math.abs(outMean - 1) < 5 * sd / (1 - p), `mean of dropout(ones) ${outMean}`);
  const other = await mask(N, p, 1235);
  const limit = 5 / Math.sqrt(N);
  assert(
    Math.abs(correlation(m, other)) < limit,
    `masks of seeds 1234 and 1235 correlate: ${correlation(m, other)}`,
  );
  assert(
    Math.abs(correlation(m.subarray(1), m.subarray(0, N - 1))) < limit,
    "neighbouring elements correlate",
  );
  const high = await mask(N, p, 1234 + 2 ** 32);
  assert(Math.abs(correlation(m, high)) < limit, "the seed's high bits are ignored");
});

Deno.test("dropout masks depend only on (seed, element index)", async () => {
  await initRuntime();
  const a = await mask(N, 0.5, 7, "cpu");
  assertEquals([...await mask(N, 0.5, 7, "cpu")], [...a], "same seed, same mask");
  assertEquals([...await mask(N, 0.5, 7, "gpu")], [...a], "both kernel families agree");
  // An odd length takes the scalar entry point; its mask is a prefix of the vec4 one.
  assertEquals([...await mask(1001, 0.5, 7, "cpu")], [...a.subarray(0, 1001)], "scalar and vec4 paths agree");
  assertEquals([...await mask(1001, 0.5, 7, "gpu")], [...a.subarray(0, 1001)], "scalar path, gpu family");
  assert(a.some((v, i) => v !== (a[i + 1] ?? v)), "mask is not constant");
});

Deno.test("dropout's gradient is the output gradient times the same mask and scale", async () => {
  const r = await initRuntime();
  for (const n of [4096, 999]) {
    const p = 0.25;
    const x = r.upload(randn(n, 3), [n]).keep(); // like a parameter: the tape must not release it
    x.requiresGrad = true;
    const gh = randn(n, 4);
    const { value, grads } = valueAndGrad(() => dropout(x, p, 99, true), () => r.upload(gh, [n]));
    const [y, gx, xh] = await Promise.all([value.read(), grads.get(x)!.read(), x.read()]);
    const scale = Math.fround(1 / (1 - p));
    for (let i = 0; i < n; i++) {
      const kept = y[i] !== 0;
      if (kept) assertEquals(y[i], Math.fround(xh[i] * scale), `y[${i}]`);
      assertEquals(gx[i], kept ? Math.fround(gh[i] * scale) : 0, `dx[${i}]`);
    }
    for (const t of [x, value, ...grads.values()]) t.release();
  }
});
