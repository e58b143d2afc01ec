/** Where the shared golden data and real datasets live (../shared next to the repository by default). */
export const SHARED_DIR = Deno.env.get("CORRDIFF_SHARED") ?? new URL("../../../shared", import.meta.url).pathname;
export const GOLDEN_DIR = `${SHARED_DIR}/golden`;
