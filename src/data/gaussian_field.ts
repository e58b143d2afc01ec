/**
 * Periodic Gaussian random fields by spectral synthesis: white noise, transformed, shaped by an
 * isotropic energy spectrum, transformed back. Spectra are given as the 1-D isotropic (radially
 * integrated) energy spectrum `E(k)`, the convention of the atmospheric `k^-3` and `k^-5/3`
 * ranges, so a 2-D density `E(k) / (2 pi k)` is what multiplies `|noise|^2`.
 *
 * Wavenumbers are in cycles per pixel (`fftfreq`), the same in both directions.
 */

import { fftfreq, fftPlan } from "../metrics/fft.ts";
import type { Rng } from "../util/rng.ts";

/** An isotropic energy spectrum `E(k)`, `k > 0` in cycles per pixel. */
export type EnergySpectrum = (k: number) => number;

/** `E(k) = k^-slope`. */
export function powerLaw(slope: number): EnergySpectrum {
  return (k) => k ** -slope;
}

/**
 * The Nastrom-Gage shape: `k^-3` at large scales turning into `k^-5/3` beyond the transition
 * wavenumber `kt` (the two terms are equal at `kt`).
 */
export function nastromGage(kt: number): EnergySpectrum {
  const c = kt ** (-3 + 5 / 3);
  return (k) => k ** -3 + c * k ** (-5 / 3);
}

/** In-place 2-D FFT of an interleaved complex `(h, w)` array (inverse includes `1 / (h w)`). */
export function fft2(z: Float64Array, h: number, w: number, inverse = false): void {
  if (z.length !== 2 * h * w) throw new Error(`fft2: ${z.length} values are not ${h}x${w} complex`);
  const rowPlan = fftPlan(w), colPlan = fftPlan(h);
  for (let i = 0; i < h; i++) {
    const row = z.slice(2 * i * w, 2 * (i + 1) * w);
    z.set(inverse ? rowPlan.inverse(row) : rowPlan.forward(row), 2 * i * w);
  }
  const col = new Float64Array(2 * h);
  for (let j = 0; j < w; j++) {
    for (let i = 0; i < h; i++) {
      col[2 * i] = z[2 * (i * w + j)];
      col[2 * i + 1] = z[2 * (i * w + j) + 1];
    }
    const f = inverse ? colPlan.inverse(col) : colPlan.forward(col);
    for (let i = 0; i < h; i++) {
      z[2 * (i * w + j)] = f[2 * i];
      z[2 * (i * w + j) + 1] = f[2 * i + 1];
    }
  }
}

/**
 * The Fourier coefficients of a field with energy spectrum `spectrum`: the transform of real
 * white noise times `sqrt(E(k) / (2 pi k))`, zero at `k = 0`. Real noise keeps the spectrum
 * Hermitian, so any linear real operator applied here transforms back to a real field.
 */
export function spectralNoise(rng: Rng, h: number, w: number, spectrum: EnergySpectrum): Float64Array {
  const z = new Float64Array(2 * h * w);
  for (let i = 0; i < h * w; i++) z[2 * i] = rng.normal();
  fft2(z, h, w);
  const ky = fftfreq(h), kx = fftfreq(w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const k = Math.hypot(ky[i], kx[j]);
      const a = k === 0 ? 0 : Math.sqrt(spectrum(k) / (2 * Math.PI * k));
      z[2 * (i * w + j)] *= a;
      z[2 * (i * w + j) + 1] *= a;
    }
  }
  return z;
}

/** The real part of the inverse transform of `(h, w)` coefficients (left untouched). */
export function toReal(coeffs: Float64Array, h: number, w: number): Float64Array {
  const z = coeffs.slice();
  fft2(z, h, w, true);
  const out = new Float64Array(h * w);
  for (let i = 0; i < h * w; i++) out[i] = z[2 * i];
  return out;
}

/** Rescales in place to zero mean and unit standard deviation (population); returns the array. */
export function standardize(x: Float64Array): Float64Array {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) ** 2;
  const inv = ss > 0 ? 1 / Math.sqrt(ss / x.length) : 0;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) * inv;
  return x;
}

/** A zero-mean, unit-variance periodic field with energy spectrum `spectrum`. */
export function gaussianRandomField(rng: Rng, h: number, w: number, spectrum: EnergySpectrum): Float64Array {
  return standardize(toReal(spectralNoise(rng, h, w, spectrum), h, w));
}

/**
 * A non-divergent wind `(u, v) = (-d psi/dy, d psi/dx)` whose kinetic energy spectrum is
 * `spectrum`, scaled so that the root-mean-square speed is `rms`. Rows run north to south, so
 * `d/dy` (northward) is minus the row derivative.
 */
export function nonDivergentWind(
  rng: Rng,
  h: number,
  w: number,
  spectrum: EnergySpectrum,
  rms: number,
): { u: Float64Array; v: Float64Array } {
  // A velocity component is 2 pi k times the streamfunction: divide the spectrum by (2 pi k)^2.
  const psi = spectralNoise(rng, h, w, (k) => spectrum(k) / (2 * Math.PI * k) ** 2);
  const ky = fftfreq(h), kx = fftfreq(w);
  const uc = new Float64Array(psi.length), vc = new Float64Array(psi.length);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const p = 2 * (i * w + j), re = psi[p], im = psi[p + 1];
      // d/drow multiplies by i 2 pi ky; u = -d psi/d(north) = +d psi/d(row).
      const ay = 2 * Math.PI * ky[i], ax = 2 * Math.PI * kx[j];
      uc[p] = -ay * im;
      uc[p + 1] = ay * re;
      vc[p] = -ax * im;
      vc[p + 1] = ax * re;
    }
  }
  const u = toReal(uc, h, w), v = toReal(vc, h, w);
  let ss = 0;
  for (let i = 0; i < u.length; i++) ss += u[i] * u[i] + v[i] * v[i];
  const scale = ss > 0 ? rms / Math.sqrt(ss / u.length) : 0;
  for (let i = 0; i < u.length; i++) {
    u[i] *= scale;
    v[i] *= scale;
  }
  return { u, v };
}

/** Separable Gaussian blur of a `(h, w)` field with standard deviation `sigma` pixels, edges replicated. */
export function gaussianBlur(x: Float64Array, h: number, w: number, sigma: number): Float64Array {
  if (sigma <= 0) return x.slice();
  const r = Math.ceil(3 * sigma);
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-0.5 * (i / sigma) ** 2);
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  const tmp = new Float64Array(h * w), out = new Float64Array(h * w);
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      let acc = 0;
      for (let q = -r; q <= r; q++) acc += k[q + r] * x[i * w + clamp(j + q, w)];
      tmp[i * w + j] = acc;
    }
  }
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      let acc = 0;
      for (let q = -r; q <= r; q++) acc += k[q + r] * tmp[clamp(i + q, h) * w + j];
      out[i * w + j] = acc;
    }
  }
  return out;
}
