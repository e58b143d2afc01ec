/**
 * Discrete Fourier transforms of any length, in double precision.
 *
 * Powers of two go straight to fft.js (radix-4). Every other length uses Bluestein's chirp-z
 * algorithm on top of a power-of-two transform, so grids such as 24, 48 or 1059 points cost
 * O(n log n) like the powers of two instead of O(n^2).
 *
 * Complex arrays are interleaved: `[re0, im0, re1, im1, ...]`. The sign conventions are numpy's:
 * forward `X_k = sum_n x_n exp(-2 pi i k n / N)`, inverse with `+` and a factor `1/N`.
 */

import FFT from "fft.js";

type Radix2 = InstanceType<typeof FFT>;

/** A reusable transform plan for one length. Get one with {@link fftPlan}. */
export class FftPlan {
  /** Transform length. */
  readonly n: number;
  readonly #radix2?: Radix2;
  readonly #bluestein?: Bluestein;

  /** Plans a transform of length `n` (a positive integer). */
  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`FFT length must be a positive integer, got ${n}`);
    this.n = n;
    if (n > 1 && (n & (n - 1)) === 0) this.#radix2 = new FFT(n);
    else if (n > 1) this.#bluestein = new Bluestein(n);
  }

  /** Forward transform of an interleaved complex array of length 2n; returns a new array. */
  forward(x: Float64Array): Float64Array {
    this.#checkLength(x);
    const out = new Float64Array(2 * this.n);
    if (this.#radix2) this.#radix2.transform(out, x);
    else if (this.#bluestein) this.#bluestein.forward(x, out);
    else out.set(x);
    return out;
  }

  /** Inverse transform (including the 1/n factor) of an interleaved complex array of length 2n. */
  inverse(x: Float64Array): Float64Array {
    this.#checkLength(x);
    // ifft(x) = conj(fft(conj(x))) / n, so one forward kernel serves both directions.
    const conj = new Float64Array(x);
    for (let i = 1; i < conj.length; i += 2) conj[i] = -conj[i];
    const out = this.forward(conj);
    const scale = 1 / this.n;
    for (let i = 0; i < out.length; i += 2) {
      out[i] *= scale;
      out[i + 1] *= -scale;
    }
    return out;
  }

  #checkLength(x: Float64Array): void {
    if (x.length !== 2 * this.n) {
      throw new Error(`FFT of length ${this.n} needs ${2 * this.n} interleaved values, got ${x.length}`);
    }
  }
}

/** Bluestein's algorithm: a length-n DFT as a circular convolution of power-of-two length m >= 2n-1. */
class Bluestein {
  readonly n: number;
  readonly m: number;
  readonly #inner: Radix2;
  /** chirp w_k = exp(-i pi k^2 / n), k < n. */
  readonly #chirp: Float64Array;
  /** FFT of the conjugate chirp, wrapped circularly to length m. */
  readonly #kernelHat: Float64Array;

  constructor(n: number) {
    this.n = n;
    let m = 1;
    while (m < 2 * n - 1) m *= 2;
    this.m = m;
    this.#inner = new FFT(m);
    this.#chirp = new Float64Array(2 * n);
    for (let k = 0; k < n; k++) {
      // k^2 mod 2n keeps the angle small, so large k lose no precision.
      const angle = (Math.PI * ((k * k) % (2 * n))) / n;
      this.#chirp[2 * k] = Math.cos(angle);
      this.#chirp[2 * k + 1] = -Math.sin(angle);
    }
    const kernel = new Float64Array(2 * m);
    for (let k = 0; k < n; k++) {
      const re = this.#chirp[2 * k], im = -this.#chirp[2 * k + 1];
      kernel[2 * k] = re;
      kernel[2 * k + 1] = im;
      if (k > 0) {
        kernel[2 * (m - k)] = re;
        kernel[2 * (m - k) + 1] = im;
      }
    }
    this.#kernelHat = new Float64Array(2 * m);
    this.#inner.transform(this.#kernelHat, kernel);
  }

  forward(x: Float64Array, out: Float64Array): void {
    const { n, m } = this;
    const w = this.#chirp;
    const a = new Float64Array(2 * m);
    for (let k = 0; k < n; k++) {
      const xr = x[2 * k], xi = x[2 * k + 1], wr = w[2 * k], wi = w[2 * k + 1];
      a[2 * k] = xr * wr - xi * wi;
      a[2 * k + 1] = xr * wi + xi * wr;
    }
    const aHat = new Float64Array(2 * m);
    this.#inner.transform(aHat, a);
    const b = this.#kernelHat;
    for (let k = 0; k < m; k++) {
      const ar = aHat[2 * k], ai = aHat[2 * k + 1], br = b[2 * k], bi = b[2 * k + 1];
      a[2 * k] = ar * br - ai * bi;
      a[2 * k + 1] = ar * bi + ai * br;
    }
    const conv = aHat;
    this.#inner.inverseTransform(conv, a);
    for (let k = 0; k < n; k++) {
      const cr = conv[2 * k], ci = conv[2 * k + 1], wr = w[2 * k], wi = w[2 * k + 1];
      out[2 * k] = cr * wr - ci * wi;
      out[2 * k + 1] = cr * wi + ci * wr;
    }
  }
}

const plans = new Map<number, FftPlan>();

/** Returns a cached {@link FftPlan} for length `n`. */
export function fftPlan(n: number): FftPlan {
  let plan = plans.get(n);
  if (!plan) {
    plan = new FftPlan(n);
    plans.set(n, plan);
  }
  return plan;
}

/** Forward DFT of a real sequence; returns the interleaved complex spectrum of length n. */
export function fftReal(x: ArrayLike<number>): Float64Array {
  const z = new Float64Array(2 * x.length);
  for (let i = 0; i < x.length; i++) z[2 * i] = x[i];
  return fftPlan(x.length).forward(z);
}

/**
 * numpy's `irfft(c, m)` for a real one-sided spectrum `c` (imaginary parts zero), output length
 * `m` (default `2 * (c.length - 1)`): the Hermitian completion of `c`, inverse transformed.
 */
export function irfftReal(c: ArrayLike<number>, m = 2 * (c.length - 1)): Float64Array {
  if (m < 1) throw new Error(`irfft needs an output length >= 1, got ${m} (spectrum length ${c.length})`);
  const z = new Float64Array(2 * m);
  const half = Math.floor(m / 2);
  for (let k = 0; k <= half && k < c.length; k++) {
    z[2 * k] = c[k];
    if (k > 0 && k < m - k) z[2 * (m - k)] = c[k];
  }
  const out = fftPlan(m).inverse(z);
  const real = new Float64Array(m);
  for (let j = 0; j < m; j++) real[j] = out[2 * j];
  return real;
}

/** numpy's `fftfreq(n, d)`: `[0, 1, ..., ceil(n/2)-1, -floor(n/2), ..., -1] / (n d)`. */
export function fftfreq(n: number, d = 1): Float64Array {
  const f = new Float64Array(n);
  const positive = Math.ceil(n / 2);
  for (let k = 0; k < n; k++) f[k] = (k < positive ? k : k - n) / (n * d);
  return f;
}

/** numpy's `rfftfreq(n, d)`: `[0, 1, ..., floor(n/2)] / (n d)`. */
export function rfftfreq(n: number, d = 1): Float64Array {
  const f = new Float64Array(Math.floor(n / 2) + 1);
  for (let k = 0; k < f.length; k++) f[k] = k / (n * d);
  return f;
}
