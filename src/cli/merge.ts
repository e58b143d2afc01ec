/**
 * `deno task merge <shard files...> <out.nc>`: joins the files written by `deno task generate
 * --shard i/n` (i = 0..n-1, in any order) into one file equal to the unsharded run's.
 */
import { mergeShards } from "../generate/merge.ts";

const USAGE = `usage: deno task merge <shard files...> <out.nc>

  Joins every shard of a run (written by deno task generate --shard i/n) into <out.nc>.`;

/** Runs the command with `args` (without the program name); returns the exit status. */
export async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  if (args.length < 2 || args.some((a) => a.startsWith("-"))) {
    console.error(`merge: expected shard files and an output file\n${USAGE}`);
    return 2;
  }
  const out = args[args.length - 1];
  const t0 = performance.now();
  const s = await mergeShards(args.slice(0, -1), out);
  console.log(
    `merged ${s.shards} shards (${s.members} members x ${s.times} time${s.times === 1 ? "" : "s"}) in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  console.log(`wrote ${s.path}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`merge: ${(e as Error).message.split("\n")[0]}`);
    if (Deno.env.get("CORRDIFF_DEBUG")) console.error(e);
    Deno.exit(1);
  }
}
