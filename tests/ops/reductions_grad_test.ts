/**
 * The reductions and the axis softmax record their backward (used on a tracked tensor they used to
 * cut the gradient silently), checked against finite differences; the patch gather, which has no
 * backward, refuses a tracked input.
 */
import { initRuntime } from "../../src/gpu/runtime.ts";
import { startTape, stopTape } from "../../src/gpu/autograd.ts";
import { sumLeading, sumRows } from "../../src/ops/elementwise.ts";
import { softmaxAxis } from "../../src/ops/softmax.ts";
import { DevicePatching } from "../../src/ops/patching.ts";
import { randomPatching } from "../../src/diffusion/patching.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { assert, assertThrows } from "../helpers/assert.ts";

Deno.test("sumRows and sumLeading gradients match finite differences", async () => {
  const x = { data: randn(6 * 5, 1), shape: [6, 5] };
  assert(await gradCheck(([t]) => sumRows(t, 6), [x]) <= 1, "sumRows");
  assert(await gradCheck(([t]) => sumLeading(t, 3), [x]) <= 1, "sumLeading");
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
