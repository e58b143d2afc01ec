/**
 * Runtime.freezeParameters: while frozen, what an op derives from a parameter (a convolution's weight
 * layout) is made once; results are unchanged; the outermost thaw releases it, after which a changed
 * weight is seen again.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { conv2d } from "../../src/ops/conv2d.ts";

Deno.test("frozen parameters: conv2d derives its weight layout once and gives the same values", async () => {
  const r = await initRuntime();
  const x = r.upload(randn(2 * 8 * 12 * 12, 1), [2, 8, 12, 12]);
  const w = r.upload(randn(16 * 8 * 9, 2), [16, 8, 3, 3]);
  const b = r.upload(randn(16, 3), [16]);
  const plain = await r.read(r.scope(() => conv2d(x, w, b)));

  const dispatches = (fn: () => void) => {
    const before = r.dispatches;
    fn();
    return r.dispatches - before;
  };
  const once = dispatches(() => r.scope(() => void conv2d(x, w, b)));
  const thaw = r.freezeParameters();
  const inner = r.freezeParameters(); // nests: only the outermost thaw releases
  const first = dispatches(() => r.scope(() => void conv2d(x, w, b)));
  const again = dispatches(() => r.scope(() => void conv2d(x, w, b)));
  assertEquals(first, once, "the first frozen call derives the layout as usual");
  assertEquals(again, once - 1, "later frozen calls reuse the layout (one dispatch fewer)");
  const frozen = await r.read(r.scope(() => conv2d(x, w, b)));
  assertEquals(Array.from(frozen), Array.from(plain));
  inner();
  assertEquals(dispatches(() => r.scope(() => void conv2d(x, w, b))), once - 1, "still frozen after the inner thaw");
  thaw();
  assertEquals(dispatches(() => r.scope(() => void conv2d(x, w, b))), once, "thawed: derived again per call");

  // after the thaw a changed weight is used, not a stale layout
  r.write(w, randn(16 * 8 * 9, 4));
  const changed = await r.read(r.scope(() => conv2d(x, w, b)));
  let differ = 0;
  for (let i = 0; i < plain.length; i++) if (changed[i] !== plain[i]) differ++;
  assert(differ > plain.length / 2, `the new weight changed ${differ} of ${plain.length} outputs`);
  for (const t of [x, w, b]) t.release();
});
