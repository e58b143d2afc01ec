/**
 * A small seeded random generator (xoshiro128**) with uniform and standard-normal draws.
 *
 * Used for weight initialisation, the synthetic dataset's noise and the samplers' draws. Torch's
 * stream cannot be reproduced, so golden cases replay recorded draws instead.
 */
export class Rng {
  #s = new Uint32Array(4);

  /** A generator whose state is expanded from `seed` (splitmix32); the same seed gives the same stream. */
  constructor(seed: number) {
    // splitmix32 expands the seed into the state so that nearby seeds give unrelated streams.
    let x = (seed >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (!this.#s.some((v) => v !== 0)) this.#s[0] = 1;
  }

  /** The generator's state (four u32 words), to save with a checkpoint. */
  getState(): number[] {
    return [...this.#s];
  }

  /** Restores a state from {@link getState}: the stream continues exactly where it was saved. */
  setState(state: readonly number[]): this {
    if (state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw new Error(`Rng: invalid state [${state}]`);
    }
    if (state.every((v) => v === 0)) throw new Error("Rng: the all-zero state is invalid");
    this.#s.set(state);
    return this;
  }

  /** A uniform u32. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** A standard normal draw (Box-Muller, double precision). */
  normal(): number {
    const u1 = (this.nextU32() + 0.5) / 4294967296;
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** `n` standard normals as float32. */
  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
