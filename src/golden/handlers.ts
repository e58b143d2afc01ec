/**
 * Chooses how to run a golden case from its name, inputs and outputs (never from the file name,
 * so a held-out set with other files runs unchanged).
 */
import type { CaseContext, Outputs } from "./runner.ts";
import { isNetworkCase, runNetworkCase } from "./network_cases.ts";
import { layerKind, runLayerCase } from "./layer_cases.ts";
import { type GridType, positionalGrid } from "../nn/embedding.ts";
import { applyPatching, fuseGridPatches, gridPatching, randomPatching } from "../diffusion/patching.ts";

/** Computes a golden case's outputs, or says it does not handle the case. */
export type Handler = (ctx: CaseContext) => Promise<Outputs | "unsupported">;

/** A positional-grid case: its single output is named `<gridtype>_<N>` with shape [N, H, W]. */
function posgridCase(ctx: CaseContext): Handler | null {
  const outs = ctx.spec.outputs;
  if (ctx.spec.inputs?.length || outs.length !== 1) return null;
  const m = outs[0].match(/^(sinusoidal_octave|sinusoidal|linear|test)_(\d+)$/);
  if (!m) return null;
  return () => {
    const [N, H, W] = ctx.golden.tensor(ctx.file, outs[0]).shape;
    return Promise.resolve(new Map([[outs[0], positionalGrid(m[1] as GridType, N, H, W)]]));
  };
}

/** GridPatching2D / RandomPatching2D cases; geometry from the description and tensor shapes. */
function patchingCase(ctx: CaseContext): Handler | null {
  const c = ctx.caseName, d = ctx.spec.description;
  if (c !== "grid_patching" && c !== "random_patching") return null;
  return () => {
    const g = (n: string) => ctx.golden.tensor(ctx.file, n);
    const f = (n: string) => ctx.golden.f32(ctx.file, n);
    // Inputs are named by the case that owns them (random_patching reuses grid_patching.x).
    const xName = ctx.spec.inputs!.find((n) => n.endsWith(".x"))!;
    const aName = ctx.spec.inputs!.find((n) => n.endsWith(".additional_input"));
    const xs = g(xName).shape;
    const [H, W] = [xs[2], xs[3]];
    const outs: Outputs = new Map();
    const additional = aName ? { data: f(aName), shape: g(aName).shape } : undefined;
    const patchesName = `${c}.patches`;
    const [, , Hp, Wp] = g(patchesName).shape;
    if (c === "grid_patching") {
      const num = (k: string) => Number(d.match(new RegExp(`${k}=(\\d+)`))?.[1] ?? 0);
      const gp = gridPatching(H, W, Hp, Wp, num("overlap_pix"), num("boundary_pix"));
      outs.set(patchesName, applyPatching(gp, f(xName), xs, additional).data);
      outs.set(`${c}.global_index`, gp.globalIndex);
      outs.set(`${c}.overlap_count`, gp.overlapCount);
      const rp = g(`${c}.random_patches`).shape;
      outs.set(`${c}.fused`, fuseGridPatches(gp, f(`${c}.random_patches`), rp[0] / gp.P, rp[1]));
    } else {
      const rp = randomPatching(H, W, Hp, Wp, f(`${c}.patch_indices`));
      outs.set(patchesName, applyPatching(rp, f(xName), xs, additional).data);
      outs.set(`${c}.global_index`, rp.globalIndex);
    }
    return Promise.resolve(outs);
  };
}

/** Extra handlers registered by other modules (losses, samplers, scores, spectra). */
const extra: ((ctx: CaseContext) => Handler | null)[] = [];

/** Lets a module add a case handler without this file importing it. */
export function registerHandler(select: (ctx: CaseContext) => Handler | null): void {
  extra.push(select);
}

/** The registered handler for a case, or null. */
export function findHandler(ctx: CaseContext): Handler | null {
  for (const sel of extra) {
    const h = sel(ctx);
    if (h) return h;
  }
  if (isNetworkCase(ctx)) return runNetworkCase;
  if (layerKind(ctx)) return runLayerCase;
  return posgridCase(ctx) ?? patchingCase(ctx);
}
