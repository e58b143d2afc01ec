/**
 * Network construction and checkpoints: parameter counts and state-dict keys equal the reference's
 * (from the golden manifest), weights survive a safetensors round trip, and fresh initialisation
 * follows the reference's rules.
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../helpers/assert.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { GoldenSet } from "../../src/golden/manifest.ts";
import { buildNetwork, CorrDiffRegressionUNet } from "../../src/nn/wrappers.ts";
import { GOLDEN_SETS } from "../helpers/shared.ts";
import { Rng } from "../../src/util/rng.ts";

for (const { label, dir } of GOLDEN_SETS) {
  Deno.test(`every golden network (${label}) builds with the reference's parameter count and state-dict keys`, async () => {
    await initRuntime();
    const golden = new GoldenSet(dir);
    const withNetworks = Object.entries(golden.manifest.files).filter(([, f]) =>
      f.networks?.["<unprefixed>"]
    );
    // The fixtures hold three (SongUNet, the regression and the EDM wrappers), the lead-time set two,
    // the full set seven.
    assert(withNetworks.length >= 2, "expected several networks in the manifest");
    for (const [name, f] of withNetworks) {
      const spec = f.networks!["<unprefixed>"] as unknown as {
        class: string;
        kwargs: Record<string, unknown>;
        num_parameters: number;
        num_state_tensors: number;
      };
      const net = buildNetwork(spec);
      assertEquals(net.ps.numParameters, spec.num_parameters, `${name} parameters`);
      assertEquals(net.ps.params.size + net.ps.buffers.size, spec.num_state_tensors, `${name} state tensors`);
      // Every key we hold exists in the golden file with the same shape.
      const file = golden.file(name);
      for (const [k, t] of net.ps.params) {
        assertEquals(file.tensors.get(k)?.shape, [...t.shape], `${name} ${k}`);
      }
      net.ps.dispose();
    }
  });
}

Deno.test("weights round-trip through safetensors and give identical outputs", async () => {
  const r = await initRuntime();
  const kw = {
    img_resolution: [16, 24] as [number, number],
    img_in_channels: 5,
    img_out_channels: 2,
    model_channels: 8,
    channel_mult: [1, 2],
    num_blocks: 1,
    attn_resolutions: [8],
    embedding_type: "zero" as const,
    dropout: 0,
  };
  const a = new CorrDiffRegressionUNet(kw, 3);
  const dir = await Deno.makeTempDir();
  try {
    await a.ps.save(`${dir}/w.safetensors`);
    const b = new CorrDiffRegressionUNet(kw, 99);
    b.ps.load(`${dir}/w.safetensors`);
    const rng = new Rng(5);
    const x = r.upload(new Float32Array(2 * 2 * 16 * 24), [2, 2, 16, 24]);
    const lr = r.upload(rng.normals(2 * 1 * 16 * 24), [2, 1, 16, 24]);
    const ya = await a.forward(x, lr, { train: false }).read();
    const yb = await b.forward(x, lr, { train: false }).read();
    assertEquals([...ya], [...yb]);
    assert(ya.some((v) => v !== 0));
    // A file for another shape is refused with the key and both shapes named.
    const c = new CorrDiffRegressionUNet({ ...kw, model_channels: 16 }, 1);
    assertThrows(() => c.ps.load(`${dir}/w.safetensors`), Error, "model.enc.16x16_conv.weight");
    for (const n of [a, b, c]) n.ps.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("initialisation follows the reference: xavier-uniform weights, zero biases, unit norms", async () => {
  await initRuntime();
  const net = new CorrDiffRegressionUNet({
    img_resolution: 16,
    img_in_channels: 3,
    img_out_channels: 1,
    model_channels: 32,
    channel_mult: [1],
    num_blocks: 1,
    attn_resolutions: [],
    embedding_type: "zero",
    dropout: 0,
  }, 7);
  const w = await net.ps.params.get("model.enc.16x16_block0.conv0.weight")!.read();
  const bound = Math.sqrt(6 / (32 * 9 + 32 * 9));
  const max = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert(max <= bound && max > 0.95 * bound, `max |w| ${max} vs bound ${bound}`);
  const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
  assertAlmostEquals(variance, bound * bound / 3, 0.05 * bound * bound / 3);
  const zeroInit = await net.ps.params.get("model.enc.16x16_block0.conv1.weight")!.read();
  assert(zeroInit.every((v) => Math.abs(v) <= 1e-5 * bound), "conv1 uses init_weight 1e-5");
  assert((await net.ps.params.get("model.enc.16x16_block0.conv0.bias")!.read()).every((v) => v === 0));
  assert((await net.ps.params.get("model.enc.16x16_block0.norm0.weight")!.read()).every((v) => v === 1));
  net.ps.dispose();
});

Deno.test("bad constructor arguments and inputs give clear errors", async () => {
  const r = await initRuntime();
  assertThrows(
    () =>
      buildNetwork({
        class: "SongUNet",
        kwargs: { img_resolution: 16, in_channels: 2, out_channels: 1, bogus: 1 },
      }),
    Error,
    "bogus",
  );
  assertThrows(() => buildNetwork({ class: "NoSuchNet", kwargs: {} }), Error, "NoSuchNet");
  const net = buildNetwork({
    class: "SongUNet",
    kwargs: {
      img_resolution: 16,
      in_channels: 2,
      out_channels: 1,
      model_channels: 8,
      channel_mult: [1, 2],
      num_blocks: 1,
      attn_resolutions: [],
    },
  });
  const x = r.upload(new Float32Array(2 * 10 * 9), [1, 2, 10, 9]);
  assertThrows(
    () =>
      (net as unknown as { forward: (...a: unknown[]) => unknown }).forward(x, new Float32Array([0]), {
        mode: { train: false },
      }),
    Error,
    "multiple of 2",
  );
  net.ps.dispose();
});
