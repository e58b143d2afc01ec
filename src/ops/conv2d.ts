// TEMPORARY stand-in written by the lead so the U-Net can be tested while the fast conv is being
// written; the conv engineer overwrites this file freely.
import type { Tensor } from "../gpu/tensor.ts";
import { conv2dRef } from "./conv2d_ref.ts";
export interface Conv2dOptions {
  up?: boolean;
  down?: boolean;
}
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  return conv2dRef(x, weight, bias, opts);
}
