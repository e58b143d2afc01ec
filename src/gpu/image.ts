/**
 * Read-only images of tensors, for CPU rasterisers.
 *
 * An image holds a tensor's floats in an rgba32float storage texture, four floats a texel, texels in
 * row-major order, `IMAGE_WIDTH` texels a row: texel i is at (i & (IMAGE_WIDTH - 1), i >> IMAGE_SHIFT).
 * On llvmpipe a `textureLoad` of such a texture costs 0.4x a storage-buffer load (a vec4 each: 0.47
 * against 1.2 ns a lane over a loop of FMAs; Mesa 22.3 loads buffers lane by lane, with a bounds check per
 * component, and images with a gather), so kernels bound by their loads read their operands through one
 * (`IMG`, `IMGW` in kernels/conv2d_k1.wgsl). Writing an image from a kernel costs 4.6x a buffer store, so
 * images are filled by a copy from the tensor (about 2 ms for 19 MB, 0.5 ms at least).
 *
 * Images come from a pool by row count and go back on `release()`; work recorded before the release
 * reads them first (commands run in order), as with the buffer pool.
 */
import type { Runtime } from "./runtime.ts";
import type { Tensor } from "./tensor.ts";

/** log2 of the texels in an image row (the kernels' `IMG_SHIFT`). */
export const IMAGE_SHIFT = 12;
/** Texels in an image row. */
export const IMAGE_WIDTH = 1 << IMAGE_SHIFT;
const ROW_BYTES = IMAGE_WIDTH * 16; // a multiple of the 256 bytes copies need

/**
 * Whether `floats` floats at byte `byteOffset` of a buffer make an image: whole texels (4 floats), starting
 * on one (16 bytes, what texture copies need), in at most `maxRows` rows (the adapter's largest texture).
 */
export function fitsImage(floats: number, byteOffset: number, maxRows: number): boolean {
  return floats % 4 === 0 && byteOffset % 16 === 0 && ImagePool.rowsFor(floats) <= maxRows;
}

/** A tensor's contents as a storage texture (see the module doc). */
export class Image {
  #released = false;
  /** Kept images (derived from parameters) are released by their owner, not by a scope's end. */
  persistent = false;

  /** An image over `texture` (read through `view`); made by {@link ImagePool}. */
  constructor(
    readonly texture: GPUTexture,
    readonly view: GPUTextureView,
    readonly rows: number,
    readonly pool: ImagePool,
  ) {}

  /** Whether the texture went back to the pool. */
  get released(): boolean {
    return this.#released;
  }

  /** Marks the image long-lived (the derived-tensor cache's contract). */
  keep(): this {
    this.persistent = true;
    return this;
  }

  /** Returns the texture to the pool (later recorded work may reuse it). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.pool.put(this);
  }
}

/** Storage textures recycled by row count. */
export class ImagePool {
  #free = new Map<number, Image[]>();
  #placeholder: GPUTextureView | null = null;
  /** Bytes of textures made (images are never destroyed while the runtime lives). */
  bytes = 0;
  #liveBytes = 0;
  #peakBytes = 0;

  /** A pool of images on `device`, at most `maxRows` texture rows each (the adapter's limit). */
  constructor(readonly device: GPUDevice, readonly maxRows: number) {}

  /** Rows an image of `floats` floats needs. */
  static rowsFor(floats: number): number {
    return Math.max(1, Math.ceil(Math.ceil(floats / 4) / IMAGE_WIDTH));
  }

  /** An image of at least `rows` rows (from the pool when one is free). */
  take(rows: number): Image {
    this.#liveBytes += rows * ROW_BYTES;
    this.#peakBytes = Math.max(this.#peakBytes, this.#liveBytes);
    const img = this.#free.get(rows)?.pop();
    if (img) return new Image(img.texture, img.view, rows, this);
    if (rows > this.maxRows) throw new Error(`image of ${rows} rows exceeds the adapter's ${this.maxRows}`);
    const texture = this.device.createTexture({
      label: `image ${rows} rows`,
      size: [IMAGE_WIDTH, rows],
      format: "rgba32float",
      usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC | GPUTextureUsage.STORAGE_BINDING,
    });
    this.bytes += rows * ROW_BYTES;
    return new Image(texture, texture.createView(), rows, this);
  }

  /** Takes back a released image's texture. */
  put(img: Image): void {
    this.#liveBytes -= img.rows * ROW_BYTES;
    let list = this.#free.get(img.rows);
    if (!list) this.#free.set(img.rows, list = []);
    list.push(img);
  }

  /** Bytes of the images taken and not released, and their high-water mark since {@link resetPeak}. */
  stats(): { liveBytes: number; peakBytes: number } {
    return { liveBytes: this.#liveBytes, peakBytes: this.#peakBytes };
  }

  /** Starts a new high-water mark from what is live now. */
  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
  }

  /** A 1-texel image for image bindings a dispatch does not use (the layout still declares them). */
  placeholder(): GPUTextureView {
    return this.#placeholder ??= this.take(1).view;
  }
}

/**
 * Records the copy of `t` into an image from `r`'s pool and returns the image (release it once the
 * dispatches that read it are recorded). The tensor's bytes are copied as they lie: a whole number of
 * image rows, then the rest of the last one.
 */
export function copyToImage(r: Runtime, t: Tensor, enc: GPUCommandEncoder): Image {
  const texels = Math.ceil(t.size / 4);
  const img = r.images.take(ImagePool.rowsFor(t.size));
  const full = Math.floor(texels / IMAGE_WIDTH);
  const src = (offset: number): GPUTexelCopyBufferInfo => ({
    buffer: t.buffer,
    offset: t.byteOffset + offset,
    bytesPerRow: ROW_BYTES,
  });
  if (full > 0) enc.copyBufferToTexture(src(0), { texture: img.texture }, [IMAGE_WIDTH, full]);
  const rest = texels - full * IMAGE_WIDTH;
  if (rest > 0) {
    enc.copyBufferToTexture(src(full * ROW_BYTES), { texture: img.texture, origin: [0, full] }, [rest, 1]);
  }
  return img;
}
