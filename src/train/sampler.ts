/**
 * The reference's data order (physicsnemo/diffusion/utils/utils.py `InfiniteSampler`): a permutation
 * of the samples from numpy's `RandomState(seed)`, walked forever, each visited position swapped with
 * a random earlier one inside a window, so epochs differ without reshuffling everything.
 *
 * numpy's legacy generator is MT19937 seeded by `init_genrand`; bounded integers are drawn by
 * masked rejection on 32-bit outputs (legacy `random_interval` and `randint` agree for ranges below
 * 2^32). Reproduced here so the same seed gives the reference's order, and its state is saved with
 * checkpoints so a resumed run continues the same order (the reference restarts it instead).
 */

/** numpy.random.RandomState's Mersenne Twister (MT19937). */
export class MT19937 {
  readonly #mt = new Uint32Array(624);
  #i = 624;

  /** Seeds the generator as `RandomState(seed)` does (`init_genrand`). */
  constructor(seed: number) {
    const mt = this.#mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  /** genrand_int32. */
  nextU32(): number {
    const mt = this.#mt;
    if (this.#i >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7fffffff);
        mt[k] = mt[(k + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.#i = 0;
    }
    let y = mt[this.#i++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, max] by masked rejection (numpy's legacy bounded draw). */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let v: number;
    while ((v = (this.nextU32() & mask) >>> 0) > max);
    return v;
  }

  /** `RandomState.permutation(n)`: Fisher-Yates from the end, as numpy's legacy shuffle. */
  permutation(n: number): Int32Array {
    const a = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.interval(i);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** The generator's state (624 words and the position in them), to save with a checkpoint. */
  getState(): { key: number[]; pos: number } {
    return { key: [...this.#mt], pos: this.#i };
  }

  /** Restores a state that `getState` returned. */
  setState(s: { key: readonly number[]; pos: number }): this {
    if (s.key.length !== 624 || !(s.pos >= 0 && s.pos <= 624)) throw new Error("MT19937: invalid state");
    this.#mt.set(s.key);
    this.#i = s.pos;
    return this;
  }
}

/** Saved position of an {@link InfiniteSampler}. */
export interface SamplerState {
  /** The current order of the sample indices (a permutation, partly swapped along the walk). */
  order: number[];
  /** Positions walked so far, over all ranks. */
  idx: number;
  /** State of the generator of the swaps. */
  rng: { key: number[]; pos: number };
}

/** Endless sample indices in the reference's order, for one rank of `world`. */
export class InfiniteSampler {
  readonly #order: Int32Array;
  readonly #rng: MT19937;
  readonly #window: number;
  #idx = 0;

  /**
   * `startIdx` starts the walk there with a fresh order, as train.py does when it resumes (the
   * reference's sampler does not replay the swaps of the samples before it).
   */
  constructor(
    readonly length: number,
    o: { seed?: number; windowSize?: number; rank?: number; world?: number; startIdx?: number } = {},
  ) {
    if (!(length > 0)) throw new Error("InfiniteSampler: the dataset is empty");
    this.rank = o.rank ?? 0;
    this.world = o.world ?? 1;
    this.#rng = new MT19937(o.seed ?? 0);
    this.#order = this.#rng.permutation(length);
    // Python's round() (half to even) of window_size * N.
    this.#window = roundHalfEven((o.windowSize ?? 0.5) * length);
    this.#idx = o.startIdx ?? 0;
  }

  /** This process's rank: it gets the positions `rank`, `rank + world`, ... */
  readonly rank: number;
  /** Number of ranks sharing the walk. */
  readonly world: number;

  /** The next index for this rank. */
  next(): number {
    for (;;) {
      const i = this.#idx % this.length;
      const mine = this.#idx % this.world === this.rank;
      const out = this.#order[i];
      if (this.#window >= 2) {
        const j = (((i - this.#rng.interval(this.#window - 1)) % this.length) + this.length) % this.length;
        const t = this.#order[i];
        this.#order[i] = this.#order[j];
        this.#order[j] = t;
      }
      this.#idx++;
      if (mine) return out;
    }
  }

  /** The position, order and generator state, to save with a checkpoint. */
  getState(): SamplerState {
    return { order: [...this.#order], idx: this.#idx, rng: this.#rng.getState() };
  }

  /** Restores a state that `getState` returned; the dataset must have as many samples as when it was saved. */
  setState(s: SamplerState): this {
    if (s.order.length !== this.length) {
      throw new Error(`saved data order covers ${s.order.length} samples, the dataset has ${this.length}`);
    }
    this.#order.set(s.order);
    this.#idx = s.idx;
    this.#rng.setState(s.rng);
    return this;
  }
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x), d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
