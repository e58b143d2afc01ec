/**
 * perf.songunet_checkpoint_level: recomputing block activations in the backward pass gives the same
 * gradients (dropout on, so the recomputation must redraw the same masks) and the same loss.
 */
import { initRuntime, rt } from "../../src/gpu/runtime.ts";
import { valueAndGrad } from "../../src/gpu/autograd.ts";
import { sumAll } from "../../src/ops/elementwise.ts";
import { regressionLoss } from "../../src/diffusion/losses.ts";
import { tinyRegressionNet } from "./tiny.ts";
import { Rng } from "../../src/util/rng.ts";
import { assert, assertClose, assertEquals } from "../helpers/assert.ts";

async function gradients(level: number) {
  const r = await initRuntime();
  const net = tinyRegressionNet(11, 0.3);
  net.model.checkpointLevel = level;
  net.ps.setRequiresGrad(true);
  const rng = new Rng(2);
  const y = r.upload(rng.normals(2 * 2 * 256), [2, 2, 16, 16]);
  const x = r.upload(rng.normals(2 * 3 * 256), [2, 3, 16, 16]);
  const before = r.pool.stats().peakBytes;
  const { value, grads } = valueAndGrad(() =>
    sumAll(regressionLoss(net, y, x, { train: true, dropoutSeed: { next: 77 } }))
  );
  const loss = (await value.read())[0];
  const out = new Map<string, Float32Array>();
  for (const [key, p] of net.ps.params) out.set(key, await grads.get(p)!.read());
  net.ps.dispose();
  return { loss, grads: out, peak: r.pool.stats().peakBytes - before };
}

Deno.test("checkpointed blocks give the same loss and gradients as stored activations", async () => {
  const plain = await gradients(0);
  const ck = await gradients(1);
  assertEquals(ck.loss, plain.loss);
  assertEquals([...ck.grads.keys()], [...plain.grads.keys()]);
  let nonzero = 0;
  for (const [k, g] of plain.grads) {
    assertClose(ck.grads.get(k)!, g, 1e-6, 1e-5, k);
    if (g.some((v) => v !== 0)) nonzero++;
  }
  assert(nonzero > plain.grads.size / 2, "most gradients are non-zero");
  void rt;
});
