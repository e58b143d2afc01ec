/**
 * The reference's golden sampler runs reproduced through the generate code path: the sampler
 * settings read from a `sampler:` config section, the conditioning assembled by DiffusionStep
 * (regression mean in front of the input, patched with the whole-domain view), the sampler recorded
 * without a sync and read once. The reference's random draws are replayed in call order.
 */
import { assert } from "../helpers/assert.ts";
import { GOLDEN_DIR, SHARED_GOLDEN_DIR } from "../helpers/shared.ts";
import { GoldenSet } from "../../src/golden/manifest.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { buildNetwork, type EDMPrecondSuperResolution } from "../../src/nn/wrappers.ts";
import { gridPatching } from "../../src/diffusion/patching.ts";
import { DevicePatching } from "../../src/ops/patching.ts";
import { DiffusionStep } from "../../src/generate/sampling.ts";
import { samplerSettings } from "../../src/generate/settings.ts";

async function reproduce(dir: string, entry: string): Promise<void> {
  const r = await initRuntime();
  const g = new GoldenSet(dir);
  const f = g.manifest.files[entry];
  const spec = f.cases.smp;
  const [netEntry, netFile] = Object.entries(g.manifest.files).find(([, v]) => v.file === f.weights_file)!;
  const net = buildNetwork(netFile.networks!["<unprefixed>"]) as EDMPrecondSuperResolution;
  net.ps.load(g.file(netEntry), { strict: false });
  const host = (name: string) => ({
    data: g.f32(entry, `smp.${name}`),
    shape: g.tensor(entry, `smp.${name}`).shape,
  });
  const patch = spec.patching as
    | { patch_shape: [number, number]; overlap_pix: number; boundary_pix: number }
    | null;
  const latents = host("latents");
  const [, , H, W] = latents.shape;
  const dev = patch
    ? new DevicePatching(
      gridPatching(H, W, patch.patch_shape[0], patch.patch_shape[1], patch.overlap_pix, patch.boundary_pix),
    )
    : null;
  const sampler = samplerSettings({
    sampler: { type: spec.sampler, ...(spec.sampler_kwargs as Record<string, unknown>) },
  });
  const draws = host("randn_draws");
  const per = draws.data.length / draws.shape[0];
  let k = 0;
  const mean = host("mean_hr");
  const meanT = r.upload(mean.data, mean.shape).keep();
  const step = new DiffusionStep(net, host("img_lr"), meanT, dev, sampler);
  try {
    const x = r.scope(() =>
      step.sample(
        r.upload(latents.data, latents.shape),
        (shape) => r.upload(draws.data.subarray(per * k, per * ++k), shape),
      )
    );
    const got = await x.read();
    x.release();
    assert(k === draws.shape[0], `${entry}: ${k} draws used, the reference made ${draws.shape[0]}`);
    const want = g.f32(entry, "smp.x_final");
    const tol = spec.tolerance["smp.x_final"] as { atol: number; rtol: number };
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - want[i]) / (tol.atol + tol.rtol * Math.abs(want[i])));
    }
    assert(worst <= 1, `${entry}: x_final off by ${worst.toFixed(2)}x its tolerance`);
  } finally {
    step.dispose();
    dev?.dispose();
    meanT.persistent = false;
    meanT.release();
    net.ps.dispose();
  }
}

for (const entry of ["sampler_stochastic_16", "sampler_deterministic_heun_16"]) {
  Deno.test(`golden ${entry} through the generate code path`, () => reproduce(GOLDEN_DIR, entry));
}

// The full golden set (when beside the repository) adds churn, Euler and patched sampling.
for (
  const entry of [
    "sampler_stochastic_churn_16",
    "sampler_deterministic_euler_16",
    "sampler_stochastic_patched_24x40",
  ]
) {
  Deno.test({
    name: `golden ${entry} through the generate code path${
      SHARED_GOLDEN_DIR ? "" : " [needs the shared golden set]"
    }`,
    ignore: !SHARED_GOLDEN_DIR,
    fn: () => reproduce(SHARED_GOLDEN_DIR!, entry),
  });
}
