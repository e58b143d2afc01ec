/**
 * Patch cutting and fusing on the device, driven by a host-side patching plan
 * (src/diffusion/patching.ts). Used by the samplers, where the state is cut into patches before
 * every network call and the denoised patches are averaged back.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { declareKernel } from "../gpu/kernel.ts";
import { defineOp } from "../gpu/op.ts";

/** A patching scheme: patch size, count and the global (row, col) index of every patch pixel. */
export interface Patching {
  /** Image height. */
  readonly H: number;
  /** Image width. */
  readonly W: number;
  /** Patch height. */
  readonly Hp: number;
  /** Patch width. */
  readonly Wp: number;
  /** Number of patches per image. */
  readonly P: number;
  /** [P, 2, Hp, Wp]: row then column of the image pixel under each patch pixel. */
  readonly globalIndex: Int32Array;
  /** Batch position of patch p of sample b among P*B. */
  order(p: number, b: number, B: number): number;
}

/** GridPatching2D plus what `fuse` needs: the padded canvas geometry and its coverage count. */
export interface GridPatching extends Patching {
  /** Patches down the image (rows of the patch grid). */
  readonly Py: number;
  /** Patches across the image (columns of the patch grid). */
  readonly Px: number;
  /** Vertical step between patches: Hp - overlap - boundary. */
  readonly strideY: number;
  /** Horizontal step between patches: Wp - overlap - boundary. */
  readonly strideX: number;
  /** Reflect-padding pixels at the image border (`boundary_pix`). */
  readonly boundary: number;
  /** Height of the padded canvas. */
  readonly Hpad: number;
  /** Width of the padded canvas. */
  readonly Wpad: number;
  /** [Hpad, Wpad]: how many patches cover each canvas pixel. */
  readonly overlapCount: Float32Array;
}

const PARAMS = { total: "u32", B: "u32", C: "u32", n: "u32", HW: "u32", P: "u32", K: "u32" } as const;
const APPLY = declareKernel({
  file: "patching",
  entry: "apply",
  params: PARAMS,
  bindings: ["x", "tbl", "out"],
});
const FUSE = declareKernel({
  file: "patching",
  entry: "fuse",
  params: PARAMS,
  bindings: ["x", "tbl", "inv_count", "out"],
});

// No backward (the samplers cut and fuse tensors that need no gradient): tracked inputs are refused.
const PATCH_APPLY = defineOp({
  name: "patch apply",
  forward: (_: { x: Tensor }, run: () => Tensor) => run(),
});
const PATCH_FUSE = defineOp({
  name: "patch fuse",
  forward: (_: { patches: Tensor }, run: () => Tensor) => run(),
});

/** Index tables of one patching, uploaded once and reused for every call. */
export class DevicePatching {
  /** [P, Hp*Wp]: flat image pixel (row*W + col) under each patch pixel. */
  readonly src: Tensor;
  /** [H*W, K]: flat patch pixels lying on each image pixel, -1 padded; grid patchings only. */
  readonly fuseTable: Tensor | null = null;
  /** [H*W]: 1 / number of patches covering each image pixel; grid patchings only. */
  readonly invCount: Tensor | null = null;
  /** Most patch pixels lying on one image pixel (columns of `fuseTable`); 0 without a grid. */
  readonly K: number = 0;

  /** Builds and uploads the index tables of `plan` (the fuse tables only for a grid patching). */
  constructor(readonly plan: Patching | GridPatching) {
    const r = rt();
    const n = plan.Hp * plan.Wp;
    const src = new Int32Array(plan.P * n);
    for (let p = 0; p < plan.P; p++) {
      for (let k = 0; k < n; k++) {
        src[p * n + k] = plan.globalIndex[p * 2 * n + k] * plan.W + plan.globalIndex[p * 2 * n + n + k];
      }
    }
    this.src = r.upload(src, [plan.P, n]).keep();
    if ("overlapCount" in plan) {
      // For every image pixel, the patch pixels lying on it in the padded canvas.
      const { H, W, Hp, Wp, Py, Px, strideY, strideX, boundary, Wpad } = plan;
      const lists: number[][] = Array.from({ length: H * W }, () => []);
      for (let ix = 0; ix < Px; ix++) {
        for (let iy = 0; iy < Py; iy++) {
          const p = ix * Py + iy;
          for (let u = 0; u < Hp; u++) {
            const y = iy * strideY + u - boundary;
            if (y < 0 || y >= H) continue;
            for (let v = 0; v < Wp; v++) {
              const x = ix * strideX + v - boundary;
              if (x >= 0 && x < W) lists[y * W + x].push(p * n + u * Wp + v);
            }
          }
        }
      }
      const K = Math.max(...lists.map((l) => l.length));
      const tbl = new Int32Array(H * W * K).fill(-1);
      const inv = new Float32Array(H * W);
      lists.forEach((l, j) => {
        tbl.set(l, j * K);
        inv[j] = 1 / plan.overlapCount[(Math.floor(j / W) + boundary) * Wpad + (j % W) + boundary];
      });
      this.K = K;
      this.fuseTable = r.upload(tbl, [H * W, K]).keep();
      this.invCount = r.upload(inv, [H * W]).keep();
    }
  }

  /**
   * x [B, C, H, W] → patches [P*B, C, Hp, Wp] in the plan's batch order (patch-major). No backward:
   * refuses an x that needs a gradient, rather than cutting it silently.
   */
  apply(x: Tensor): Tensor {
    const r = rt();
    const [B, C, H, W] = x.shape;
    const { P, Hp, Wp } = this.plan;
    if (H !== this.plan.H || W !== this.plan.W) {
      throw new Error(`patch apply: input ${H}x${W}, plan ${this.plan.H}x${this.plan.W}`);
    }
    return PATCH_APPLY({ x }, () => {
      const out = r.empty([P * B, C, Hp, Wp]);
      APPLY.run(
        { total: out.size, B, C, n: Hp * Wp, HW: H * W, P },
        { x, tbl: this.src, out },
        APPLY.grid(out.size),
      );
      return out;
    });
  }

  /**
   * Grid patches [P*B, C, Hp, Wp] → image [B, C, H, W], overlaps averaged (GridPatching2D.fuse).
   * Like `apply`, it has no backward and refuses patches that need a gradient.
   */
  fuse(patches: Tensor): Tensor {
    if (!this.fuseTable || !this.invCount) throw new Error("fuse needs a grid patching");
    const { fuseTable, invCount } = this;
    const { P, Hp, Wp, H, W } = this.plan;
    const [PB, C] = patches.shape;
    const B = PB / P;
    return PATCH_FUSE({ patches }, () => {
      const out = rt().empty([B, C, H, W]);
      FUSE.run(
        { total: out.size, B, C, n: Hp * Wp, HW: H * W, P, K: this.K },
        { x: patches, tbl: fuseTable, inv_count: invCount, out },
        FUSE.grid(out.size),
      );
      return out;
    });
  }

  /** Releases the index tables. */
  dispose(): void {
    for (const t of [this.src, this.fuseTable, this.invCount]) {
      if (t) {
        t.release();
      }
    }
  }
}
