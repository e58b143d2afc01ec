/**
 * `mpirun -np N deno run -A src/dist/bench.ts [MiB ...]`: the time of one in-place float32
 * MPI_Allreduce (sum) of each size over N ranks, after a barrier so that it measures the reduction
 * and not the ranks' skew; with the bus bandwidth, 2 (N-1)/N x bytes / time, which compares across
 * rank counts (the ring algorithm's traffic per rank). Sizes default to the gradients of the tiny,
 * mini and full-size networks.
 */
import { initWorld } from "./world.ts";

const world = initWorld();
if (world.size < 2) {
  console.error("run it under a launcher with at least 2 ranks: mpirun -np 2 deno run -A src/dist/bench.ts");
  Deno.exit(2);
}
const sizes = Deno.args.length ? Deno.args.map(Number) : [0.18, 41.4, 320];
for (const mib of sizes) {
  const buf = new Float32Array(Math.max(1, Math.round((mib * 2 ** 20) / 4))).fill(1);
  const reps = mib < 1 ? 50 : mib < 100 ? 10 : 3;
  world.allreduce(buf, "sum"); // warm-up: connections and registration
  let total = 0;
  for (let i = 0; i < reps; i++) {
    world.barrier();
    const t = performance.now();
    world.allreduce(buf, "sum");
    total += performance.now() - t;
  }
  const ms = total / reps, bytes = buf.byteLength;
  const busGBs = (2 * (world.size - 1) / world.size) * bytes / (ms / 1000) / 1e9;
  if (world.rank === 0) {
    console.log(
      `${(bytes / 2 ** 20).toFixed(2)} MiB over ${world.size} ranks: ${ms.toFixed(2)} ms, bus bandwidth ${
        busGBs.toFixed(2)
      } GB/s`,
    );
  }
}
world.finalize();
