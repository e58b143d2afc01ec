/**
 * Per-channel affine normalisation `(x - mean) / std` of channel-first fields, with the reference's
 * float32 arithmetic (numpy float32 arrays with float32 `(C, 1, 1)` statistics), so that
 * normalised samples match the reference bit for bit.
 */

/** Per-channel mean and standard deviation, applied to arrays laid out `(N, C, plane)`. */
export class ChannelNormalization {
  /** Channel means, rounded to float32 as the reference stores them. */
  readonly mean: Float32Array;
  /** Channel standard deviations, rounded to float32. */
  readonly std: Float32Array;

  /**
   * Checks and stores the statistics (rounded to float32).
   *
   * @param mean per-channel means
   * @param std per-channel standard deviations (finite and > 0)
   * @param names channel names, for error messages
   * @param source where the statistics came from (a file, a dataset), for error messages
   */
  constructor(
    mean: ArrayLike<number>,
    std: ArrayLike<number>,
    readonly names: string[],
    readonly source: string,
  ) {
    if (mean.length !== names.length || std.length !== names.length) {
      throw new Error(`${source}: ${names.length} channels but ${mean.length} means and ${std.length} stds`);
    }
    this.mean = Float32Array.from(mean);
    this.std = Float32Array.from(std);
    this.std.forEach((s, c) => {
      if (!(s > 0) || !Number.isFinite(s)) {
        throw new Error(`${source}: std of '${names[c]}' is ${s}; it must be > 0`);
      }
      if (!Number.isFinite(this.mean[c])) {
        throw new Error(`${source}: mean of '${names[c]}' is ${this.mean[c]}`);
      }
    });
  }

  /** Number of channels. */
  get channels(): number {
    return this.mean.length;
  }

  /** `(x - mean) / std` per channel; `x` is `(N, C, plane)` with N >= 1. Returns a new array. */
  normalize(x: Float32Array, planeSize: number): Float32Array {
    const out = new Float32Array(x.length);
    this.#forEachChannel(x.length, planeSize, (c, start, end) => {
      const m = this.mean[c], s = this.std[c];
      // float32 subtract, then float32 divide (the store rounds): numpy's float32 arithmetic.
      for (let i = start; i < end; i++) out[i] = Math.fround(x[i] - m) / s;
    });
    return out;
  }

  /** `x * std + mean` per channel; `x` is `(N, C, plane)`. Returns a new array. */
  denormalize(x: Float32Array, planeSize: number): Float32Array {
    const out = new Float32Array(x.length);
    this.#forEachChannel(x.length, planeSize, (c, start, end) => {
      const m = this.mean[c], s = this.std[c];
      for (let i = start; i < end; i++) out[i] = Math.fround(x[i] * s) + m;
    });
    return out;
  }

  /** A normalisation over a subset of channels, in the order given. */
  select(indices: number[]): ChannelNormalization {
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= this.channels) {
        throw new Error(`${this.source}: channel index ${i} out of range 0..${this.channels - 1}`);
      }
    }
    return new ChannelNormalization(
      indices.map((i) => this.mean[i]),
      indices.map((i) => this.std[i]),
      indices.map((i) => this.names[i]),
      this.source,
    );
  }

  #forEachChannel(
    length: number,
    planeSize: number,
    fn: (c: number, start: number, end: number) => void,
  ): void {
    const C = this.channels;
    if (!Number.isInteger(planeSize) || planeSize <= 0 || length % (C * planeSize) !== 0 || length === 0) {
      throw new Error(
        `${this.source}: array of ${length} values is not (N, ${C}, ${planeSize}) for channels [${this.names}]`,
      );
    }
    for (let start = 0, c = 0; start < length; start += planeSize, c = (c + 1) % C) {
      fn(c, start, start + planeSize);
    }
  }
}
