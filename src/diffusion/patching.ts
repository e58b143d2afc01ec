/**
 * Patch-based ("multi-diffusion") cutting and fusing (reference: physicsnemo/diffusion/multi_diffusion/
 * patching.py). Both patchings reduce to a *global index*: for every patch pixel, the (row, col) of
 * the image pixel it copies. Random patches index the image directly; grid patches index a
 * reflect-padded canvas, so their indices are reflected back into the image.
 *
 * Batch orders follow the reference: random patches are patch-major (p*B + b); grid patches are
 * x-major over the patch grid, then batch ((ix*Py + iy)*B + b).
 */
import type { GridPatching, Patching } from "../ops/patching.ts";

/** The patching types (declared beside the device patching op in src/ops/patching.ts). */
export type { GridPatching, Patching };

/** Bilinear resize of one [C, H, W] image, align_corners=False, no antialias (torch's `interpolate`). */
export function resizeBilinear(
  x: Float32Array,
  C: number,
  H: number,
  W: number,
  Ho: number,
  Wo: number,
): Float32Array {
  const out = new Float32Array(C * Ho * Wo);
  const taps = (n: number, no: number) => {
    const scale = n / no;
    return Array.from({ length: no }, (_, d) => {
      const src = Math.max(Math.fround(scale * (d + 0.5) - 0.5), 0);
      const i0 = Math.floor(src);
      return { i0, i1: Math.min(i0 + 1, n - 1), w: Math.fround(src - i0) };
    });
  };
  const ty = taps(H, Ho), tx = taps(W, Wo);
  for (let c = 0; c < C; c++) {
    for (let u = 0; u < Ho; u++) {
      const { i0: y0, i1: y1, w: wy } = ty[u];
      for (let v = 0; v < Wo; v++) {
        const { i0: x0, i1: x1, w: wx } = tx[v];
        const at = (y: number, xx: number) => x[(c * H + y) * W + xx];
        const top = (1 - wx) * at(y0, x0) + wx * at(y0, x1);
        const bot = (1 - wx) * at(y1, x0) + wx * at(y1, x1);
        out[(c * Ho + u) * Wo + v] = (1 - wy) * top + wy * bot;
      }
    }
  }
  return out;
}

/**
 * Cuts x [B, C, H, W] into patches [P*B, C (+C_add), Hp, Wp] in the patching's batch order; an
 * `additional` input [B, C_add, H', W'] is resized bilinearly to the patch size and appended to
 * every patch of its sample.
 */
export function applyPatching(
  pt: Patching,
  x: Float32Array,
  shape: readonly number[],
  additional?: { data: Float32Array; shape: readonly number[] },
): { data: Float32Array; shape: number[] } {
  const [B, C, H, W] = shape;
  if (H !== pt.H || W !== pt.W) {
    throw new Error(`patching: input is ${H}x${W}, the patching was built for ${pt.H}x${pt.W}`);
  }
  const Ca = additional ? additional.shape[1] : 0;
  const Ct = C + Ca, n = pt.Hp * pt.Wp;
  const out = new Float32Array(pt.P * B * Ct * n);
  const resized = additional ? resizePerSample(pt, additional, B) : [];
  for (let p = 0; p < pt.P; p++) {
    const rows = pt.globalIndex.subarray(p * 2 * n, p * 2 * n + n);
    const cols = pt.globalIndex.subarray(p * 2 * n + n, (p + 1) * 2 * n);
    for (let b = 0; b < B; b++) {
      const o = pt.order(p, b, B) * Ct * n;
      for (let c = 0; c < C; c++) {
        const src = (b * C + c) * H * W;
        for (let k = 0; k < n; k++) out[o + c * n + k] = x[src + rows[k] * W + cols[k]];
      }
      if (Ca) out.set(resized[b], o + C * n);
    }
  }
  return { data: out, shape: [pt.P * B, Ct, pt.Hp, pt.Wp] };
}

function resizePerSample(
  pt: Patching,
  a: { data: Float32Array; shape: readonly number[] },
  B: number,
): Float32Array[] {
  const [, ca, ha, wa] = a.shape;
  return Array.from(
    { length: B },
    (_, b) =>
      resizeBilinear(a.data.subarray(b * ca * ha * wa, (b + 1) * ca * ha * wa), ca, ha, wa, pt.Hp, pt.Wp),
  );
}

/**
 * The "global view" that patched conditioning carries: `a` [B, C, H', W'] resized to the patch size,
 * one copy per patch, in the patching's batch order → [P*B, C, Hp, Wp].
 */
export function globalView(
  pt: Patching,
  a: { data: Float32Array; shape: readonly number[] },
  B: number,
): { data: Float32Array; shape: number[] } {
  const resized = resizePerSample(pt, a, B);
  const C = a.shape[1], n = pt.Hp * pt.Wp;
  const out = new Float32Array(pt.P * B * C * n);
  for (let p = 0; p < pt.P; p++) for (let b = 0; b < B; b++) out.set(resized[b], pt.order(p, b, B) * C * n);
  return { data: out, shape: [pt.P * B, C, pt.Hp, pt.Wp] };
}

/** RandomPatching2D with given upper-left corners [y0, x0] per patch (patch-major batch order). */
export function randomPatching(
  H: number,
  W: number,
  Hp: number,
  Wp: number,
  corners: ArrayLike<number>,
): Patching {
  Hp = Math.min(Hp, H);
  Wp = Math.min(Wp, W);
  const P = corners.length / 2;
  const gi = new Int32Array(P * 2 * Hp * Wp);
  for (let p = 0; p < P; p++) {
    const y0 = corners[2 * p], x0 = corners[2 * p + 1];
    if (y0 < 0 || x0 < 0 || y0 + Hp > H || x0 + Wp > W) {
      throw new Error(`random patch ${p} at [${y0}, ${x0}] leaves the ${H}x${W} image`);
    }
    for (let u = 0; u < Hp; u++) {
      for (let v = 0; v < Wp; v++) {
        gi[(p * 2) * Hp * Wp + u * Wp + v] = y0 + u;
        gi[(p * 2 + 1) * Hp * Wp + u * Wp + v] = x0 + v;
      }
    }
  }
  return { H, W, Hp, Wp, P, globalIndex: gi, order: (p, b, B) => p * B + b };
}

/** Uniformly random corners for `P` patches (the training patch draw), from `uniform()` in [0, 1). */
export function randomCorners(
  H: number,
  W: number,
  Hp: number,
  Wp: number,
  P: number,
  uniform: () => number,
): Int32Array {
  const c = new Int32Array(2 * P);
  for (let p = 0; p < P; p++) {
    c[2 * p] = Math.floor(uniform() * (H - Math.min(Hp, H) + 1));
    c[2 * p + 1] = Math.floor(uniform() * (W - Math.min(Wp, W) + 1));
  }
  return c;
}

/** "reflect" padding index (edge not repeated) of padded position i for a length-n axis padded by `before`. */
function reflect(i: number, before: number, n: number): number {
  let j = i - before;
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  j = ((j % period) + period) % period;
  return j < n ? j : period - j;
}

/** GridPatching2D(img_shape, patch_shape, overlap_pix, boundary_pix). */
export function gridPatching(
  H: number,
  W: number,
  Hp: number,
  Wp: number,
  overlap = 0,
  boundary = 0,
): GridPatching {
  const strideY = Hp - overlap - boundary, strideX = Wp - overlap - boundary;
  if (strideY < 1 || strideX < 1) {
    throw new Error(
      `grid patching: patch ${Hp}x${Wp} leaves no stride with overlap ${overlap} + boundary ${boundary}`,
    );
  }
  if (Hp <= overlap + 2 * boundary || Wp <= overlap + 2 * boundary) {
    throw new Error(
      `grid patching: patch ${Hp}x${Wp} must exceed overlap + 2*boundary = ${overlap + 2 * boundary}`,
    );
  }
  const Py = Math.ceil(H / strideY), Px = Math.ceil(W / strideX), P = Py * Px;
  const Hpad = strideY * (Py - 1) + Hp + boundary, Wpad = strideX * (Px - 1) + Wp + boundary;
  const n = Hp * Wp;
  const gi = new Int32Array(P * 2 * n);
  const count = new Float32Array(Hpad * Wpad);
  for (let ix = 0; ix < Px; ix++) {
    for (let iy = 0; iy < Py; iy++) {
      const p = ix * Py + iy;
      for (let u = 0; u < Hp; u++) {
        for (let v = 0; v < Wp; v++) {
          const py = iy * strideY + u, px = ix * strideX + v;
          gi[p * 2 * n + u * Wp + v] = reflect(py, boundary, H);
          gi[p * 2 * n + n + u * Wp + v] = reflect(px, boundary, W);
          count[py * Wpad + px] += 1;
        }
      }
    }
  }
  return {
    H,
    W,
    Hp,
    Wp,
    P,
    Py,
    Px,
    strideY,
    strideX,
    boundary,
    Hpad,
    Wpad,
    globalIndex: gi,
    overlapCount: count,
    order: (p, b, B) => p * B + b, // p = ix*Py + iy already runs x-major
  };
}

/** Adds grid patches [P*B, C, Hp, Wp] back onto the padded canvas, averages overlaps and crops to [B, C, H, W]. */
export function fuseGridPatches(gp: GridPatching, patches: Float32Array, B: number, C: number): Float32Array {
  const { Hp, Wp, Py, Px, strideY, strideX, Hpad, Wpad, boundary, H, W } = gp;
  const canvas = new Float32Array(B * C * Hpad * Wpad);
  for (let ix = 0; ix < Px; ix++) {
    for (let iy = 0; iy < Py; iy++) {
      for (let b = 0; b < B; b++) {
        const src = ((ix * Py + iy) * B + b) * C * Hp * Wp;
        for (let c = 0; c < C; c++) {
          for (let u = 0; u < Hp; u++) {
            const row = (b * C + c) * Hpad + iy * strideY + u;
            for (let v = 0; v < Wp; v++) {
              canvas[row * Wpad + ix * strideX + v] += patches[src + (c * Hp + u) * Wp + v];
            }
          }
        }
      }
    }
  }
  const out = new Float32Array(B * C * H * W);
  for (let bc = 0; bc < B * C; bc++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const k = (y + boundary) * Wpad + x + boundary;
        out[(bc * H + y) * W + x] = canvas[bc * Hpad * Wpad + k] / gp.overlapCount[k];
      }
    }
  }
  return out;
}
