/**
 * What the convolution's TypeScript shares: the declared entry points of its kernel files, the grid and
 * store descriptions, and small helpers (src/ops/conv2d.ts runs the forward and input-gradient,
 * src/ops/conv2d_grad_weight.ts the weight gradient).
 */
import { rt } from "../gpu/runtime.ts";
import { declareKernel, type FieldType } from "../gpu/kernel.ts";

/** The fields of a kernel file's Params struct: all u32 but the named f32 ones. */
function fields(names: string, floats: string[] = []): Record<string, FieldType> {
  return Object.fromEntries(
    names.split(/\s+/).filter(Boolean).map((n) => [n, floats.includes(n) ? "f32" : "u32"]),
  );
}
const LAYOUT_PARAMS = fields("n Cout Cin taps pad chunks block");
const GPU_PARAMS = fields(
  "B Cin Cout Hin Win Hc Wc k up down coPad hasBias storeMode Ho Wo inScale outScale tilesX chunks pixelsPerChunk resScale",
  ["inScale", "outScale", "resScale"],
);
const K3_PARAMS = fields(
  "B Cin Cout Hin Win Hc Wc tilesX tilesY up down coPad hasBias Ho Wo inScale outScale chunks rowsPerChunk coBlock ci0 CinTotal resScale",
  ["inScale", "outScale", "resScale"],
);
const K1_PARAMS = fields(
  "B Cin Cout Hin Win Hc Wc plane tiles up down coPad hasBias inScale chunksPerImage groupsPerChunk wz",
  ["inScale"],
);
/** Every convolution entry point (override constants POOL, HALF, VEC4 are set per call with `with`). */
export const K = {
  layout: declareKernel({
    file: "conv2d",
    entry: "weight_layout",
    params: LAYOUT_PARAMS,
    bindings: ["src", "dst"],
  }),
  gradWeightReduce: declareKernel({
    file: "conv2d",
    entry: "grad_weight_reduce",
    params: LAYOUT_PARAMS,
    bindings: ["dst", "src4"],
  }),
  gpuForward: declareKernel({
    file: "conv2d_gpu",
    entry: "gpu_forward",
    params: GPU_PARAMS,
    bindings: ["x", "wt", "bias", "y", "res"],
  }),
  gpuGradWeight: declareKernel({
    file: "conv2d_gpu",
    entry: "gpu_grad_weight",
    params: GPU_PARAMS,
    bindings: ["x", "dy", "part"],
  }),
  conv3Forward: declareKernel({
    file: "conv2d_k3",
    entry: "conv3_forward",
    params: K3_PARAMS,
    bindings: ["x", "bias", "y", "wu", "wts", "x4", "res", "y4", "res4"],
  }),
  conv3GradWeight: declareKernel({
    file: "conv2d_k3",
    entry: "conv3_grad_weight",
    params: K3_PARAMS,
    bindings: ["x", "dy", "part", "x4", "dy4v"],
  }),
  conv1Forward: declareKernel({
    file: "conv2d_k1",
    entry: "conv1_forward",
    params: K1_PARAMS,
    bindings: ["x", "wt", "bias", "y", "x4", "y4", "xi", "wi"],
  }),
  conv1GradWeight: declareKernel({
    file: "conv2d_k1",
    entry: "conv1_grad_weight",
    params: K1_PARAMS,
    bindings: ["x", "dy", "part", "x4", "dy4", "xi", "di"],
  }),
};

/** How a convolution reads its input: the grid (Hc x Wc) seen through the resampling of a tensor. */
export interface Grid {
  Hc: number;
  Wc: number;
  up: 0 | 1;
  down: 0 | 1;
  inScale: number;
}

/** How it writes: 0 plain, 1 sum of 2x2 grid pixels per output pixel, 2 spread over 2x2 outputs. */
export interface Store {
  mode: 0 | 1 | 2;
  Ho: number;
  Wo: number;
  outScale: number;
}

/** n rounded up to a multiple of m. */
export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/** Whether the grid reads the tensor as it is (no resampling). */
export function isPlain(g: Grid, Hin: number, Win: number): boolean {
  return g.up === 0 && g.down === 0 && g.Hc === Hin && g.Wc === Win;
}

/** Workgroups along y, one per row: within the adapter's per-dimension limit. */
export function gridRows(rows: number): number {
  const max = rt().gpu.limits.maxComputeWorkgroupsPerDimension;
  if (rows > max) throw new Error(`conv2d: ${rows} rows of weights exceed the adapter's ${max} workgroups`);
  return rows;
}
