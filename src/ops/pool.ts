/**
 * 2x2 mean pooling, stride 2 (floor), with its backward (kernels/pool.wgsl): the reference's
 * down-sampling filter. conv2d pools first this way on CPU rasterisers, where a convolution reading its
 * input pooled pays four loads per value.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { declareKernel } from "../gpu/kernel.ts";

const PARAMS = { H: "u32", W: "u32", Ho: "u32", Wo: "u32" } as const;
const POOL = declareKernel({ file: "pool", entry: "avg_pool2", params: PARAMS, bindings: ["x", "y", "x4"] });
const POOL_BWD = declareKernel({
  file: "pool",
  entry: "avg_pool2_bwd",
  params: PARAMS,
  bindings: ["x", "y"],
});

/** x [B, C, H, W] → [B, C, floor(H/2), floor(W/2)], each value the mean of its 2x2 block. */
export function avgPool2(x: Tensor): Tensor {
  if (x.shape.length !== 4) throw new Error(`avgPool2: x must be [B, C, H, W], got [${x.shape}]`);
  const [B, C, H, W] = x.shape;
  if (H < 2 || W < 2) throw new Error(`avgPool2: needs H, W >= 2, got [${x.shape}]`);
  const r = rt();
  const dims = { H, W, Ho: Math.floor(H / 2), Wo: Math.floor(W / 2) };
  const y = r.empty([B, C, dims.Ho, dims.Wo]);
  const vec4 = W % 4 === 0; // then every row starts on a vec4 (H * W is a multiple of 4 too)
  const threads = vec4 ? Math.ceil(dims.Wo / 2) : dims.Wo;
  POOL.with({ VEC4: vec4 }).run(dims, { x, y, x4: x }, [
    Math.ceil(threads / 8),
    Math.ceil(dims.Ho / 8),
    planes(B * C),
  ]);
  if (r.tape?.wants(x)) {
    r.tape.record([x], y, (g) => {
      const dx = r.empty(x.shape);
      POOL_BWD.run(dims, { x: g, y: dx }, [Math.ceil(W / 8), Math.ceil(H / 8), planes(B * C)]);
      return [dx];
    });
  }
  return y;
}

/** Workgroups along z, one per image plane: within the adapter's per-dimension limit. */
function planes(n: number): number {
  const max = rt().gpu.limits.maxComputeWorkgroupsPerDimension;
  if (n > max) throw new Error(`avgPool2: ${n} image planes exceed the adapter's ${max} workgroups`);
  return n;
}
