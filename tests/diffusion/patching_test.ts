/**
 * Patching on the device equals the host reference (which is at golden parity), and fusing grid
 * patches of an image gives the image back.
 */
import { assert, assertEquals, assertThrows, worstRatio } from "../helpers/assert.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { DevicePatching } from "../../src/ops/patching.ts";
import {
  applyPatching,
  fuseGridPatches,
  gridPatching,
  randomCorners,
  randomPatching,
} from "../../src/diffusion/patching.ts";
import { Rng } from "../../src/util/rng.ts";

Deno.test("device grid patching: apply and fuse equal the host reference; fuse(apply(x)) = x", async () => {
  const r = await initRuntime();
  const rng = new Rng(3);
  for (
    const [H, W, Hp, Wp, ov, bd] of [[24, 40, 16, 16, 4, 2], [20, 20, 12, 8, 2, 1], [16, 16, 16, 16, 0, 0]]
  ) {
    const B = 2, C = 3;
    const x = rng.normals(B * C * H * W);
    const gp = gridPatching(H, W, Hp, Wp, ov, bd);
    const dev = new DevicePatching(gp);
    const xt = r.upload(x, [B, C, H, W]);
    const patches = dev.apply(xt);
    const host = applyPatching(gp, x, [B, C, H, W]);
    assertEquals(patches.shape, host.shape);
    const got = await patches.read();
    assert(got.every((v, i) => v === host.data[i]), "device patches equal the host's exactly");
    const fused = await dev.fuse(patches).read();
    assert(worstRatio(fused, fuseGridPatches(gp, host.data, B, C), 1e-6, 1e-6) <= 1, "fuse matches host");
    assert(worstRatio(fused, x, 1e-6, 1e-6) <= 1, `fuse(apply(x)) = x for ${H}x${W}`);
    dev.dispose();
  }
});

Deno.test("random patching: corners inside the image, patch-major order, errors name the patch", async () => {
  const r = await initRuntime();
  const rng = new Rng(9);
  const [H, W, Hp, Wp, P, B, C] = [12, 20, 8, 8, 5, 2, 2];
  const corners = randomCorners(H, W, Hp, Wp, P, () => rng.uniform());
  for (let p = 0; p < P; p++) assert(corners[2 * p] <= H - Hp && corners[2 * p + 1] <= W - Wp);
  const rp = randomPatching(H, W, Hp, Wp, corners);
  const x = rng.normals(B * C * H * W);
  const dev = new DevicePatching(rp);
  const got = await dev.apply(r.upload(x, [B, C, H, W])).read();
  // Patch p of sample b sits at batch index p*B + b and copies the window at its corner.
  const [p, b, c, u, v] = [3, 1, 1, 2, 5];
  const want = x[((b * C + c) * H + corners[2 * p] + u) * W + corners[2 * p + 1] + v];
  assertEquals(got[(((p * B + b) * C + c) * Hp + u) * Wp + v], want);
  dev.dispose();
  assertThrows(() => randomPatching(H, W, Hp, Wp, [H - Hp + 1, 0]), Error, "random patch 0");
  assertThrows(() => gridPatching(16, 16, 8, 8, 4, 2), Error, "overlap");
});
