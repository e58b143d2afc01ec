/**
 * The reductions, the axis softmax and the per-sample product record their backward (used on a
 * tracked tensor they used to cut the gradient silently), checked against finite differences; the
 * patch gather and fuse, which have no backward, refuse a tracked input.
 */
import { initRuntime } from "../../src/gpu/runtime.ts";
import { startTape, stopTape, valueAndGrad } from "../../src/gpu/autograd.ts";
import { axpby, mul, mulPerSample, sumLeading, sumRows } from "../../src/ops/elementwise.ts";
import { softmaxAxis } from "../../src/ops/softmax.ts";
import { DevicePatching } from "../../src/ops/patching.ts";
import { gridPatching, randomPatching } from "../../src/diffusion/patching.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";

Deno.test("sumRows and sumLeading gradients match finite differences", async () => {
  const x = { data: randn(6 * 5, 1), shape: [6, 5] };
  assert(await gradCheck(([t]) => sumRows(t, 6), [x]) <= 1, "sumRows");
  // rows a multiple of 4 long: read as vec4s
  const x8 = { data: randn(6 * 8, 2), shape: [6, 8] };
  assert(await gradCheck(([t]) => sumRows(t, 6), [x8]) <= 1, "sumRows, vec4 rows");
  assert(await gradCheck(([t]) => sumLeading(t, 3), [x]) <= 1, "sumLeading");
});

Deno.test("axpby gradients (shared when the coefficients are equal, g itself for 1) match finite differences", async () => {
  const x = { data: randn(4 * 3, 6), shape: [4, 3] };
  const y = { data: randn(4 * 3, 7), shape: [4, 3] };
  for (const [a, b] of [[0.7, 0.7], [1, 1], [1, -0.5], [-2, 1], [0.3, 1.5]]) {
    // the product with y makes the output gradient non-uniform, and y's gradient flows through both uses
    assert(
      await gradCheck(([u, v]) => mul(axpby(a, u, b, v), v), [x, y]) <= 1,
      `axpby(${a}, x, ${b}, y) * y`,
    );
    assert(await gradCheck(([u]) => axpby(a, u, b, u), [x]) <= 1, `axpby(${a}, x, ${b}, x)`);
  }
});

Deno.test("leaves whose gradient is one tensor (x + y) each get their own, to release independently", async () => {
  const r = await initRuntime();
  const x = r.upload(randn(6, 8), [6]), y = r.upload(randn(6, 9), [6]);
  x.requiresGrad = y.requiresGrad = true;
  const { value, grads } = valueAndGrad(() => axpby(1, x, 1, y));
  const gx = grads.get(x)!, gy = grads.get(y)!;
  assert(gx !== gy && (gx.base ?? gx) !== (gy.base ?? gy), "distinct tensors");
  gx.release();
  assertEquals(Array.from(await gy.read()), [1, 1, 1, 1, 1, 1]);
  for (const t of [value, gy, x, y]) t.release();
});

Deno.test("mulPerSample gradients in x and in the coefficients match finite differences", async () => {
  const x = { data: randn(3 * 2 * 4, 4), shape: [3, 2, 4] };
  const coef = { data: randn(3, 5), shape: [3] };
  assert(await gradCheck(([t, c]) => mulPerSample(t, c), [x, coef]) <= 1, "both");
  assert(await gradCheck(([t, c]) => mulPerSample(t, c), [{ ...x, grad: false }, coef]) <= 1, "coef only");
});

Deno.test("softmaxAxis gradient along a middle axis (with padding) matches finite differences", async () => {
  const x = { data: randn(2 * 5 * 3, 2), shape: [2, 5, 3] };
  assert(await gradCheck(([t]) => softmaxAxis(t, 2, 5, 3, 4), [x], { samples: 30 }) <= 1);
});

Deno.test("patch apply refuses a tensor that needs a gradient", async () => {
  const r = await initRuntime();
  const dev = new DevicePatching(randomPatching(4, 4, 2, 2, [0, 0, 2, 2]));
  const x = r.upload(randn(16, 3), [1, 1, 4, 4]);
  x.requiresGrad = true;
  startTape();
  try {
    assertThrows(() => dev.apply(x), Error, "patch apply has no gradient");
  } finally {
    stopTape();
    dev.dispose();
  }
});

Deno.test("patch fuse refuses patches that need a gradient", async () => {
  const r = await initRuntime();
  const dev = new DevicePatching(gridPatching(8, 8, 4, 4));
  const patches = r.upload(randn(4 * 4 * 4, 6), [4, 1, 4, 4]);
  patches.requiresGrad = true;
  startTape();
  try {
    assertThrows(() => dev.fuse(patches), Error, "patch fuse has no gradient");
  } finally {
    stopTape();
    dev.dispose();
  }
});
