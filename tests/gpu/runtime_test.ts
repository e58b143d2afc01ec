import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { add, addChannelBias, axpby, full, mul, scale, silu, sumAll } from "../../src/ops/elementwise.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";

Deno.test("upload, kernels and readback round trip", async () => {
  const r = await initRuntime();
  const a = r.upload(new Float32Array([1, 2, 3, 4]), [4]);
  const b = full([4], 0.5);
  const c = axpby(2, a, -4, b);
  assertEquals([...await c.read()], [0, 2, 4, 6]);
  const s = sumAll(c);
  assertEquals((await s.read())[0], 12);
  for (const t of [a, b, c, s]) t.release();
});

Deno.test("scope releases temporaries and keeps the result", async () => {
  const r = await initRuntime();
  const before = r.pool.stats().live;
  const out = r.scope(() => add(full([1000], 1), full([1000], 2)));
  assertEquals(r.pool.stats().live, before + 1);
  assertAlmostEquals((await out.read())[999], 3);
  out.release();
  assertEquals(r.pool.stats().live, before);
  assertThrows(() => out.buffer, Error, "used after release");
});

Deno.test("silu gradient matches finite differences", async () => {
  // 64 values: four per thread (VEC4); 7: one per thread
  for (const n of [64, 7]) {
    const worst = await gradCheck(([x]) => silu(x), [{ data: randn(n, 1), shape: [n] }]);
    assert(worst <= 1, `${n} values: ratio ${worst}`);
  }
});

Deno.test("elementwise kernels agree with the host with four values per thread and with one", async () => {
  const r = await initRuntime();
  for (const n of [4100, 4099, 3]) {
    const xs = randn(n, 20), ys = randn(n, 21);
    const x = r.upload(xs, [n]), y = r.upload(ys, [n]);
    const cases: [string, () => ReturnType<typeof add>, (i: number) => number][] = [
      ["full", () => full([n], 0.25), () => 0.25],
      ["axpby", () => axpby(0.5, x, -2, y), (i) => 0.5 * xs[i] - 2 * ys[i]],
      ["scale", () => scale(x, 3), (i) => 3 * xs[i]],
      ["mul", () => mul(x, y), (i) => xs[i] * ys[i]],
      ["silu", () => silu(x), (i) => xs[i] / (1 + Math.exp(-xs[i]))],
    ];
    for (const [what, run, want] of cases) {
      const t = run();
      const got = await t.read();
      t.release();
      for (let i = 0; i < n; i++) {
        assertAlmostEquals(got[i], want(i), 1e-5 * (1 + Math.abs(want(i))), `${what} n=${n} [${i}]`);
      }
    }
    x.release();
    y.release();
  }
});

Deno.test("channel bias broadcast gradient matches finite differences", async () => {
  for (const rows of [1, 2]) {
    const worst = await gradCheck(([x, b]) => addChannelBias(x, b), [
      { data: randn(2 * 3 * 4 * 5, 2), shape: [2, 3, 4, 5] },
      { data: randn(rows * 3, 3), shape: [rows, 3] },
    ]);
    assert(worst <= 1);
  }
});

Deno.test("oversized tensors are refused with a clear error", async () => {
  const r = await initRuntime();
  const n = r.gpu.limits.maxStorageBufferBindingSize / 4 + 1024;
  assertThrows(() => r.empty([n]), Error, "maxStorageBufferBindingSize");
});

Deno.test("a validation error surfaces at the next read with the kernel's name", async () => {
  const r = await initRuntime();
  const x = r.upload(new Float32Array([1, 2, 3, 4]), [4]);
  // Binding 3 (the output) is missing: the bind group is invalid.
  r.dispatch(r.kernel("elementwise", "scale"), [4, 0, 0, 0], [x], [1]);
  const e = await assertRejects(() => x.read());
  assert(e.message.includes("elementwise.wgsl:scale"), e.message);
  // The runtime stays usable afterwards.
  assertEquals([...await x.read()], [1, 2, 3, 4]);
  x.release();
});
