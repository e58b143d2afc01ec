/**
 * Runtime.derived: what an op derives from a parameter (a convolution's weight layout) is made once per
 * version of the parameter's contents: reused while nothing writes its buffer, made again after a host
 * write, a copy, a kernel writing it, or a rebinding to another buffer (a parameter arena). Results are
 * unchanged by the reuse; freezeParameters' outermost thaw releases what was derived.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { conv2d } from "../../src/ops/conv2d.ts";
import { matmulInto } from "../../src/ops/matmul.ts";

Deno.test("derived weight layouts are reused until the weight's buffer is written", async () => {
  const r = await initRuntime();
  const x = r.upload(randn(2 * 8 * 12 * 12, 1), [2, 8, 12, 12]);
  const w = r.upload(randn(16 * 8 * 9, 2), [16, 8, 3, 3]);
  const b = r.upload(randn(16, 3), [16]);
  const dispatches = (fn: () => void) => {
    const before = r.dispatches;
    fn();
    return r.dispatches - before;
  };
  const run = () => r.scope(() => conv2d(x, w, b));
  const first = dispatches(() => run().release());
  const again = dispatches(() => run().release());
  assertEquals(again, first - 1, "a second call reuses the layout (one dispatch fewer)");
  const plain = await r.read(run());

  // each kind of write makes the next call lay the weight out again, with the new values
  const outputsAfter = async (what: string, write: () => void) => {
    write();
    assertEquals(dispatches(() => run().release()), first, `${what}: laid out again`);
    const got = await r.read(run());
    let differ = 0;
    for (let i = 0; i < plain.length; i++) if (got[i] !== plain[i]) differ++;
    assert(differ > plain.length / 2, `${what}: the new weight changed ${differ} of ${plain.length} outputs`);
    r.write(w, randn(16 * 8 * 9, 2)); // back to the first weight
    assertEquals(Array.from(await r.read(run())), Array.from(plain), `${what}: the first weight again`);
  };
  await outputsAfter("a host write", () => r.write(w, randn(16 * 8 * 9, 4)));
  const other = r.upload(randn(16 * 8 * 9, 5), [16, 8, 3, 3]);
  await outputsAfter("a copy", () => r.copy(other, 0, w, 0, w.size));
  // a kernel writing the weight's buffer (the way an optimiser step does): w = 2 * other, a product
  // whose output binding is w
  const two = r.upload(new Float32Array([2]), [1, 1]);
  await outputsAfter(
    "a kernel",
    () =>
      matmulInto({ M: 1, N: w.size, K: 1 }, { t: two, is: 1, js: 1 }, { t: other, is: w.size, js: 1 }, {
        t: w,
        is: w.size,
        js: 1,
      }),
  );

  // frozen runs keep the layout; the outermost thaw releases it
  const thaw = r.freezeParameters();
  const inner = r.freezeParameters();
  run().release();
  assertEquals(dispatches(() => run().release()), first - 1, "frozen: reused");
  inner();
  assertEquals(dispatches(() => run().release()), first - 1, "still frozen after the inner thaw");
  thaw();
  assertEquals(dispatches(() => run().release()), first, "thawed: released, laid out again");

  // a parameter moved into an arena (the same tensor object, another buffer) is laid out again
  const arena = r.upload(randn(16 * 8 * 9, 6), [16 * 8 * 9]);
  await outputsAfter("a rebinding", () => w.rebind(arena.buffer, 0));
  for (const t of [x, w, b, other, two, arena]) t.release();
});

Deno.test("a weight image derived from a derived layout follows the weight and is not leaked", async () => {
  const r = await initRuntime();
  // a plain 1x1 convolution reads its laid-out weights through an image where the runtime uses images
  const x = r.upload(randn(2 * 8 * 12 * 12, 11), [2, 8, 12, 12]);
  const w = r.upload(randn(16 * 8, 12), [16, 8, 1, 1]);
  const run = () => r.read(r.scope(() => conv2d(x, w, null)));
  const want = async () => {
    const wh = await w.read(), xh = await x.read();
    const y = new Float32Array(2 * 16 * 144);
    for (let b = 0; b < 2; b++) {
      for (let co = 0; co < 16; co++) {
        for (let p = 0; p < 144; p++) {
          let s = 0;
          for (let ci = 0; ci < 8; ci++) s += wh[co * 8 + ci] * xh[(b * 8 + ci) * 144 + p];
          y[(b * 16 + co) * 144 + p] = s;
        }
      }
    }
    return y;
  };
  const close = (a: Float32Array, b: Float32Array) => a.every((v, i) => Math.abs(v - b[i]) < 1e-4);
  assert(close(await run(), await want()), "first weight");
  const bytes = r.images.bytes;
  for (let k = 0; k < 4; k++) {
    r.write(w, randn(16 * 8, 20 + k));
    assert(close(await run(), await want()), `weight version ${k + 2}: the image follows the write`);
  }
  if (r.useImages) assertEquals(r.images.bytes, bytes, "stale weight images went back to the pool");
  for (const t of [x, w]) t.release();
});
