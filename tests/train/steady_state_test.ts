/**
 * A training step in steady state allocates nothing: after the first step every device buffer comes
 * from the pool (what `deno task bench` reports as `*_new_buffers`), for both models.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { benchTrainStep } from "../../src/train/bench.ts";
import { conv3Algorithm } from "../../src/ops/conv2d.ts";

const TINY = {
  img_resolution: [16, 16] as [number, number],
  model_channels: 16,
  channel_mult: [1, 2],
  num_blocks: 1,
  attn_resolutions: [8],
  gridtype: "sinusoidal" as const,
  N_grid_channels: 4,
  embedding_type: "zero" as const,
  dropout: 0.1,
};

// "winograd": every plain 3x3 convolution through Winograd, whose weight transforms are remade after each
// optimiser step (the stale ones must go back to the pool before the next step's forward).
for (const algorithm of ["auto", "winograd"] as const) {
  for (const kind of ["regression", "diffusion"] as const) {
    Deno.test(`${kind} training steps after the first create no device buffer (${algorithm} 3x3)`, async () => {
      const r = await initRuntime();
      const before = r.pool.stats().created;
      conv3Algorithm(algorithm);
      try {
        const b = await benchTrainStep(kind, TINY, { B: 2, H: 16, W: 16, repeats: 2 });
        assert(r.pool.stats().created > before, "the first step fills the pool");
        assertEquals(b.newBuffers, 0, "buffers created by the second and third steps");
        assert(b.peakBytes > 0 && Number.isFinite(b.ms), `peak ${b.peakBytes} bytes, ${b.ms} ms`);
      } finally {
        conv3Algorithm("auto");
      }
    });
  }
}
