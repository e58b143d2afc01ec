/**
 * A custom dataset, as a template for your own: two travelling waves over a ridge, computed
 * analytically, so it needs no files.
 *
 * Select it in a config with its module path and class name (relative to the working directory,
 * or to the config's directory when the caller passes `baseDir`):
 *
 * ```yaml
 * dataset:
 *   type: examples/custom_dataset.ts::TravellingWaves
 *   num_samples: 48
 *   image_shape: [32, 32]
 * ```
 *
 * Every key of `dataset:` other than `type` arrives in the constructor's `options` object. A class
 * may instead offer `static async open(options)` when it has to read files first. Extending
 * `DownscalingDatasetBase` supplies identity normalisation, `info()` and `close()`; override what
 * your data needs.
 *
 * The target `height` (m) is a long wave plus a short wave plus the ridge's imprint; the input is
 * what a coarse model would give: the long wave alone (already on the fine grid, as every item's
 * input must be), plus the ridge itself as an auxiliary (invariant) channel.
 */

import {
  channel,
  type ChannelMetadata,
  ChannelNormalization,
  DownscalingDatasetBase,
  type DownscalingItem,
  type Grid2D,
} from "../src/data/mod.ts";

/** Two travelling waves over a Gaussian ridge. */
export class TravellingWaves extends DownscalingDatasetBase {
  readonly #n: number;
  readonly #shape: [number, number];
  readonly #long: number;
  readonly #short: number;
  readonly #ridge: Float32Array;
  readonly #inputNorm: ChannelNormalization;
  readonly #outputNorm: ChannelNormalization;

  /** Options: `num_samples` (24), `image_shape` ([32, 32]), `amplitude_long` (1 m), `amplitude_short` (0.3 m). */
  constructor(options: Record<string, unknown>) {
    super();
    const known = ["num_samples", "image_shape", "amplitude_long", "amplitude_short"];
    const unknown = Object.keys(options).filter((k) => !known.includes(k));
    if (unknown.length) {
      throw new Error(`TravellingWaves: unknown option(s) ${unknown.join(", ")} (known: ${known})`);
    }
    const n = options.num_samples ?? 24;
    const shape = options.image_shape ?? [32, 32];
    if (!Number.isInteger(n) || (n as number) < 1) {
      throw new Error(`TravellingWaves: num_samples must be >= 1, got ${n}`);
    }
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((s) => Number.isInteger(s) && s >= 4)) {
      throw new Error(
        `TravellingWaves: image_shape must be [H, W] with H, W >= 4, got ${JSON.stringify(shape)}`,
      );
    }
    this.#n = n as number;
    this.#shape = [shape[0], shape[1]];
    this.#long = Number(options.amplitude_long ?? 1);
    this.#short = Number(options.amplitude_short ?? 0.3);
    const [H, W] = this.#shape;
    this.#ridge = new Float32Array(H * W);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) this.#ridge[i * W + j] = Math.exp(-(((j - W / 2) / (W / 8)) ** 2));
    }
    // A sine of amplitude a has standard deviation a / sqrt(2); the ridge's spread is measured.
    const ridgeMean = this.#ridge.reduce((a, b) => a + b) / (H * W);
    const ridgeStd = Math.sqrt(this.#ridge.reduce((a, b) => a + (b - ridgeMean) ** 2, 0) / (H * W));
    const waves = Math.hypot(this.#long, this.#short) / Math.SQRT2;
    this.#inputNorm = new ChannelNormalization(
      [0, ridgeMean],
      [this.#long / Math.SQRT2, ridgeStd],
      ["height_long", "ridge"],
      "TravellingWaves",
    );
    this.#outputNorm = new ChannelNormalization([0.5 * ridgeMean], [Math.hypot(waves, 0.5 * ridgeStd)], [
      "height",
    ], "TravellingWaves");
  }

  get length(): number {
    return this.#n;
  }

  imageShape(): [number, number] {
    return [...this.#shape];
  }

  /** A 0.25-degree grid whose top-left corner is 50N, 10W. */
  longitude(): Grid2D {
    const [H, W] = this.#shape;
    return { shape: [H, W], data: Float64Array.from({ length: H * W }, (_, p) => -10 + 0.25 * (p % W)) };
  }

  latitude(): Grid2D {
    const [H, W] = this.#shape;
    return {
      shape: [H, W],
      data: Float64Array.from({ length: H * W }, (_, p) => 50 - 0.25 * Math.floor(p / W)),
    };
  }

  inputChannels(): ChannelMetadata[] {
    return [channel("height_long", { units: "m" }), channel("ridge", { auxiliary: true, units: "1" })];
  }

  outputChannels(): ChannelMetadata[] {
    return [channel("height", { units: "m" })];
  }

  /** Three-hourly from 2024-01-01T00:00Z. */
  time(): Date[] {
    return Array.from({ length: this.#n }, (_, t) => new Date(Date.UTC(2024, 0, 1) + t * 3 * 3_600_000));
  }

  item(t: number): Promise<DownscalingItem> {
    this.checkIndex(t, "TravellingWaves");
    const [H, W] = this.#shape, P = H * W;
    const input = new Float32Array(2 * P), target = new Float32Array(P);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const p = i * W + j;
        const long = this.#long * Math.sin(2 * Math.PI * (j / W + i / (2 * H)) - 0.3 * t);
        const short = this.#short * Math.sin(2 * Math.PI * (5 * j / W - 3 * i / H) - 1.1 * t);
        input[p] = long;
        input[P + p] = this.#ridge[p];
        target[p] = long + short + 0.5 * this.#ridge[p];
      }
    }
    return Promise.resolve({ input: this.normalizeInput(input), target: this.normalizeOutput(target) });
  }

  override normalizeInput(x: Float32Array, planeSize = this.#shape[0] * this.#shape[1]): Float32Array {
    return this.#inputNorm.normalize(x, planeSize);
  }

  override denormalizeInput(x: Float32Array, planeSize = this.#shape[0] * this.#shape[1]): Float32Array {
    return this.#inputNorm.denormalize(x, planeSize);
  }

  override normalizeOutput(x: Float32Array, planeSize = this.#shape[0] * this.#shape[1]): Float32Array {
    return this.#outputNorm.normalize(x, planeSize);
  }

  override denormalizeOutput(x: Float32Array, planeSize = this.#shape[0] * this.#shape[1]): Float32Array {
    return this.#outputNorm.denormalize(x, planeSize);
  }
}
