/** avgPool2: a float64 host oracle on odd and even sizes, and finite-difference gradients. */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { avgPool2 } from "../../src/ops/pool.ts";

Deno.test("avgPool2 matches the mean of each 2x2 block (floor on odd sizes)", async () => {
  const r = await initRuntime();
  // rows a multiple of 4 long take the vec4 path
  for (const [B, C, H, W] of [[2, 3, 6, 10], [1, 2, 7, 5], [1, 1, 2, 130], [2, 3, 6, 12], [1, 2, 9, 16]]) {
    const x = randn(B * C * H * W, H + W);
    const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2);
    const got = await r.read(avgPool2(r.upload(x, [B, C, H, W])));
    assertEquals(got.length, B * C * Ho * Wo);
    let worst = 0;
    for (let bc = 0; bc < B * C; bc++) {
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          const at = (y: number, c: number) => x[(bc * H + y) * W + c];
          const want =
            (at(2 * i, 2 * j) + at(2 * i, 2 * j + 1) + at(2 * i + 1, 2 * j) + at(2 * i + 1, 2 * j + 1)) / 4;
          worst = Math.max(worst, Math.abs(got[(bc * Ho + i) * Wo + j] - want));
        }
      }
    }
    assert(worst < 1e-6, `[${[B, C, H, W]}]: worst error ${worst}`);
  }
});

Deno.test("avgPool2 gradient matches finite differences (odd last row and column get none)", async () => {
  const x = { data: randn(2 * 2 * 5 * 7, 3), shape: [2, 2, 5, 7] };
  assert(await gradCheck(([t]) => avgPool2(t), [x], { samples: 40 }) <= 1);
  const x4 = { data: randn(2 * 2 * 6 * 8, 4), shape: [2, 2, 6, 8] }; // the vec4 forward
  assert(await gradCheck(([t]) => avgPool2(t), [x4], { samples: 40 }) <= 1);
});

Deno.test("avgPool2 refuses tensors it cannot pool", async () => {
  const r = await initRuntime();
  assertThrows(() => avgPool2(r.upload(new Float32Array(6), [1, 1, 1, 6])), Error, "H, W >= 2");
  assertThrows(() => avgPool2(r.upload(new Float32Array(6), [6])), Error, "[B, C, H, W]");
});
