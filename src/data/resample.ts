/**
 * Resampling of channel-first fields `(C, H, W)`: the HRRR-mini reader's bilinear up-sampling with
 * linear extrapolation at the edges, cubic convolution (OpenCV `INTER_CUBIC` / PyTorch bicubic
 * with `align_corners=False`), strided sub-sampling and block means.
 *
 * All grids are pixel-centre aligned: output pixel `r` of a resize from `n` to `m` samples the
 * input at `s = (r + 0.5) * n / m - 0.5`.
 */

/**
 * Up-samples `(C, h, w)` by an integer factor `f` to `(C, h*f, w*f)` by bilinear interpolation,
 * extrapolating linearly beyond the outermost pixel centres (the HRRR-mini `_zoom_extrapolate`).
 * The arithmetic follows the reference's numba kernel on float32 input: differences of two input
 * values are float32, everything else double, and the result is rounded to float32 once.
 */
export function upsampleBilinearExtrapolate(
  x: Float32Array,
  channels: number,
  h: number,
  w: number,
  factor: number,
): Float32Array {
  checkShape(x, channels, h, w, "upsampleBilinearExtrapolate");
  if (!Number.isInteger(factor) || factor < 1) {
    throw new Error(`upsampling factor must be a positive integer, got ${factor}`);
  }
  if (h < 2 || w < 2) {
    throw new Error(`bilinear extrapolation needs at least 2x2 input pixels, got ${h}x${w}`);
  }
  const H = h * factor, W = w * factor;
  const rows = bilinearTaps(h, H, factor);
  const cols = bilinearTaps(w, W, factor);
  const y = new Float32Array(channels * H * W);
  for (let k = 0; k < channels; k++) {
    const xk = k * h * w, yk = k * H * W;
    for (let r = 0; r < H; r++) {
      const i0 = rows.i0[r], di = rows.t[r];
      const row0 = xk + i0 * w, row1 = row0 + w;
      for (let c = 0; c < W; c++) {
        const j0 = cols.i0[c], dj = cols.t[c];
        const x00 = x[row0 + j0], x01 = x[row0 + j0 + 1], x10 = x[row1 + j0], x11 = x[row1 + j0 + 1];
        const a = x00 + dj * Math.fround(x01 - x00);
        const b = x10 + dj * Math.fround(x11 - x10);
        y[yk + r * W + c] = a + di * (b - a);
      }
    }
  }
  return y;
}

/** Left neighbour (clamped so that the right one exists) and weight, possibly outside [0, 1]. */
function bilinearTaps(n: number, m: number, factor: number): { i0: Int32Array; t: Float64Array } {
  const i0 = new Int32Array(m), t = new Float64Array(m);
  const s = 1 / factor;
  for (let r = 0; r < m; r++) {
    const pos = (r + 0.5) * s - 0.5;
    const lo = Math.max(0, Math.min(Math.floor(pos), n - 2));
    i0[r] = lo;
    t[r] = pos - lo;
  }
  return { i0, t };
}

/**
 * Resizes `(C, h, w)` to `(C, outH, outW)` by cubic convolution with Keys' kernel (`a = -0.75`) and
 * replicated edges: OpenCV's `resize(..., INTER_CUBIC)` and PyTorch's
 * `interpolate(mode="bicubic", align_corners=False)` (which clamps indices the same way).
 */
export function resizeCubic(
  x: Float32Array,
  channels: number,
  h: number,
  w: number,
  outH: number,
  outW: number,
  a = -0.75,
): Float32Array {
  checkShape(x, channels, h, w, "resizeCubic");
  const rows = cubicTaps(h, outH, a), cols = cubicTaps(w, outW, a);
  const tmp = new Float64Array(h * outW);
  const y = new Float32Array(channels * outH * outW);
  for (let k = 0; k < channels; k++) {
    const xk = k * h * w;
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < outW; c++) {
        let acc = 0;
        for (let q = 0; q < 4; q++) acc += cols.w[4 * c + q] * x[xk + r * w + cols.idx[4 * c + q]];
        tmp[r * outW + c] = acc;
      }
    }
    const yk = k * outH * outW;
    for (let r = 0; r < outH; r++) {
      for (let c = 0; c < outW; c++) {
        let acc = 0;
        for (let q = 0; q < 4; q++) acc += rows.w[4 * r + q] * tmp[rows.idx[4 * r + q] * outW + c];
        y[yk + r * outW + c] = acc;
      }
    }
  }
  return y;
}

function cubicTaps(n: number, m: number, a: number): { idx: Int32Array; w: Float64Array } {
  const idx = new Int32Array(4 * m), w = new Float64Array(4 * m);
  const scale = n / m;
  const kernel = (d: number) => {
    const ad = Math.abs(d);
    if (ad <= 1) return ((a + 2) * ad - (a + 3)) * ad * ad + 1;
    if (ad < 2) return ((a * ad - 5 * a) * ad + 8 * a) * ad - 4 * a;
    return 0;
  };
  for (let r = 0; r < m; r++) {
    const pos = (r + 0.5) * scale - 0.5;
    const lo = Math.floor(pos), t = pos - lo;
    for (let q = 0; q < 4; q++) {
      idx[4 * r + q] = Math.max(0, Math.min(n - 1, lo - 1 + q));
      w[4 * r + q] = kernel(t - (q - 1));
    }
  }
  return { idx, w };
}

/** Every `step`-th pixel from the first, in both directions: numpy's `x[:, ::step, ::step]`. */
export function subsample(x: Float32Array, channels: number, h: number, w: number, step: number): {
  data: Float32Array;
  h: number;
  w: number;
} {
  checkShape(x, channels, h, w, "subsample");
  const hs = Math.ceil(h / step), ws = Math.ceil(w / step);
  const data = new Float32Array(channels * hs * ws);
  for (let k = 0; k < channels; k++) {
    for (let r = 0; r < hs; r++) {
      for (let c = 0; c < ws; c++) data[(k * hs + r) * ws + c] = x[(k * h + r * step) * w + c * step];
    }
  }
  return { data, h: hs, w: ws };
}

/** Means over non-overlapping `f x f` blocks: `(C, h*f, w*f)` to `(C, h, w)`, summed in double. */
export function blockMean(
  x: Float32Array,
  channels: number,
  H: number,
  W: number,
  factor: number,
): Float32Array {
  checkShape(x, channels, H, W, "blockMean");
  if (H % factor !== 0 || W % factor !== 0) {
    throw new Error(`blockMean: ${H}x${W} is not divisible by the factor ${factor}`);
  }
  const h = H / factor, w = W / factor;
  const sums = new Float64Array(channels * h * w);
  for (let k = 0; k < channels; k++) {
    for (let r = 0; r < H; r++) {
      const out = (k * h + Math.floor(r / factor)) * w;
      const src = (k * H + r) * W;
      for (let c = 0; c < W; c++) sums[out + Math.floor(c / factor)] += x[src + c];
    }
  }
  const inv = 1 / (factor * factor);
  return Float32Array.from(sums, (s) => s * inv);
}

/** Cuts the window rows `[i, i+H)`, columns `[j, j+W)` out of every channel of `(C, Y, X)`. */
export function cropWindow(
  x: Float32Array,
  channels: number,
  Y: number,
  X: number,
  i: number,
  j: number,
  H: number,
  W: number,
): Float32Array {
  checkShape(x, channels, Y, X, "cropWindow");
  if (i < 0 || j < 0 || i + H > Y || j + W > X) {
    throw new Error(`cropWindow: window ${H}x${W} at (${i}, ${j}) does not fit in ${Y}x${X}`);
  }
  const out = new Float32Array(channels * H * W);
  for (let k = 0; k < channels; k++) {
    for (let r = 0; r < H; r++) {
      const src = (k * Y + i + r) * X + j;
      out.set(x.subarray(src, src + W), (k * H + r) * W);
    }
  }
  return out;
}

function checkShape(x: Float32Array, c: number, h: number, w: number, what: string): void {
  if (x.length !== c * h * w) throw new Error(`${what}: ${x.length} values are not (${c}, ${h}, ${w})`);
}
