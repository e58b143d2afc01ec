/**
 * Fine-scale power: how much of the truth's variability below the coarse grid's resolution a
 * downscaled field keeps. Spectra are 1-D along x (rows), each row's mean removed and a periodic Hann
 * window applied, |FFT|^2 averaged over every row of every field; the share is the field's power above
 * the coarse grid's Nyquist wavenumber over the truth's power there (1 = as much as the truth; an
 * interpolation keeps a few percent). Wavenumbers are in cycles per fine pixel.
 */
import { fftPlan } from "./fft.ts";

/** A mean 1-D power spectrum along x: `power[k]` at wavenumber `k / width` cycles per pixel. */
export interface RowSpectrum {
  /** Wavenumbers 0 .. 1/2 in cycles per fine pixel (width/2 + 1 values). */
  wavenumber: Float64Array;
  power: Float64Array;
}

/**
 * The mean Hann-windowed power spectrum along x of `fields`: each a stack of (height x width) planes,
 * row-major; every row of every plane counts once.
 */
export function rowSpectrum(
  fields: readonly ArrayLike<number>[],
  height: number,
  width: number,
): RowSpectrum {
  if (!(width >= 2 && height >= 1)) throw new Error(`rowSpectrum: a ${height}x${width} grid is too small`);
  const plan = fftPlan(width);
  const hann = Float64Array.from(
    { length: width },
    (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / width),
  );
  const nk = Math.floor(width / 2) + 1;
  const power = new Float64Array(nk);
  const row = new Float64Array(2 * width);
  let rows = 0;
  for (const f of fields) {
    if (f.length % (height * width) !== 0) {
      throw new Error(`rowSpectrum: ${f.length} values are not whole ${height}x${width} planes`);
    }
    for (let base = 0; base < f.length; base += width) {
      let mean = 0;
      for (let i = 0; i < width; i++) mean += f[base + i];
      mean /= width;
      row.fill(0);
      for (let i = 0; i < width; i++) row[2 * i] = (f[base + i] - mean) * hann[i];
      const X = plan.forward(row);
      for (let k = 0; k < nk; k++) power[k] += X[2 * k] ** 2 + X[2 * k + 1] ** 2;
      rows++;
    }
  }
  for (let k = 0; k < nk; k++) power[k] /= rows;
  return { wavenumber: Float64Array.from({ length: nk }, (_, k) => k / width), power };
}

/** Total power of a spectrum above the Nyquist wavenumber of a grid `factor` times coarser. */
export function powerAboveCoarseNyquist(s: RowSpectrum, factor: number): number {
  if (!(factor >= 1)) throw new Error(`upsampling factor must be at least 1, got ${factor}`);
  const cutoff = 1 / (2 * factor);
  let sum = 0;
  s.wavenumber.forEach((k, i) => {
    if (k > cutoff + 1e-12) sum += s.power[i];
  });
  return sum;
}

/**
 * The share of the truth's power above the coarse Nyquist wavenumber that `fields` keep
 * (`factor`: fine pixels per coarse cell along x).
 */
export function finePowerShare(
  fields: readonly ArrayLike<number>[],
  truth: readonly ArrayLike<number>[],
  height: number,
  width: number,
  factor: number,
): number {
  const t = powerAboveCoarseNyquist(rowSpectrum(truth, height, width), factor);
  return powerAboveCoarseNyquist(rowSpectrum(fields, height, width), factor) / t;
}
