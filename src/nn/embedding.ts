/**
 * Noise-level embeddings and positional grids, computed on the CPU in double precision.
 *
 * WGSL only promises sin/cos to 2^-11 absolute, far coarser than the reference's float32 library,
 * so these small tables are evaluated with JS Math and uploaded.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { mul, sumRows } from "../ops/elementwise.ts";

/** PositionalEmbedding's frequencies: (1/maxPositions)^(k/(n - endpoint)), k < n = channels/2, as float32. */
export function positionalFreqs(channels: number, endpoint = true, maxPositions = 10000): Float32Array {
  const n = channels / 2;
  const out = new Float32Array(n);
  const denom = n - (endpoint ? 1 : 0);
  for (let k = 0; k < n; k++) out[k] = Math.pow(1 / maxPositions, k / (denom || 1));
  return out;
}

/** The raw embedding [cos(x f), sin(x f)] of PositionalEmbedding (before SongUNet's swap), on the host. */
export function positionalEmbeddingHost(x: Float32Array, freqs: Float32Array): Float32Array {
  const n = freqs.length, out = new Float32Array(x.length * 2 * n);
  for (let b = 0; b < x.length; b++) {
    for (let j = 0; j < n; j++) {
      const a = Math.fround(x[b] * freqs[j]);
      out[b * 2 * n + j] = Math.cos(a);
      out[b * 2 * n + n + j] = Math.sin(a);
    }
  }
  return out;
}

/**
 * SongUNet's noise embedding after the half swap: [sin(a), cos(a)] with a = x f (positional) or
 * a = x (2 pi f) (fourier). Returns [B, 2n]. If `labels` is a tensor that carries gradient, the
 * gradient d emb / d x = f' [cos a, -sin a] flows back to it.
 */
export function noiseEmbedding(
  x: Float32Array,
  freqs: Float32Array,
  kind: "positional" | "fourier",
  labels?: Tensor,
): Tensor {
  const n = freqs.length, B = x.length;
  const emb = new Float32Array(B * 2 * n), deriv = new Float32Array(B * 2 * n);
  for (let j = 0; j < n; j++) {
    const f = kind === "fourier" ? Math.fround(2 * Math.PI * freqs[j]) : freqs[j];
    for (let b = 0; b < B; b++) {
      const a = Math.fround(x[b] * f);
      const s = Math.sin(a), c = Math.cos(a);
      emb[b * 2 * n + j] = s;
      emb[b * 2 * n + n + j] = c;
      deriv[b * 2 * n + j] = f * c;
      deriv[b * 2 * n + n + j] = -f * s;
    }
  }
  const r = rt();
  const out = r.upload(emb, [B, 2 * n]);
  if (labels && r.tape?.wants(labels)) {
    const d = r.upload(deriv, [B, 2 * n]);
    r.tape.record([labels], out, (g) => [sumRows(mul(g, d), B).reshape(labels.shape)], [d]);
  }
  return out;
}

/** Grid types of SongUNetPosEmbd. */
export type GridType = "sinusoidal" | "sinusoidal_octave" | "linear" | "learnable" | "test";

function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) out[0] = a;
  else {
    const step = (b - a) / (n - 1);
    for (let i = 0; i < n; i++) out[i] = a + i * step;
    out[n - 1] = b;
  }
  return out;
}

/**
 * The fixed positional grid [N, H, W] of SongUNetPosEmbd (float64 math, float32 result), concatenated
 * after the input channels. Layout per frequency f: [sin(f gx), sin(f gy), cos(f gx), cos(f gy)], gx
 * varying along columns over linspace(0, 2 pi, W), gy along rows.
 */
export function positionalGrid(type: GridType, channels: number, H: number, W: number): Float32Array {
  const out = new Float32Array(channels * H * W);
  const put = (c: number, fn: (i: number, j: number) => number) => {
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) out[(c * H + i) * W + j] = fn(i, j);
  };
  if (type === "sinusoidal" || type === "sinusoidal_octave") {
    if (channels % 4 !== 0) {
      throw new Error(`gridtype ${type} needs N_grid_channels divisible by 4, got ${channels}`);
    }
    const F = channels / 4;
    const gx = linspace(0, 2 * Math.PI, W), gy = linspace(0, 2 * Math.PI, H);
    // The legacy 'sinusoidal' spacing 2^linspace(0, F, F) is not octaves (F=2 gives [1, 4]); N=4 is f=1.
    const freqs = type === "sinusoidal_octave"
      ? [...Array(F).keys()].map((k) => 2 ** k)
      : F === 1
      ? [1]
      : [...linspace(0, F, F)].map((e) => 2 ** e);
    freqs.forEach((f, k) => {
      put(4 * k + 0, (_i, j) => Math.sin(gx[j] * f));
      put(4 * k + 1, (i, _j) => Math.sin(gy[i] * f));
      put(4 * k + 2, (_i, j) => Math.cos(gx[j] * f));
      put(4 * k + 3, (i, _j) => Math.cos(gy[i] * f));
    });
  } else if (type === "linear") {
    if (channels !== 2) throw new Error(`gridtype linear needs N_grid_channels 2, got ${channels}`);
    const lx = linspace(-1, 1, W), ly = linspace(-1, 1, H);
    put(0, (_i, j) => lx[j]);
    put(1, (i, _j) => ly[i]);
  } else if (type === "test") {
    if (channels !== 2) throw new Error(`gridtype test needs N_grid_channels 2, got ${channels}`);
    put(0, (i, _j) => i);
    put(1, (_i, j) => j);
  } else {
    throw new Error(`positionalGrid: gridtype ${type} has no fixed grid`);
  }
  return out;
}
