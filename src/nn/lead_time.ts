/**
 * SongUNetPosLtEmbd's two additions to SongUNetPosEmbd (reference: song_unet.py): a learnable lead-time
 * embedding `lt_embd` [steps, C_lt, H, W], whose row for each sample's lead-time label is appended to the
 * input after the positional grid, and optional probability channels, scaled by the learnable `scalar`
 * (and, in eval mode, put through a softmax across those channels) after the U-Net.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { mulChannels } from "../ops/elementwise.ts";
import { matmul } from "../ops/matmul.ts";
import { softmaxAxis } from "../ops/softmax.ts";
import { concatChannels, gatherPixels, pickChannels, sliceChannels } from "../ops/tensor_ops.ts";

/**
 * The rows `lt_embd[label]` as the reference indexes them (`label.int()`: truncated, negative labels
 * counting from the end): one row index per label, or an error naming the label out of range.
 */
export function leadTimeRows(labels: ArrayLike<number>, steps: number): number[] {
  return Array.from(labels, (v, i) => {
    const k = Math.trunc(v);
    if (!Number.isFinite(v) || k < -steps || k >= steps) {
      throw new Error(`lead_time_label[${i}] = ${v} is outside the ${steps} lead-time steps of lt_embd`);
    }
    return k < 0 ? k + steps : k;
  });
}

/**
 * lt_embd [S, C, H, W] at each label's row → [B, C, H, W], as a one-hot product so that the gradient
 * sums back into the rows (exact: every output is one row value plus zeros).
 */
export function selectLeadTime(ltEmbd: Tensor, labels: ArrayLike<number>): Tensor {
  const [S, C, H, W] = ltEmbd.shape;
  const rows = leadTimeRows(labels, S);
  const oneHot = new Float32Array(rows.length * S);
  rows.forEach((k, b) => oneHot[b * S + k] = 1);
  const pick = rt().upload(oneHot, [rows.length, S]);
  return matmul(pick, ltEmbd.reshape([S, C * H * W])).reshape([rows.length, C, H, W]);
}

/**
 * The lead-time channels of patches cut by `globalIndex` [P, 2, Hp, Wp] from each sample's row of
 * lt_embd [S, C, H, W]: [B * P, C, Hp, Wp] with batch index b * P + p ("b-major", as the reference).
 */
export function leadTimePatches(ltEmbd: Tensor, labels: ArrayLike<number>, globalIndex: Tensor): Tensor {
  const [, C] = ltEmbd.shape;
  const [P, , Hp, Wp] = globalIndex.shape;
  const perSample = Array.from(labels, (label) => {
    const row = selectLeadTime(ltEmbd, [label]);
    return gatherPixels(row.reshape(row.shape.slice(1)), globalIndex).reshape([1, P * C * Hp * Wp, 1, 1]);
  });
  return concatChannels(perSample).reshape([labels.length * P, C, Hp, Wp]);
}

/**
 * The probability channels of the U-Net's output y [B, C, H, W]: y[:, prob] * scalar, and in eval mode
 * its softmax across those channels (the reference's logits in training, probabilities in eval). The
 * other channels pass through.
 */
export function probabilityChannels(y: Tensor, prob: number[], scalar: Tensor, train: boolean): Tensor {
  const [B, C, H, W] = y.shape;
  const scaled = mulChannels(pickChannels(y, prob), scalar);
  const p = train ? scaled : softmaxAxis(scaled, B, prob.length, H * W);
  // reassemble in channel order: runs of pass-through channels between the probability channels
  const parts: Tensor[] = [];
  let run = 0;
  for (let c = 0; c <= C; c++) {
    const at = prob.indexOf(c);
    if (c < C && at < 0) continue;
    if (c > run) parts.push(sliceChannels(y, run, c - run));
    if (c < C) parts.push(sliceChannels(p, at, 1));
    run = c + 1;
  }
  return parts.length === 1 ? parts[0] : concatChannels(parts);
}
