/**
 * Golden cases of single layers (`layers.safetensors` and files like it). The layer configuration
 * comes from the tensors' shapes and the case description (e.g. "eps=1e-6", "'down': True",
 * "num_heads=2"), since the manifest lists no constructor for them.
 */
import { initRuntime } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { ParamStore } from "../nn/params.ts";
import { Conv2d, GroupNorm, Linear, UNetAttention, UNetBlock } from "../nn/layers.ts";
import { positionalEmbeddingHost } from "../nn/embedding.ts";
import type { CaseContext, Outputs } from "./runner.ts";

/** A number given as `name=value` or `'name': value` in a description. */
function described(desc: string, name: string): string | undefined {
  const m = desc.match(new RegExp(`['"]?${name}['"]?\\s*[=:]\\s*([^,)}\\s]+)`));
  return m?.[1];
}

function flag(desc: string, name: string): boolean {
  return described(desc, name) === "True";
}

const KINDS = ["groupnorm", "conv", "linear", "posemb", "block", "attention"] as const;

/** Which layer a case exercises, from its name, or null. */
export function layerKind(ctx: CaseContext): (typeof KINDS)[number] | null {
  if (ctx.golden.manifest.files[ctx.file].networks) return null;
  const c = ctx.caseName;
  if (!ctx.spec.inputs?.includes(`${c}.x`)) return null;
  return KINDS.find((k) => c.startsWith(k)) ?? null;
}

/** Runs a golden case of a single layer. */
export async function runLayerCase(ctx: CaseContext): Promise<Outputs> {
  const r = await initRuntime();
  const c = ctx.caseName, desc = ctx.spec.description;
  const file = ctx.golden.file(ctx.file);
  const shape = (n: string) => {
    const t = file.tensors.get(`${c}.${n}`);
    if (!t) throw new Error(`golden ${ctx.file}: no tensor ${c}.${n}`);
    return t.shape;
  };
  const host = (n: string) => ctx.golden.f32(ctx.file, `${c}.${n}`);
  const kind = layerKind(ctx)!;
  const out: Outputs = new Map();
  if (kind === "posemb") {
    out.set(`${c}.out`, positionalEmbeddingHost(host("x"), host("freqs")));
    return out;
  }
  const ps = new ParamStore(0);
  const eps = Number(described(desc, "eps") ?? (kind === "attention" ? 1e-5 : 1e-6));
  let forward: (x: Tensor, train: boolean) => Tensor;
  switch (kind) {
    case "groupnorm": {
      const C = shape("weight")[0];
      const gn = new GroupNorm(ps, c, C, eps, /act\s*=\s*['"]silu['"]/.test(desc));
      forward = (x, train) => gn.forward(x, { train });
      break;
    }
    case "conv": {
      const [co, ci, k] = shape("weight");
      const conv = new Conv2d(ps, c, ci, co, k, { mode: "kaiming_normal" }, {
        up: flag(desc, "up"),
        down: flag(desc, "down"),
      }, file.tensors.has(`${c}.bias`));
      forward = (x) => conv.forward(x);
      break;
    }
    case "linear": {
      const [o, i] = shape("weight");
      const lin = new Linear(ps, c, i, o, { mode: "kaiming_normal" }, file.tensors.has(`${c}.bias`));
      forward = (x) => lin.forward(x);
      break;
    }
    case "attention": {
      const C = shape("norm.weight")[0];
      const att = new UNetAttention(ps, c, C, Number(described(desc, "num_heads") ?? 1), eps, {
        attn: { mode: "xavier_uniform" },
        zero: { mode: "xavier_uniform" },
      });
      forward = (x, train) => att.forward(x, { train });
      break;
    }
    case "block": {
      const cin = shape("norm0.weight")[0], cout = shape("conv0.weight")[0];
      const blk = new UNetBlock(ps, c, cin, cout, {
        embChannels: shape("affine.weight")[1],
        up: flag(desc, "up"),
        down: flag(desc, "down"),
        attention: flag(desc, "attention"),
        heads: Number(described(desc, "num_heads") ?? 1),
        eps,
      });
      const emb = host("emb"), embShape = shape("emb");
      forward = (x, train) => blk.forward(x, r.upload(emb, embShape), { train });
      break;
    }
  }
  ps.load(file, { strict: false, prefix: "" });
  try {
    for (const name of ctx.spec.outputs) {
      const train = name.endsWith("_train") || ctx.spec.mode === "train";
      const y = r.scope(() => forward(r.upload(host("x"), shape("x")), train));
      out.set(name, await y.read());
      y.release();
    }
  } finally {
    ps.dispose();
  }
  return out;
}
