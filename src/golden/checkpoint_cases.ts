/**
 * Golden cases of the checkpoint set (golden/checkpoints): each case names a `checkpoint` file
 * (`.mdlus` zip or tar, or our safetensors) relative to the set's directory. The network is
 * rebuilt from that file alone with {@link loadNetwork} and run forward in eval mode on the case's
 * inputs (`x`, `img_lr`, and `sigma` for the diffusion wrapper), as `Module.from_checkpoint`
 * followed by `net.eval()` does in the reference.
 */
import { initRuntime } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { loadNetwork } from "../nn/checkpoint.ts";
import { CorrDiffRegressionUNet, EDMPrecondSuperResolution } from "../nn/wrappers.ts";
import { registerHandler } from "./handlers.ts";
import type { CaseContext, Outputs } from "./runner.ts";

/** The case's input whose name ends in `.<suffix>` (inputs are named `<case>.<suffix>` or `fwd.<suffix>`). */
function input(ctx: CaseContext, suffix: string): string | undefined {
  return (ctx.spec.inputs ?? []).find((n) => n === suffix || n.endsWith(`.${suffix}`));
}

async function runCheckpointCase(ctx: CaseContext): Promise<Outputs> {
  const r = await initRuntime();
  const { net } = loadNetwork(`${ctx.golden.dir}/${ctx.spec.checkpoint as string}`);
  const up = (name: string) =>
    r.upload(ctx.golden.f32(ctx.file, name), ctx.golden.tensor(ctx.file, name).shape);
  const out: Outputs = new Map();
  try {
    const xName = input(ctx, "x"), lrName = input(ctx, "img_lr"), sigmaName = input(ctx, "sigma");
    if (!xName) throw new Error(`case ${ctx.caseName} has no input x`);
    const y = r.scope((): Tensor => {
      const x = up(xName);
      const imgLr = lrName ? up(lrName) : null;
      const mode = { train: false };
      if (net instanceof EDMPrecondSuperResolution) {
        if (!sigmaName) throw new Error(`case ${ctx.caseName}: the diffusion network needs a sigma input`);
        return net.forward(x, imgLr, ctx.golden.f32(ctx.file, sigmaName), mode);
      }
      if (net instanceof CorrDiffRegressionUNet) return net.forward(x, imgLr, mode);
      throw new Error(
        `case ${ctx.caseName}: ${ctx.spec.checkpoint} holds a bare U-Net, not a CorrDiff wrapper`,
      );
    });
    out.set(ctx.spec.outputs[0], await y.read());
    y.release();
  } finally {
    net.ps.dispose();
    r.pool.trim();
  }
  return out;
}

registerHandler((ctx) =>
  typeof ctx.spec.checkpoint === "string" && ctx.spec.outputs.length === 1 ? runCheckpointCase : null
);
