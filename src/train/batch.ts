/**
 * Batches for training: samples read from the dataset, checked for non-finite values (the reference
 * would train on them silently), stacked and uploaded.
 */
import type { DownscalingDataset } from "../data/dataset.ts";
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { countNonFinite } from "../io/file_errors.ts";

/** One batch on the host: targets [B, C_out, H, W] and inputs [B, C_lr, H, W]. */
export interface HostBatch {
  /** Dataset indices of the samples, in batch order. */
  indices: number[];
  /** Targets, [B, C_out, H, W] row-major. */
  target: Float32Array;
  /** Inputs, [B, C_lr, H, W] row-major. */
  input: Float32Array;
  /** Samples in the batch. */
  B: number;
  /** Lead-time label per sample, when the dataset gives them (lead-time datasets). */
  leadTime?: number[];
}

function timeLabel(ds: DownscalingDataset, index: number): string {
  try {
    const t = ds.time()[index];
    return t instanceof Date ? t.toISOString().replace(".000Z", "Z") : String(t);
  } catch {
    return "unknown time";
  }
}

/** Reads the samples `indices` into one host batch; non-finite values are an error naming the sample. */
export async function loadBatch(
  ds: DownscalingDataset,
  indices: number[],
  what = "training",
): Promise<HostBatch> {
  const items = await Promise.all(indices.map((i) => ds.item(i)));
  const B = indices.length;
  const tLen = items[0].target.length, iLen = items[0].input.length;
  const target = new Float32Array(B * tLen), input = new Float32Array(B * iLen);
  items.forEach((it, b) => {
    for (const [name, arr] of [["target", it.target], ["input", it.input]] as const) {
      const bad = countNonFinite(arr);
      if (bad) {
        throw new Error(
          `${what} data: sample ${indices[b]} (time ${timeLabel(ds, indices[b])}) has ${bad} non-finite ` +
            `value${bad > 1 ? "s" : ""} in its ${name === "target" ? "output (target)" : "input"} channels`,
        );
      }
    }
    target.set(it.target, b * tLen);
    input.set(it.input, b * iLen);
  });
  const labelled = items.filter((it) => it.leadTime !== undefined).length;
  if (labelled === 0) return { indices, target, input, B };
  if (labelled < B) {
    const b = items.findIndex((it) => it.leadTime === undefined);
    throw new Error(
      `${what} data: sample ${indices[b]} (time ${timeLabel(ds, indices[b])}) has no lead-time label`,
    );
  }
  return { indices, target, input, B, leadTime: items.map((it) => it.leadTime!) };
}

/** Uploads a host batch as [B, C_out, H, W] and [B, C_lr, H, W] tensors. */
export function uploadBatch(
  b: HostBatch,
  cOut: number,
  cLr: number,
  H: number,
  W: number,
): { target: Tensor; input: Tensor } {
  const r = rt();
  return { target: r.upload(b.target, [b.B, cOut, H, W]), input: r.upload(b.input, [b.B, cLr, H, W]) };
}
