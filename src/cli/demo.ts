/**
 * `deno task demo [--config-name=...] [++key=value ...]`: the first command a new user runs.
 *
 * Until training and generation land, it does exactly this and says so: builds the built-in
 * synthetic dataset from the config, builds the regression U-Net the config describes (fresh weights),
 * runs one forward pass on the GPU for a batch of samples and prints shapes, timing and the
 * (untrained) error next to the bilinear-input baseline.
 */
import { initRuntime } from "../gpu/runtime.ts";
import { exitIfNoGpu } from "../gpu/device.ts";
import { loadConfigFromArgs } from "../config/mod.ts";
import { createDataset } from "../data/mod.ts";
import { CorrDiffRegressionUNet } from "../nn/wrappers.ts";

const { config, configName } = loadConfigFromArgs(Deno.args, "config_training_synthetic_regression");
const cfg = config as {
  dataset: Record<string, unknown>;
  model: { model_args: Record<string, unknown> };
};
console.log(`config: ${configName}`);
const t0 = performance.now();
const ds = await createDataset(cfg.dataset);
const [H, W] = ds.imageShape();
const cin = ds.inputChannels().length, cout = ds.outputChannels().length;
console.log(
  `dataset: ${cfg.dataset.type}, ${ds.length} samples of ${H}x${W}; inputs [${ds.inputChannels().map((c) => c.name)}], ` +
    `outputs [${ds.outputChannels().map((c) => c.name)}] (${(performance.now() - t0).toFixed(0)} ms)`,
);

// Without an adapter, one line naming what to install rather than a stack trace.
const r = await initRuntime().catch(exitIfNoGpu);
console.log(`WebGPU adapter: ${r.gpu.description} (kernel profile "${r.gpu.profile}")`);
const gridChannels = (cfg.model.model_args.N_grid_channels as number | undefined) ?? 4;
const net = new CorrDiffRegressionUNet({
  ...cfg.model.model_args,
  img_resolution: [H, W],
  img_in_channels: cin + gridChannels,
  img_out_channels: cout,
  dropout: 0,
}, 0);
console.log(`regression U-Net: ${(net.ps.numParameters / 1e6).toFixed(2)} M parameters (fresh initialisation)`);

const B = Math.min(4, ds.length);
const items = await Promise.all([...Array(B).keys()].map((i) => ds.item(i)));
const input = new Float32Array(B * cin * H * W), target = new Float32Array(B * cout * H * W);
items.forEach((it, b) => {
  input.set(it.input, b * cin * H * W);
  target.set(it.target, b * cout * H * W);
});
const t1 = performance.now();
const y = r.scope(() => net.forward(r.upload(new Float32Array(B * cout * H * W), [B, cout, H, W]), r.upload(input, [B, cin, H, W]), { train: false }));
const pred = await y.read();
const ms = performance.now() - t1;
y.release();

const rmse = (a: Float32Array, off: (i: number) => number) => {
  let s = 0;
  for (let i = 0; i < target.length; i++) s += (a[off(i)] - target[i]) ** 2;
  return Math.sqrt(s / target.length);
};
// The bilinear baseline: the up-sampled coarse field of the same variable, where one exists.
const inNames = ds.inputChannels().map((c) => c.name);
const baseIdx = ds.outputChannels().map((c) => inNames.indexOf(c.name));
console.log(`forward pass, batch ${B}: output [${B}, ${cout}, ${H}, ${W}] in ${ms.toFixed(0)} ms (one submit, one read-back)`);
console.log(`RMSE (normalised units) of the untrained network: ${rmse(pred, (i) => i).toFixed(3)}`);
if (baseIdx.every((k) => k >= 0)) {
  const plane = H * W;
  const off = (i: number) => {
    const b = Math.floor(i / (cout * plane)), c = Math.floor(i / plane) % cout;
    return (b * cin + baseIdx[c]) * plane + (i % plane);
  };
  console.log(`RMSE (normalised units) of the bilinear up-sampled input: ${rmse(input, off).toFixed(3)}`);
}
console.log("training (deno task train) and generation (deno task generate) are the next milestones; this demo stops here.");
net.ps.dispose();
