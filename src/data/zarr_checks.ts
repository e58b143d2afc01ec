/**
 * A stricter chunk reader for zarrita. zarrita accepts a chunk whose bytes are fewer than its shape
 * needs (a truncated file, a zlib stream cut short) and leaves the missing values at zero, so a
 * damaged store would train on silent zeros; zarr-python refuses such a chunk. Arrays wrapped
 * with {@link withChunkSizeCheck} refuse it too, saying what they found and expected.
 */
import * as zarr from "zarrita";

/** Wraps an opened array so that every chunk it reads must hold exactly its chunk shape's values. */
export const withChunkSizeCheck = zarr.defineArrayExtension((array) => ({
  async getChunk(...args: Parameters<typeof array.getChunk>) {
    const chunk = await array.getChunk(...args);
    const want = array.chunks.reduce((a, b) => a * b, 1);
    if (chunk.data.length !== want) {
      throw new Error(
        `chunk ${args[0].join(".")} holds ${chunk.data.length} values, its shape [${array.chunks}] needs ${want} ` +
          `(truncated or damaged)`,
      );
    }
    return chunk;
  },
}));
