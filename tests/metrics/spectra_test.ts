import { readSafetensors } from "../../src/io/safetensors.ts";
import { fftfreq, fftPlan, irfftReal, rfftfreq } from "../../src/metrics/fft.ts";
import {
  autocorrelation,
  averagePowerSpectrum,
  computePowerSpectrum,
  correlationLength,
  gridSpacingKm,
  haversine,
  powerSpectraToAcf,
  radialPowerSpectrum,
  suggestPatchSize,
  swapLastAxes,
} from "../../src/metrics/spectra.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../helpers/assert.ts";
import { GOLDEN_DIR } from "../helpers/shared.ts";

/** Max |a - g| relative to max |g|: the manifest's tolerance rule for `spectra`. */
function relativeToMax(actual: ArrayLike<number>, golden: ArrayLike<number>): number {
  assertEquals(actual.length, golden.length, "length");
  let err = 0, scale = 0;
  for (let i = 0; i < golden.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - golden[i]));
    scale = Math.max(scale, Math.abs(golden[i]));
  }
  return err / scale;
}

Deno.test("spectra helpers match the reference golden file", () => {
  const manifest = JSON.parse(Deno.readTextFileSync(`${GOLDEN_DIR}/manifest.json`));
  const { rtol } = manifest.files.spectra.cases.spectra.tolerance.default;
  const golden = readSafetensors(`${GOLDEN_DIR}/spectra.safetensors`).tensors;
  const g = (name: string) => {
    const t = golden.get(name);
    if (!t) throw new Error(`golden tensor ${name} missing`);
    return { data: t.data as Float32Array, shape: t.shape };
  };
  const data = g("data"), d = g("d").data[0];
  const check = (name: string, actual: ArrayLike<number>) => {
    const r = relativeToMax(actual, g(name).data);
    assert(r <= rtol, `${name}: error ${r} relative to max|golden| exceeds ${rtol}`);
  };

  const cps = computePowerSpectrum(data.data, data.shape, d);
  check("compute_power_spectrum.freqs", cps.freqs);
  check("compute_power_spectrum.power", cps.power);
  const aps = averagePowerSpectrum(data.data, data.shape, d);
  check("average_power_spectrum.freqs", aps.freqs);
  check("average_power_spectrum.spectrum", aps.spectrum);
  check("power_spectra_to_acf.acf", powerSpectraToAcf(aps.freqs, aps.spectrum));
  const [lat1, lon1, lat2, lon2] = ["lat1", "lon1", "lat2", "lon2"].map((k) => g(`haversine.${k}`).data);
  check("haversine.meters", Array.from(lat1, (_, i) => haversine(lat1[i], lon1[i], lat2[i], lon2[i])));
});

/** Deterministic pseudo-random numbers (mulberry32), uniform in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function naiveDft(x: Float64Array, sign: number): Float64Array {
  const n = x.length / 2, out = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    let re = 0, im = 0;
    for (let j = 0; j < n; j++) {
      const a = (sign * 2 * Math.PI * ((k * j) % n)) / n;
      re += x[2 * j] * Math.cos(a) - x[2 * j + 1] * Math.sin(a);
      im += x[2 * j] * Math.sin(a) + x[2 * j + 1] * Math.cos(a);
    }
    out[2 * k] = re;
    out[2 * k + 1] = im;
  }
  return out;
}

Deno.test("FFT of any length matches a naive DFT, forward and inverse", () => {
  const rand = rng(7);
  for (const n of [1, 2, 3, 4, 5, 7, 12, 16, 24, 48, 100, 127, 128, 243, 1000]) {
    const x = Float64Array.from({ length: 2 * n }, () => rand() - 0.5);
    const forward = fftPlan(n).forward(x);
    const expected = naiveDft(x, -1);
    let err = 0;
    for (let i = 0; i < 2 * n; i++) err = Math.max(err, Math.abs(forward[i] - expected[i]));
    assert(err < 1e-10 * n, `n=${n}: forward error ${err}`);
    const back = fftPlan(n).inverse(forward);
    for (let i = 0; i < 2 * n; i++) assertAlmostEquals(back[i], x[i], 1e-12, `n=${n}: round trip [${i}]`);
  }
});

Deno.test("irfft and the frequency grids follow numpy", () => {
  // irfft of [c0, c1, c2, c3] with length 6: the Hermitian completion, inverse transformed.
  const c = [1.5, -0.25, 2, 0.75];
  const m = 6;
  const out = irfftReal(c, m);
  for (let j = 0; j < m; j++) {
    let v = c[0] + c[3] * (-1) ** j;
    for (let k = 1; k < 3; k++) v += 2 * c[k] * Math.cos((2 * Math.PI * j * k) / m);
    assertAlmostEquals(out[j], v / m, 1e-14, `irfft[${j}]`);
  }
  assertEquals(Array.from(fftfreq(5, 0.5)), [0, 0.4, 0.8, -0.8, -0.4]);
  assertEquals(Array.from(fftfreq(4, 1)), [0, 0.25, -0.5, -0.25]);
  assertEquals(Array.from(rfftfreq(5, 2)), [0, 0.1, 0.2]);
});

Deno.test("average power spectrum of a sinusoid puts its variance in one bin (Parseval)", () => {
  // A cos(2 pi f x) on a whole number of periods: variance A^2/2, all in bin k = f N d.
  for (const n of [24, 25]) {
    const d = 3, k = 5, amp = 2;
    const row = Float64Array.from({ length: n }, (_, i) => 7 + amp * Math.cos((2 * Math.PI * k * i) / n));
    const { freqs, spectrum } = averagePowerSpectrum(row, [n], d);
    assertAlmostEquals(freqs[k], k / (n * d), 1e-15);
    assertAlmostEquals(spectrum[k] * freqs[1], (amp * amp) / 2, 1e-12, `n=${n}`);
    let rest = 0;
    spectrum.forEach((p, i) => (rest += i === k ? 0 : p));
    assertAlmostEquals(rest, 0, 1e-12);
  }
});

/** A (h, w) field whose 2-D Fourier amplitude is `filter(|k|)` times white noise (k in cycles/pixel). */
function spectralField(h: number, w: number, seed: number, filter: (k: number) => number): Float64Array {
  const normal = gaussian(rng(seed));
  const z = new Float64Array(2 * h * w);
  for (let i = 0; i < h * w; i++) z[2 * i] = normal();
  const ky = fftfreq(h), kx = fftfreq(w);
  const rows = fftPlan(w), cols = fftPlan(h);
  const pass = (inverse: boolean, gain?: (i: number, j: number) => number) => {
    for (let i = 0; i < h; i++) {
      const r = z.slice(2 * i * w, 2 * (i + 1) * w);
      z.set(inverse ? rows.inverse(r) : rows.forward(r), 2 * i * w);
    }
    for (let j = 0; j < w; j++) {
      const col = new Float64Array(2 * h);
      for (let i = 0; i < h; i++) col.set(z.subarray(2 * (i * w + j), 2 * (i * w + j) + 2), 2 * i);
      const f = inverse ? cols.inverse(col) : cols.forward(col);
      for (let i = 0; i < h; i++) {
        const g = gain ? gain(i, j) : 1;
        z[2 * (i * w + j)] = f[2 * i] * g;
        z[2 * (i * w + j) + 1] = f[2 * i + 1] * g;
      }
    }
  };
  pass(false, (i, j) => filter(Math.hypot(ky[i], kx[j])));
  pass(true);
  return Float64Array.from({ length: h * w }, (_, i) => z[2 * i]);
}

function fitSlope(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const a = Math.log(x[i]), b = Math.log(y[i]);
    sx += a;
    sy += b;
    sxx += a * a;
    sxy += a * b;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

Deno.test("radial spectrum recovers a power-law slope and keeps the variance", () => {
  // 2-D density ~ |k|^-3 gives the angle-integrated E(k) ~ k^(1-3) = k^-2.
  const h = 128, w = 96, beta = 3, slices = 4;
  const data = new Float64Array(slices * h * w);
  for (let s = 0; s < slices; s++) {
    data.set(spectralField(h, w, 11 + s, (k) => (k > 0 ? k ** (-beta / 2) : 0)), s * h * w);
  }
  const dx = 2.5, dy = 2.5;
  const { wavenumbers, spectrum } = radialPowerSpectrum(data, [slices, h, w], dy, dx);
  assertEquals(wavenumbers.length, Math.floor(0.5 / dx / (1 / (w * dx))));
  assertAlmostEquals(wavenumbers[0], 1 / (w * dx), 1e-15);
  const lo = 3, hi = wavenumbers.length - 3;
  const slope = fitSlope(wavenumbers.slice(lo, hi), spectrum.slice(lo, hi));
  assertAlmostEquals(slope, 1 - beta, 0.1, "fitted slope");

  // A single plane wave on an exact bin: all its variance A^2/2 lands in that bin.
  const amp = 3, kxCycles = 6, kyCycles = 8; // |k| = 10 cycles per domain, bin 10
  const n = 64;
  const wave = Float64Array.from(
    { length: n * n },
    (_, p) => amp * Math.cos(2 * Math.PI * ((kyCycles * Math.floor(p / n)) / n + (kxCycles * (p % n)) / n)),
  );
  const r = radialPowerSpectrum(wave, [n, n], 1, 1);
  const dk = 1 / n;
  const bin = Math.round(Math.hypot(kxCycles, kyCycles)) - 1;
  assertAlmostEquals(r.spectrum[bin] * dk, (amp * amp) / 2, 1e-9, "plane-wave variance");
  assertAlmostEquals(r.spectrum.reduce((a, b) => a + b, 0) * dk, (amp * amp) / 2, 1e-9, "total variance");
});

Deno.test("autocorrelation of a cosine is a cosine; correlation length interpolates the crossing", () => {
  const n = 48, period = 24, d = 2;
  const rows = Float64Array.from(
    { length: 3 * n },
    (_, p) => Math.cos((2 * Math.PI * (p % n)) / period + Math.floor(p / n)),
  );
  const { spectrum } = averagePowerSpectrum(rows, [3, n], d);
  const acf = autocorrelation(spectrum, n);
  assertEquals(acf.length, n / 2 + 1);
  for (let j = 0; j < acf.length; j++) {
    assertAlmostEquals(acf[j], Math.cos((2 * Math.PI * j) / period), 1e-12);
  }
  // cos(2 pi j / 24) = 0.5 at j = 4; between lags the crossing is linearly interpolated.
  assertAlmostEquals(correlationLength(acf, 0.5)!, 4, 1e-9);
  const t = 0.6; // cos 45deg = 0.707 at lag 3, 0.5 at lag 4
  const j = 3, expected = j + (acf[j] - t) / (acf[j] - acf[j + 1]);
  assertAlmostEquals(correlationLength(acf, t)!, expected, 1e-12);
  assertEquals(correlationLength([1, 0.9, 0.8], 0.5), undefined);
  // For d = 2 the reference ACF equals ours at lag 0 (its "magic factor 4" is right only there).
  assertAlmostEquals(powerSpectraToAcf(averagePowerSpectrum(rows, [3, n], d).freqs, spectrum)[0], 1, 1e-12);
});

Deno.test("correlation length of a Gaussian-correlated field, along x and y", () => {
  // White noise filtered by a Gaussian kernel of std s has ACF exp(-r^2 / (4 s^2)): 1/e at r = 2 s.
  // Removing each row's mean biases the estimate low by about (length / row length), hence 0.05.
  const h = 192, w = 256, sigma = 3, slices = 4;
  const field = new Float64Array(slices * h * w);
  for (let s = 0; s < slices; s++) {
    field.set(
      spectralField(h, w, 5 + s, (k) => Math.exp(-2 * Math.PI * Math.PI * sigma * sigma * k * k)),
      s * h * w,
    );
  }
  const alongX = autocorrelation(averagePowerSpectrum(field, [slices, h, w], 1).spectrum, w);
  const alongY = autocorrelation(
    averagePowerSpectrum(swapLastAxes(field, [slices, h, w]), [slices, w, h], 1).spectrum,
    h,
  );
  for (const [name, acf] of [["x", alongX], ["y", alongY]] as const) {
    const length = correlationLength(acf, 1 / Math.E)!;
    assertAlmostEquals(length, 2 * sigma, 0.1 * 2 * sigma, `1/e length along ${name}`);
    for (let r = 0; r <= 8; r++) {
      assertAlmostEquals(acf[r], Math.exp(-(r * r) / (4 * sigma * sigma)), 0.05, `acf[${r}]`);
    }
  }
});

Deno.test("patch size suggestion rounds up to square multiples of 32 and caps at the image", () => {
  assertEquals(suggestPatchSize([10, 40], [256, 256]), { size: 64, wholeImage: false });
  assertEquals(suggestPatchSize([3, 2], [256, 128]), { size: 32, wholeImage: false });
  assertEquals(suggestPatchSize([10, 17], [128, 128], 16), { size: 32, wholeImage: false });
  assertEquals(suggestPatchSize([undefined, 4], [64, 96]), { size: 96, wholeImage: true });
  assertEquals(suggestPatchSize([100], [96, 96]), { size: 96, wholeImage: true });
});

Deno.test("grid spacing from lat/lon follows the haversine", () => {
  // A 0.25 degree grid: dy is 0.25 degrees of a great circle everywhere, dx shrinks with cos(lat).
  const h = 4, w = 5, lat = new Float64Array(h * w), lon = new Float64Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      lat[i * w + j] = 58 - 0.25 * i;
      lon[i * w + j] = -10 + 0.25 * j;
    }
  }
  const s = gridSpacingKm(lat, lon, h, w);
  const degree = (6371 * Math.PI) / 180;
  assertAlmostEquals(s.dy, 0.25 * degree, 1e-9);
  assertAlmostEquals(s.dxRange[0], haversine(58, 0, 58, 0.25) / 1000, 1e-9);
  assertAlmostEquals(s.dxRange[1], haversine(57.25, 0, 57.25, 0.25) / 1000, 1e-9);
  assert(s.dx > s.dxRange[0] && s.dx < s.dxRange[1], "mean dx between its extremes");
});

Deno.test("bad shapes and spacings are reported with the function and shape", () => {
  assertThrows(() => averagePowerSpectrum(new Float64Array(10), [3, 4], 1), Error, "shape [3,4] holds 12");
  assertThrows(() => radialPowerSpectrum(new Float64Array(64), [8, 8], 1, 0), Error, "dx");
  assertThrows(() => computePowerSpectrum(new Float64Array(8), [8], 1), Error, "at least 2 axes");
  assertThrows(() => autocorrelation(new Float64Array(5), 12), Error, "7 bins");
  assertThrows(() => autocorrelation(new Float64Array(5), 8), Error, "no variance");
});
