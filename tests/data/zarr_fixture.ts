/**
 * A minimal Zarr v2 writer for test fixtures, from the Zarr v2 specification: `.zgroup`,
 * `.zarray`, `.zattrs` JSON documents and C-order chunks (edge chunks padded to the full chunk
 * shape), raw or zlib-compressed, with optional consolidated metadata (`.zmetadata`).
 */

/** Zarr v2 dtypes the CWB store uses. */
export type ZarrDtype = "<f4" | "<f8" | "<i8" | "|i1" | "|b1" | `<U${number}`;

/** One array to write. */
export interface ZarrArraySpec {
  shape: number[];
  chunks?: number[];
  dtype: ZarrDtype;
  data: ArrayLike<number> | ArrayLike<bigint> | boolean[] | string[];
  attrs?: Record<string, unknown>;
}

/** Writes a store with root arrays; returns the metadata documents it wrote. */
export async function writeZarrStore(
  root: string,
  arrays: Record<string, ZarrArraySpec>,
  opts: { compressor?: "zlib" | null; consolidated?: boolean } = {},
): Promise<void> {
  const meta: Record<string, unknown> = { ".zgroup": { zarr_format: 2 }, ".zattrs": {} };
  await Deno.mkdir(root, { recursive: true });
  for (const [name, spec] of Object.entries(arrays)) {
    const chunks = spec.chunks ?? spec.shape;
    const zarray = {
      zarr_format: 2,
      shape: spec.shape,
      chunks,
      dtype: spec.dtype,
      compressor: opts.compressor === "zlib" ? { id: "zlib", level: 1 } : null,
      fill_value: spec.dtype === "|b1" ? false : spec.dtype.startsWith("<U") ? "" : 0,
      order: "C",
      filters: null,
      dimension_separator: ".",
    };
    const zattrs = { _ARRAY_DIMENSIONS: spec.shape.map((_, i) => `dim_${name}_${i}`), ...spec.attrs };
    meta[`${name}/.zarray`] = zarray;
    meta[`${name}/.zattrs`] = zattrs;
    await Deno.mkdir(`${root}/${name}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${name}/.zarray`, JSON.stringify(zarray));
    await Deno.writeTextFile(`${root}/${name}/.zattrs`, JSON.stringify(zattrs));
    for (const [key, bytes] of chunkBytes(spec, chunks)) {
      const body = opts.compressor === "zlib" ? await zlib(bytes) : bytes;
      await Deno.writeFile(`${root}/${name}/${key}`, body);
    }
  }
  await Deno.writeTextFile(`${root}/.zgroup`, JSON.stringify(meta[".zgroup"]));
  await Deno.writeTextFile(`${root}/.zattrs`, "{}");
  if (opts.consolidated) {
    await Deno.writeTextFile(
      `${root}/.zmetadata`,
      JSON.stringify({ zarr_consolidated_format: 1, metadata: meta }),
    );
  }
}

function itemSize(dtype: ZarrDtype): number {
  if (dtype.startsWith("<U")) return 4 * Number(dtype.slice(2));
  return { "<f4": 4, "<f8": 8, "<i8": 8, "|i1": 1, "|b1": 1 }[dtype as "<f4"];
}

function encodeElement(view: DataView, offset: number, dtype: ZarrDtype, v: unknown): void {
  if (dtype === "<f4") view.setFloat32(offset, Number(v), true);
  else if (dtype === "<f8") view.setFloat64(offset, Number(v), true);
  else if (dtype === "<i8") view.setBigInt64(offset, BigInt(v as number), true);
  else if (dtype === "|i1") view.setInt8(offset, Number(v));
  else if (dtype === "|b1") view.setUint8(offset, v ? 1 : 0);
  else {
    const chars = [...String(v)];
    chars.forEach((ch, i) => view.setUint32(offset + 4 * i, ch.codePointAt(0)!, true));
  }
}

/** Every chunk key with its C-order bytes. */
function* chunkBytes(spec: ZarrArraySpec, chunks: number[]): Generator<[string, Uint8Array]> {
  const nd = spec.shape.length;
  const grid = spec.shape.map((s, d) => Math.ceil(s / chunks[d]));
  const size = itemSize(spec.dtype);
  const perChunk = chunks.reduce((a, b) => a * b, 1);
  const strides = spec.shape.map((_, d) => spec.shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const total = grid.reduce((a, b) => a * b, 1);
  for (let k = 0; k < total; k++) {
    const cidx: number[] = [];
    for (let d = nd - 1, rest = k; d >= 0; d--) {
      cidx[d] = rest % grid[d];
      rest = Math.floor(rest / grid[d]);
    }
    const view = new DataView(new ArrayBuffer(perChunk * size));
    for (let e = 0; e < perChunk; e++) {
      let flat = 0, inside = true;
      for (let d = nd - 1, rest = e; d >= 0; d--) {
        const i = cidx[d] * chunks[d] + (rest % chunks[d]);
        rest = Math.floor(rest / chunks[d]);
        if (i >= spec.shape[d]) inside = false;
        flat += i * strides[d];
      }
      if (inside) encodeElement(view, e * size, spec.dtype, (spec.data as ArrayLike<unknown>)[flat]);
    }
    yield [nd === 0 ? "0" : cidx.join("."), new Uint8Array(view.buffer)];
  }
}

async function zlib(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
