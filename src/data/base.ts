/**
 * Shared pieces of dataset implementations: the identity normalisation defaults of the reference's
 * `DownscalingDataset` base class, channel naming, and the NaN coordinate grid.
 */

import type { ChannelMetadata, DownscalingDataset, DownscalingItem, Grid2D, SampleTime } from "./dataset.ts";

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
