/**
 * Stricter chunk reading for zarrita, which reads some damaged chunks as plausible values where
 * zarr-python refuses them: a chunk whose bytes are fewer than its shape needs (a truncated file)
 * comes back padded with zeros, and a zlib stream cut short or with a bad checksum inflates
 * anyway. A damaged store would then train on silent zeros or wrong values.
 */
import { deflateSync, inflateSync } from "node:zlib";
import * as zarr from "zarrita";

/** Wraps an opened array so that every chunk it reads must hold exactly its chunk shape's values. */
export const withChunkSizeCheck = zarr.defineArrayExtension((array) => ({
  async getChunk(...args: Parameters<typeof array.getChunk>) {
    const chunk = await array.getChunk(...args);
    const want = array.chunks.reduce((a, b) => a * b, 1);
    if (chunk.data.length !== want) {
      throw new Error(
        `chunk ${
          args[0].join(".")
        } holds ${chunk.data.length} values, its shape [${array.chunks}] needs ${want} ` +
          `(truncated or damaged)`,
      );
    }
    return chunk;
  },
}));

let strictZlibInstalled = false;

/**
 * zlib as zarr-python decodes it: zarrita inflates through a DecompressionStream that accepts a
 * stream cut short or with a wrong Adler-32 checksum, i.e. a damaged chunk read as wrong values.
 * Node's inflate checks both. Registered for every zarrita read of the process (only the CWB
 * reader uses zarrita), once.
 */
export function strictZlibChunks(): void {
  if (strictZlibInstalled) return;
  strictZlibInstalled = true;
  const codec = {
    fromConfig: () => ({
      kind: "bytes_to_bytes" as const,
      encode: (bytes: Uint8Array) => new Uint8Array(deflateSync(bytes)),
      decode: (bytes: Uint8Array) => {
        try {
          return new Uint8Array(inflateSync(bytes));
        } catch (e) {
          throw new Error(`zlib chunk does not inflate (${(e as Error).message}): truncated or damaged`);
        }
      },
    }),
  };
  for (const name of ["zlib", "numcodecs.zlib"]) {
    zarr.registry.set(name, () => Promise.resolve(codec as never));
  }
}
