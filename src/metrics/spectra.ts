/**
 * Power spectra and autocorrelation of gridded fields.
 *
 * The first four functions reproduce the CorrDiff example's `inference/power_spectra.py`
 * (`compute_power_spectrum`, `average_power_spectrum`, `power_spectra_to_acf`, `haversine`),
 * quirks included. The rest go beyond it: an isotropic (radially averaged) 2-D spectrum, a
 * properly normalised autocorrelation, the correlation length and the patch size it implies.
 *
 * Arrays are flat, row-major, with an explicit shape whose last two axes are (height, width) =
 * (y, x). Sample spacings are in any length unit (the CLI uses km); frequencies come out in
 * cycles per that unit. All arithmetic is double precision.
 */

import { fftfreq, fftPlan, fftReal, irfftReal, rfftfreq } from "./fft.ts";

/** Mean Earth radius used by the reference's haversine, in metres. */
export const EARTH_RADIUS_M = 6371000;

/** A 1-D spectrum and its frequency (or wavenumber) coordinate. */
export interface Spectrum1D {
  /** Frequencies in cycles per unit length. */
  freqs: Float64Array;
  /** Spectral density at each frequency, in field units squared times length. */
  spectrum: Float64Array;
}

/** Checks that `shape` has at least `minRank` axes and matches `data.length`; returns the element count. */
function checkShape(data: ArrayLike<number>, shape: readonly number[], what: string, minRank = 2): number {
  if (shape.length < minRank) {
    throw new Error(`${what}: needs at least ${minRank} axes, got shape [${shape}]`);
  }
  const count = shape.reduce((a, s) => a * s, 1);
  if (count !== data.length) {
    throw new Error(`${what}: shape [${shape}] holds ${count} values but the data has ${data.length}`);
  }
  return count;
}

function checkSpacing(d: number, what: string): void {
  if (!(d > 0) || !Number.isFinite(d)) throw new Error(`${what}: sample spacing must be positive, got ${d}`);
}

/**
 * The reference's `compute_power_spectrum(data, d)`: `|fft(data, axis=-2)|^2 / (W d)` with
 * frequencies `fftfreq(W, d)`. [QUIRK kept for parity] The transform runs along the height axis
 * while the normalisation and the frequencies use the width; the reference never calls it.
 */
export function computePowerSpectrum(
  data: ArrayLike<number>,
  shape: readonly number[],
  d: number,
): { freqs: Float64Array; power: Float64Array } {
  const count = checkShape(data, shape, "computePowerSpectrum");
  checkSpacing(d, "computePowerSpectrum");
  const h = shape[shape.length - 2], w = shape[shape.length - 1];
  const power = new Float64Array(count);
  const plan = fftPlan(h);
  const column = new Float64Array(2 * h);
  const norm = 1 / (w * d);
  for (let base = 0; base < count; base += h * w) {
    for (let x = 0; x < w; x++) {
      column.fill(0);
      for (let y = 0; y < h; y++) column[2 * y] = data[base + y * w + x];
      const f = plan.forward(column);
      for (let y = 0; y < h; y++) power[base + y * w + x] = (f[2 * y] ** 2 + f[2 * y + 1] ** 2) * norm;
    }
  }
  return { freqs: fftfreq(w, d), power };
}

/**
 * The reference's `average_power_spectrum(data, d)`: scipy's default periodogram along the last
 * axis (boxcar window, each row's mean removed, one-sided density with `fs = 1/d`), averaged over
 * every other axis. For a row of length N: `P_k = (d/N)|X_k|^2`, doubled for `0 < k < N/2`.
 * Works for any rank >= 1.
 */
export function averagePowerSpectrum(
  data: ArrayLike<number>,
  shape: readonly number[],
  d: number,
): Spectrum1D {
  const count = checkShape(data, shape, "averagePowerSpectrum", 1);
  checkSpacing(d, "averagePowerSpectrum");
  const n = shape[shape.length - 1];
  if (n < 2) {
    throw new Error(`averagePowerSpectrum: the last axis needs at least 2 samples, got shape [${shape}]`);
  }
  const rows = count / n;
  const half = Math.floor(n / 2);
  const spectrum = new Float64Array(half + 1);
  const row = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += data[r * n + i];
    mean /= n;
    for (let i = 0; i < n; i++) row[i] = data[r * n + i] - mean;
    const f = fftReal(row);
    for (let k = 0; k <= half; k++) spectrum[k] += f[2 * k] ** 2 + f[2 * k + 1] ** 2;
  }
  const scale = d / n / rows;
  for (let k = 0; k <= half; k++) {
    // One-sided: fold the negative frequencies in, except DC and the Nyquist bin of an even N.
    const fold = k > 0 && (k < n / 2) ? 2 : 1;
    spectrum[k] *= scale * fold;
  }
  return { freqs: rfftfreq(n, d), spectrum };
}

/**
 * The reference's `power_spectra_to_acf(freqs, spectrum)`: `irfft(spectrum with [0] = 0)` divided
 * by `4 * freqs[1] * sum(spectrum)`, of length `2 (len - 1)`; lag j is at distance `j d`.
 * [QUIRK kept for parity] Its value at lag 0 is about `d / 2`, so 1 only for d = 2 (the spacing
 * the reference hard-codes). Use {@link autocorrelation} for an ACF normalised for any spacing.
 */
export function powerSpectraToAcf(freqs: ArrayLike<number>, spectrum: ArrayLike<number>): Float64Array {
  if (freqs.length !== spectrum.length || spectrum.length < 2) {
    throw new Error(
      `powerSpectraToAcf: needs matching freqs and spectrum of length >= 2, got ${freqs.length} and ${spectrum.length}`,
    );
  }
  const pw = Float64Array.from(spectrum);
  pw[0] = 0;
  let sum = 0;
  for (let k = 0; k < pw.length; k++) sum += pw[k];
  const variance = 4 * sum * freqs[1];
  const acf = irfftReal(pw);
  for (let j = 0; j < acf.length; j++) acf[j] /= variance;
  return acf;
}

/** Great-circle distance in metres between two points given in degrees (the reference's `haversine`). */
export function haversine(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad, dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.sqrt(a));
}

/** Mean grid spacing of a curvilinear grid, in km, along x (columns) and y (rows), with the spread of dx. */
export interface GridSpacing {
  /** Mean east-west neighbour distance, km. */
  dx: number;
  /** Mean north-south neighbour distance, km. */
  dy: number;
  /** Smallest and largest east-west neighbour distance (they differ on a regular lat-lon grid). */
  dxRange: [number, number];
  /** Smallest and largest north-south neighbour distance. */
  dyRange: [number, number];
}

/**
 * Grid spacing in km from 2-D latitude and longitude arrays of shape (H, W), as the mean
 * haversine distance between horizontally and vertically neighbouring points.
 */
export function gridSpacingKm(
  lat: ArrayLike<number>,
  lon: ArrayLike<number>,
  h: number,
  w: number,
): GridSpacing {
  if (lat.length !== h * w || lon.length !== h * w) {
    throw new Error(`gridSpacingKm: lat/lon have ${lat.length}/${lon.length} values, expected ${h}x${w}`);
  }
  if (h < 2 || w < 2) throw new Error(`gridSpacingKm: the grid must be at least 2x2, got ${h}x${w}`);
  const along = (di: number, dj: number): { mean: number; range: [number, number] } => {
    let sum = 0, n = 0, lo = Infinity, hi = -Infinity;
    for (let i = 0; i + di < h; i++) {
      for (let j = 0; j + dj < w; j++) {
        const a = i * w + j, b = (i + di) * w + j + dj;
        const dist = haversine(lat[a], lon[a], lat[b], lon[b]) / 1000;
        sum += dist;
        n++;
        lo = Math.min(lo, dist);
        hi = Math.max(hi, dist);
      }
    }
    return { mean: sum / n, range: [lo, hi] };
  };
  const x = along(0, 1), y = along(1, 0);
  if (!(x.mean > 0) || !(y.mean > 0)) {
    throw new Error(`gridSpacingKm: neighbouring lat/lon points coincide (dx ${x.mean} km, dy ${y.mean} km)`);
  }
  return { dx: x.mean, dy: y.mean, dxRange: x.range, dyRange: y.range };
}

/**
 * Isotropic power spectrum E(k) of fields with shape (..., H, W), averaged over the leading axes.
 *
 * Each (H, W) slice has its mean removed and is transformed in 2-D; its density
 * `P = |F|^2 dx dy / (H W)` is summed over annuli of width `dk = max(1/(W dx), 1/(H dy))` centred
 * on `i dk` and divided by `dk`. So `sum_i E_i dk` is the variance carried by the annuli, and an
 * isotropic field with a 2-D density `~ |k|^-b` gives `E ~ k^(1-b)`, the same slope as the 1-D
 * periodogram of its rows. Bins stop at the smaller Nyquist wavenumber so every annulus is whole.
 */
export function radialPowerSpectrum(
  data: ArrayLike<number>,
  shape: readonly number[],
  dy: number,
  dx: number,
): { wavenumbers: Float64Array; spectrum: Float64Array } {
  const count = checkShape(data, shape, "radialPowerSpectrum");
  checkSpacing(dx, "radialPowerSpectrum dx");
  checkSpacing(dy, "radialPowerSpectrum dy");
  const h = shape[shape.length - 2], w = shape[shape.length - 1];
  if (h < 4 || w < 4) throw new Error(`radialPowerSpectrum: needs at least 4x4 points, got shape [${shape}]`);
  const ky = fftfreq(h, dy), kx = fftfreq(w, dx);
  const dk = Math.max(1 / (w * dx), 1 / (h * dy));
  const bins = Math.floor(Math.min(1 / (2 * dx), 1 / (2 * dy)) / dk + 1e-9);
  const slices = count / (h * w);
  const spectrum = new Float64Array(bins);
  const density = (dx * dy) / (h * w);
  const cell = 1 / (w * dx) / (h * dy);
  for (let s = 0; s < slices; s++) {
    const f = fft2Detrended(data, s * h * w, h, w);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const bin = Math.round(Math.hypot(ky[i], kx[j]) / dk);
        if (bin < 1 || bin > bins) continue;
        const p = (f[2 * (i * w + j)] ** 2 + f[2 * (i * w + j) + 1] ** 2) * density;
        spectrum[bin - 1] += p * cell / dk;
      }
    }
  }
  const wavenumbers = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    wavenumbers[b] = (b + 1) * dk;
    spectrum[b] /= slices;
  }
  return { wavenumbers, spectrum };
}

/** 2-D forward FFT of one (h, w) slice starting at `offset`, after removing the slice mean. */
function fft2Detrended(data: ArrayLike<number>, offset: number, h: number, w: number): Float64Array {
  let mean = 0;
  for (let i = 0; i < h * w; i++) mean += data[offset + i];
  mean /= h * w;
  const z = new Float64Array(2 * h * w);
  const rowPlan = fftPlan(w), colPlan = fftPlan(h);
  const row = new Float64Array(2 * w);
  for (let i = 0; i < h; i++) {
    row.fill(0);
    for (let j = 0; j < w; j++) row[2 * j] = data[offset + i * w + j] - mean;
    z.set(rowPlan.forward(row), 2 * i * w);
  }
  const col = new Float64Array(2 * h);
  for (let j = 0; j < w; j++) {
    for (let i = 0; i < h; i++) {
      col[2 * i] = z[2 * (i * w + j)];
      col[2 * i + 1] = z[2 * (i * w + j) + 1];
    }
    const f = colPlan.forward(col);
    for (let i = 0; i < h; i++) {
      z[2 * (i * w + j)] = f[2 * i];
      z[2 * (i * w + j) + 1] = f[2 * i + 1];
    }
  }
  return z;
}

/**
 * Autocorrelation, normalised to 1 at lag 0, from a one-sided spectrum (as returned by
 * {@link averagePowerSpectrum}) of rows of length `n`: the zero frequency is dropped (as the
 * reference does) and the Wiener-Khinchin inverse is taken with the true row length, so odd `n`
 * works too. Returns lags `0 .. floor(n/2)` (in samples; the ACF of a periodic row mirrors beyond).
 */
export function autocorrelation(spectrum: ArrayLike<number>, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 2 || spectrum.length !== Math.floor(n / 2) + 1) {
    throw new Error(
      `autocorrelation: a spectrum of rows of ${n} samples has ${
        Math.floor(n / 2) + 1
      } bins, got ${spectrum.length}`,
    );
  }
  const pw = Float64Array.from(spectrum);
  pw[0] = 0;
  const full = irfftReal(pw, n);
  const acf = full.slice(0, Math.floor(n / 2) + 1);
  if (!(acf[0] > 0)) throw new Error("autocorrelation: the field has no variance (constant rows?)");
  const c0 = acf[0];
  for (let j = 0; j < acf.length; j++) acf[j] /= c0;
  return acf;
}

/** Swaps the last two axes of a row-major array of shape (..., H, W), giving (..., W, H). */
export function swapLastAxes(data: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const count = checkShape(data, shape, "swapLastAxes");
  const h = shape[shape.length - 2], w = shape[shape.length - 1];
  const out = new Float64Array(count);
  for (let base = 0; base < count; base += h * w) {
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[base + j * h + i] = data[base + i * w + j];
  }
  return out;
}

/**
 * The lag (in samples, linearly interpolated) at which `acf` first drops below `threshold`, or
 * `undefined` when it never does within the lags given.
 */
export function correlationLength(acf: ArrayLike<number>, threshold: number): number | undefined {
  for (let j = 1; j < acf.length; j++) {
    if (acf[j] < threshold) {
      const a = acf[j - 1], b = acf[j];
      return j - 1 + (a - threshold) / (a - b);
    }
  }
  return undefined;
}

/**
 * The smallest square patch, a multiple of `multiple` pixels, that spans a correlation length of
 * `lengths` pixels along every axis; capped at the image size. A missing length (the ACF never
 * decorrelated within the domain) asks for the whole image. The reference's `set_patch_shape`
 * needs square patches whose side is a multiple of 32, hence the defaults.
 */
export function suggestPatchSize(
  lengths: readonly (number | undefined)[],
  imageShape: readonly number[],
  multiple = 32,
): { size: number; wholeImage: boolean } {
  const largestSide = Math.max(...imageShape);
  let need = 0;
  for (const l of lengths) need = Math.max(need, l === undefined ? Infinity : l);
  const size = Math.max(multiple, Math.ceil(need / multiple) * multiple);
  if (size >= largestSide) return { size: largestSide, wholeImage: true };
  return { size, wholeImage: false };
}
