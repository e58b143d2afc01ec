/**
 * Shared pieces of dataset implementations: the identity normalisation defaults of the reference's
 * `DownscalingDataset` base class, channel naming, and the NaN coordinate grid.
 */

import type { ChannelMetadata, DownscalingDataset, DownscalingItem, Grid2D, SampleTime } from "./dataset.ts";
import type { ChannelNormalization } from "./normalize.ts";

/** The name under which a channel is written to files: `name + level` (e.g. `temperature500.0`). */
export function channelName(c: ChannelMetadata): string {
  return c.name + c.level;
}

/** A channel description with the reference's defaults (`level ""`, `auxiliary false`). */
export function channel(name: string, extra: Partial<Omit<ChannelMetadata, "name">> = {}): ChannelMetadata {
  return { name, level: "", auxiliary: false, ...extra };
}

/** An `H x W` grid of NaN (what the HRRR-mini reader returns for latitude and longitude). */
export function nanGrid(shape: [number, number]): Grid2D {
  return { shape: [shape[0], shape[1]], data: new Float64Array(shape[0] * shape[1]).fill(NaN) };
}

/**
 * Base class for datasets: normalisation defaults to the identity, as in the reference's base
 * class, `info()` to `{}` and `close()` to nothing. Subclasses implement the rest.
 */
export abstract class DownscalingDatasetBase implements DownscalingDataset {
  /** Number of samples. */
  abstract get length(): number;
  /** Longitude of every output pixel. */
  abstract longitude(): Grid2D;
  /** Latitude of every output pixel. */
  abstract latitude(): Grid2D;
  /** Input channels, in the order of `item(i).input`. */
  abstract inputChannels(): ChannelMetadata[];
  /** Output channels, in the order of `item(i).target`. */
  abstract outputChannels(): ChannelMetadata[];
  /** One time per sample. */
  abstract time(): SampleTime[];
  /** `[H, W]` of inputs and outputs. */
  abstract imageShape(): [number, number];
  /** Sample `index`, already normalised, the input already on the output grid. */
  abstract item(index: number): Promise<DownscalingItem>;

  /** Identity unless overridden. */
  normalizeInput(x: Float32Array, _planeSize?: number): Float32Array {
    return x.slice();
  }

  /** Identity unless overridden. */
  denormalizeInput(x: Float32Array, _planeSize?: number): Float32Array {
    return x.slice();
  }

  /** Identity unless overridden. */
  normalizeOutput(x: Float32Array, _planeSize?: number): Float32Array {
    return x.slice();
  }

  /** Identity unless overridden. */
  denormalizeOutput(x: Float32Array, _planeSize?: number): Float32Array {
    return x.slice();
  }

  /** Extra information about the dataset (normalisation constants, ...); `{}` unless overridden. */
  info(): Record<string, unknown> {
    return {};
  }

  /** Releases files; nothing unless overridden. */
  close(): void {}

  /** Throws unless `index` is an integer in `[0, length)`; `source` names the dataset. */
  protected checkIndex(index: number, source: string): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new Error(`${source}: sample index ${index} out of range [0, ${this.length})`);
    }
  }
}

/**
 * A dataset normalised per channel by (x - mean) / std tables: the four normalisation methods, with
 * the plane size defaulting to the image's `H * W`.
 */
export abstract class NormalizedDataset extends DownscalingDatasetBase {
  /** Per-channel normalisation of the inputs, in `inputChannels()` order. */
  protected abstract readonly inputNorm: ChannelNormalization;
  /** Per-channel normalisation of the outputs, in `outputChannels()` order. */
  protected abstract readonly outputNorm: ChannelNormalization;

  /** (x - mean) / std per input channel; `planeSize` pixels per channel plane (default H * W). */
  override normalizeInput(x: Float32Array, planeSize = this.planeSize()): Float32Array {
    return this.inputNorm.normalize(x, planeSize);
  }

  /** x * std + mean per input channel; `planeSize` pixels per channel plane (default H * W). */
  override denormalizeInput(x: Float32Array, planeSize = this.planeSize()): Float32Array {
    return this.inputNorm.denormalize(x, planeSize);
  }

  /** (x - mean) / std per output channel; `planeSize` pixels per channel plane (default H * W). */
  override normalizeOutput(x: Float32Array, planeSize = this.planeSize()): Float32Array {
    return this.outputNorm.normalize(x, planeSize);
  }

  /** x * std + mean per output channel; `planeSize` pixels per channel plane (default H * W). */
  override denormalizeOutput(x: Float32Array, planeSize = this.planeSize()): Float32Array {
    return this.outputNorm.denormalize(x, planeSize);
  }

  /** Pixels per channel plane of one sample. */
  protected planeSize(): number {
    const [H, W] = this.imageShape();
    return H * W;
  }
}

/** A dataset whose raw (physical-unit) samples are computed synchronously; `item` normalises them. */
export abstract class RawItemDataset extends NormalizedDataset {
  /** Sample `index` in physical units. */
  abstract rawItem(index: number): { input: Float32Array; target: Float32Array };

  /** Sample `index` from `rawItem`, input and target normalised. */
  item(index: number): Promise<DownscalingItem> {
    const raw = this.rawItem(index);
    return Promise.resolve({
      target: this.normalizeOutput(raw.target),
      input: this.normalizeInput(raw.input),
    });
  }
}
