/**
 * The reference convolution: direct kernels, one thread per output value, forward and backward
 * (kernels/conv2d_ref.wgsl). Slow but plain; the fast variants are tested against it.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type DeclaredKernel, declareKernel } from "../gpu/kernel.ts";
import { sumLeading, sumRows } from "./elementwise.ts";

const PARAMS = {
  total: "u32",
  B: "u32",
  Ci: "u32",
  Co: "u32",
  Hi: "u32",
  Wi: "u32",
  H: "u32",
  W: "u32",
  k: "u32",
  mode: "u32",
  has_bias: "u32",
} as const;
const kernel = (entry: string) =>
  declareKernel({ file: "conv2d_ref", entry, params: PARAMS, bindings: ["a", "b", "bias", "out"] });
const FORWARD = kernel("forward");
const GRAD_INPUT = kernel("grad_input_resampled");
const RESAMPLE_ADJOINT = kernel("resample_adjoint");
const GRAD_WEIGHT = kernel("grad_weight");

/** Resampling before the convolution, as the reference's Conv2d(up=..., down=...). */
export interface ConvResample {
  up?: boolean;
  down?: boolean;
}

/** Output spatial size after the fused resampling. */
export function resampledSize(H: number, W: number, o: ConvResample): [number, number] {
  if (o.up && o.down) throw new Error("conv2d: up and down cannot both be set");
  return o.up ? [2 * H, 2 * W] : o.down ? [Math.floor(H / 2), Math.floor(W / 2)] : [H, W];
}

/** Checks shapes and returns [B, Ci, Hi, Wi, Co, k, H, W]. */
export function convShapes(x: Tensor, weight: Tensor, bias: Tensor | null, o: ConvResample): number[] {
  const [B, Ci, Hi, Wi] = x.shape;
  const [Co, Cw, k, k2] = weight.shape;
  if (x.shape.length !== 4 || weight.shape.length !== 4 || Cw !== Ci || k !== k2 || k % 2 !== 1) {
    throw new Error(
      `conv2d: input [${x.shape}] does not match weight [${weight.shape}] (need [Cout, ${Ci}, k, k], k odd)`,
    );
  }
  if (bias && bias.size !== Co) throw new Error(`conv2d: bias [${bias.shape}] for ${Co} output channels`);
  const [H, W] = resampledSize(Hi, Wi, o);
  return [B, Ci, Hi, Wi, Co, k, H, W];
}

/** Sum over batch and pixels of y [B, Co, H, W] → [Co] (the bias gradient). */
export function biasGrad(g: Tensor): Tensor {
  const [B, Co] = g.shape;
  return sumLeading(sumRows(g, B * Co), B);
}

/** conv2d with the direct reference kernels (same contract as `conv2d`). */
export function conv2dRef(x: Tensor, weight: Tensor, bias: Tensor | null, o: ConvResample = {}): Tensor {
  const r = rt();
  const [B, Ci, Hi, Wi, Co, k, H, W] = convShapes(x, weight, bias, o);
  const mode = o.up ? 1 : o.down ? 2 : 0;
  const run = (kern: DeclaredKernel, out: Tensor, bind: Record<string, Tensor>) =>
    kern.run(
      { total: out.size, B, Ci, Co, Hi, Wi, H, W, k, mode, has_bias: bias ? 1 : 0 },
      { ...bind, out },
      kern.grid(out.size),
    );
  const y = r.empty([B, Co, H, W]);
  run(FORWARD, y, { a: x, b: weight, bias: bias ?? weight });
  if (r.tape?.wants(x, weight, bias)) {
    r.tape.record([x, weight, ...(bias ? [bias] : [])], y, (gy) => {
      const gxr = r.empty([B, Ci, H, W]);
      run(GRAD_INPUT, gxr, { a: gy, b: weight });
      let gx = gxr;
      if (mode !== 0) {
        gx = r.empty(x.shape);
        run(RESAMPLE_ADJOINT, gx, { a: gxr });
      }
      const gw = r.empty(weight.shape);
      run(GRAD_WEIGHT, gw, { a: x, b: gy });
      return bias ? [gx, gw, biasGrad(gy)] : [gx, gw];
    }, [x, weight]);
  }
  return y;
}
