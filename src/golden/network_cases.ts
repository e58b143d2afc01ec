/**
 * Golden cases that run a whole network: SongUNet forward/backward, the regression wrapper and the
 * EDM wrappers (forward, backward, legacy scale_cond_input).
 */
import { initRuntime } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { valueAndGrad } from "../gpu/autograd.ts";
import { mul, sumAll } from "../ops/elementwise.ts";
import {
  buildNetwork,
  CorrDiffRegressionUNet,
  EDMPrecondSuperResolution,
  type Network,
} from "../nn/wrappers.ts";
import { SongUNet } from "../nn/songunet.ts";
import type { CaseContext, Outputs } from "./runner.ts";
import type { NetworkSpec } from "./manifest.ts";

/** The file entry holding a case's network (its own, or the one named by weights_file). */
export function networkSource(ctx: CaseContext): { file: string; spec: NetworkSpec } | null {
  const f = ctx.golden.manifest.files[ctx.file];
  const own = f.networks?.["<unprefixed>"];
  if (own) return { file: ctx.file, spec: own };
  if (f.weights_file) {
    const name = f.weights_file.replace(/\.safetensors$/, "");
    const entry = Object.entries(ctx.golden.manifest.files).find(([k, v]) =>
      k === name || v.file === f.weights_file
    );
    const spec = entry?.[1].networks?.["<unprefixed>"];
    if (entry && spec) return { file: entry[0], spec };
  }
  return null;
}

/** Builds a network from a golden file entry and loads that file's weights. */
export async function loadGoldenNetwork(
  ctx: CaseContext,
  source: { file: string; spec: NetworkSpec },
  cls?: string,
): Promise<Network> {
  await initRuntime();
  const net = buildNetwork({ class: cls ?? source.spec.class, kwargs: source.spec.kwargs });
  net.ps.load(ctx.golden.file(source.file), { strict: false });
  return net;
}

function has(ctx: CaseContext, suffix: string): boolean {
  return (ctx.spec.inputs ?? []).includes(`${ctx.caseName}.${suffix}`);
}

/** True for forward/backward cases of a network: inputs x and noise_labels or img_lr (losses and samplers have neither). */
export function isNetworkCase(ctx: CaseContext): boolean {
  if (!networkSource(ctx)) return false;
  return has(ctx, "x") && (has(ctx, "noise_labels") || has(ctx, "img_lr"));
}

/** Runs a golden case of a whole network (forward, or forward and backward). */
export async function runNetworkCase(ctx: CaseContext): Promise<Outputs> {
  const r = await initRuntime();
  const c = ctx.caseName;
  const src = networkSource(ctx)!;
  const net = await loadGoldenNetwork(ctx, src, c.startsWith("legacy_sr") ? "EDMPrecondSR" : undefined);
  const host = (n: string) => ctx.golden.f32(ctx.file, `${c}.${n}`);
  const up = (n: string) => r.upload(host(n), ctx.golden.tensor(ctx.file, `${c}.${n}`).shape);
  const mode = { train: ctx.spec.mode === "train" };
  const yName = ctx.spec.outputs.find((o) => o.startsWith(`${c}.`) && !o.endsWith(".loss"))!;
  const out: Outputs = new Map();
  try {
    const results = r.scope((): [string, Tensor][] => {
      const x = up("x");
      const imgLr = has(ctx, "img_lr") ? up("img_lr") : null;
      const labelsHost = has(ctx, "noise_labels") ? host("noise_labels") : null;
      const labels = labelsHost ? up("noise_labels") : null;
      const sigma = has(ctx, "sigma") ? host("sigma") : null;
      // SongUNetPosLtEmbd's labels, one per sample (int64 in the reference's files)
      const lead = {
        ...(has(ctx, "lead_time_label") ? { leadTimeLabel: host("lead_time_label") } : {}),
        // patches by index: [P, 2, Hp, Wp] integer rows and columns into the grid
        ...(has(ctx, "global_index") ? { globalIndex: up("global_index") } : {}),
      };
      const run = (): Tensor => {
        if (net instanceof SongUNet) {
          return net.forward(x, labelsHost!, { mode, noiseLabelTensor: labels ?? undefined, ...lead });
        }
        if (net instanceof EDMPrecondSuperResolution) return net.forward(x, imgLr, sigma!, mode, lead);
        return (net as CorrDiffRegressionUNet).forward(x, imgLr, mode, lead);
      };
      if (!has(ctx, "R")) return [[yName, run()]];
      // Backward of loss = sum(y * R), as the golden cases define it.
      net.ps.setRequiresGrad(true);
      for (const t of [x, imgLr, labels]) if (t) t.requiresGrad = true;
      const R = up("R");
      let y: Tensor | null = null;
      const { value, grads } = valueAndGrad(() => {
        y = run().keep(); // survives the tape's disposal
        return sumAll(mul(y, R));
      });
      y!.persistent = false;
      const res: [string, Tensor][] = [[yName, y!], [`${c}.loss`, value]];
      const inputs: [string, Tensor | null][] = [["x", x], ["img_lr", imgLr], ["noise_labels", labels]];
      for (const [n, t] of inputs) if (t && grads.get(t)) res.push([`grad.${c}.${n}`, grads.get(t)!]);
      for (const [key, p] of net.ps.params) if (grads.get(p)) res.push([`grad.${key}`, grads.get(p)!]);
      return res;
    });
    for (const [name, t] of results) {
      out.set(name, await t.read());
      t.release();
    }
  } finally {
    net.ps.dispose();
    r.pool.trim();
  }
  return out;
}
