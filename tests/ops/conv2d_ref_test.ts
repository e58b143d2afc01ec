/** The reference convolution's backward against finite differences, for k = 1, 3 and each resampling. */
import { assert } from "../helpers/assert.ts";
import { conv2dRef } from "../../src/ops/conv2d_ref.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";

for (const k of [1, 3]) {
  for (const mode of ["plain", "up", "down"] as const) {
    Deno.test(`conv2dRef gradients match finite differences: k=${k}, ${mode}`, async () => {
      const [B, Ci, Co, H, W] = [2, 3, 4, 6, 10];
      const worst = await gradCheck(
        ([x, w, b]) => conv2dRef(x, w, b, { up: mode === "up", down: mode === "down" }),
        [
          { data: randn(B * Ci * H * W, 1), shape: [B, Ci, H, W] },
          { data: randn(Co * Ci * k * k, 2), shape: [Co, Ci, k, k] },
          { data: randn(Co, 3), shape: [Co] },
        ],
        { samples: 12 },
      );
      assert(worst <= 1);
    });
  }
}
