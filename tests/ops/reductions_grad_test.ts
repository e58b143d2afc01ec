/**
 * The reductions, the axis softmax and the per-sample product record their backward (used on a
 * tracked tensor they used to cut the gradient silently), checked against finite differences; the
 * patch gather and fuse, which have no backward, refuse a tracked input.
 */
import { initRuntime } from "../../src/gpu/runtime.ts";
import { startTape, stopTape } from "../../src/gpu/autograd.ts";
import { mulPerSample, sumLeading, sumRows } from "../../src/ops/elementwise.ts";
import { softmaxAxis } from "../../src/ops/softmax.ts";
import { DevicePatching } from "../../src/ops/patching.ts";
import { gridPatching, randomPatching } from "../../src/diffusion/patching.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { assert, assertThrows } from "../helpers/assert.ts";

Deno.test("sumRows and sumLeading gradients match finite differences", async () => {
  const x = { data: randn(6 * 5, 1), shape: [6, 5] };
  assert(await gradCheck(([t]) => sumRows(t, 6), [x]) <= 1, "sumRows");
  assert(await gradCheck(([t]) => sumLeading(t, 3), [x]) <= 1, "sumLeading");
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
