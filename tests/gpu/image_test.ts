/**
 * Images of tensors (src/gpu/image.ts): the copy lays a tensor's floats out texel by texel, row after row
 * of IMAGE_WIDTH texels, and the pool hands released textures out again.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { fitsImage, IMAGE_WIDTH, ImagePool } from "../../src/gpu/image.ts";

/** The first `floats` floats of an image, in texel order (a copy back to a buffer, then a read). */
async function readImage(device: GPUDevice, texture: GPUTexture, floats: number): Promise<Float32Array> {
  const rows = texture.height;
  const buf = device.createBuffer({
    size: rows * IMAGE_WIDTH * 16,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
  });
  const enc = device.createCommandEncoder();
  enc.copyTextureToBuffer({ texture }, { buffer: buf, bytesPerRow: IMAGE_WIDTH * 16 }, [IMAGE_WIDTH, rows]);
  device.queue.submit([enc.finish()]);
  await buf.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(buf.getMappedRange().slice(0, floats * 4));
  buf.destroy();
  return out;
}

Deno.test("an image holds its tensor's floats in order, over whole rows and a partial last one", async () => {
  const r = await initRuntime();
  for (const n of [4, 4 * IMAGE_WIDTH, 4 * IMAGE_WIDTH * 2 + 12]) {
    const data = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3);
    const t = r.upload(data, [n]);
    const img = r.imageOf(t);
    assertEquals(img.rows, ImagePool.rowsFor(n));
    r.flush();
    const got = await readImage(r.device, img.texture, n);
    assertEquals(Array.from(got), Array.from(data), `image of ${n} floats`);
    img.release();
    t.release();
  }
});

Deno.test("only whole texels make images, and released textures are handed out again", async () => {
  const r = await initRuntime();
  const odd = r.upload(new Float32Array(6), [6]);
  assert(!r.imageable(odd));
  let threw = "";
  try {
    r.imageOf(odd);
  } catch (e) {
    threw = (e as Error).message;
  }
  assert(/\[6\].*16-byte texels/.test(threw), threw);
  odd.release();
  const a = r.images.take(3);
  a.release();
  const b = r.images.take(3);
  assert(b.texture === a.texture, "a released image's texture is reused");
  b.release();
});

Deno.test("a tensor makes an image only in whole texels from a texel boundary, within the adapter's rows", () => {
  const row = 4 * IMAGE_WIDTH; // floats in one image row
  assert(fitsImage(8, 0, 1) && fitsImage(row, 32, 1) && fitsImage(3 * row, 0, 3));
  assert(!fitsImage(6, 0, 1), "not whole texels");
  assert(!fitsImage(8, 8, 1), "not on a texel boundary");
  assert(!fitsImage(row + 4, 0, 1), "one texel past the last row");
  assertEquals(ImagePool.rowsFor(row + 4), 2);
});
