/**
 * Where a process stands among the ones a launcher started, without starting MPI: the launchers'
 * environment variables, the world a plain run gets, the one-line error when MPI is missing, and
 * how a global batch is split over ranks (train.py's rule).
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { detectLauncher } from "../../src/dist/launcher.ts";
import { initWorld, SINGLE_PROCESS } from "../../src/dist/world.ts";
import { Mpi } from "../../src/dist/mpi.ts";
import { readTrainSettings } from "../../src/train/settings.ts";
import { resolveConfig } from "../../src/config/mod.ts";

Deno.test("launchers are told apart by their variables; a plain run and Slurm's batch shell are none", () => {
  assertEquals(detectLauncher({}), null);
  assertEquals(detectLauncher({ OMPI_COMM_WORLD_RANK: "1", OMPI_COMM_WORLD_SIZE: "4", PMIX_RANK: "1" }), {
    launcher: "Open MPI (mpirun)",
    rank: 1,
    size: 4,
  });
  assertEquals(detectLauncher({ PMI_RANK: "2", PMI_SIZE: "3" }), {
    launcher: "PMI (mpiexec)",
    rank: 2,
    size: 3,
  });
  const srun = { SLURM_PROCID: "5", SLURM_STEP_NUM_TASKS: "8", SLURM_NTASKS: "8", SLURM_STEP_ID: "0" };
  assertEquals(detectLauncher(srun), { launcher: "SLURM (srun)", rank: 5, size: 8 });
  // The batch script itself: SLURM_PROCID and the allocation's SLURM_NTASKS, but no job step.
  assertEquals(detectLauncher({ SLURM_PROCID: "0", SLURM_NTASKS: "8", SLURM_JOB_ID: "17" }), null);
  assertEquals(detectLauncher({ ...srun, SLURM_STEP_ID: "4294967294" }), null);
  assertEquals(detectLauncher({ PMIX_RANK: "3" }), { launcher: "PMIx", rank: 3, size: null });
});

Deno.test("a plain run, or a launcher that started one process, is a world of one without MPI", () => {
  const never = (): Mpi => {
    throw new Error("MPI must not be loaded");
  };
  assert(initWorld({}, never) === SINGLE_PROCESS);
  assert(initWorld({ OMPI_COMM_WORLD_RANK: "0", OMPI_COMM_WORLD_SIZE: "1" }, never) === SINGLE_PROCESS);
  const buf = new Float32Array([1, 2]);
  SINGLE_PROCESS.allreduce(buf, "sum");
  assertEquals([...buf], [1, 2]);
});

Deno.test("several processes but no MPI library: one line naming the launcher and what to install", () => {
  const missing = () => Mpi.load(["libmpi-that-does-not-exist.so.99"]);
  const e = assertThrows(() => initWorld({ OMPI_COMM_WORLD_RANK: "1", OMPI_COMM_WORLD_SIZE: "2" }, missing));
  assert(!e.message.includes("\n"), e.message);
  for (
    const part of ["Open MPI (mpirun)", "rank 1 of 2", "libmpi-that-does-not-exist.so.99", "apt-get install"]
  ) {
    assert(e.message.includes(part), `missing '${part}' in: ${e.message}`);
  }
});

Deno.test("the global batch is split over ranks as train.py splits it", () => {
  const cfg = (perGpu: number | "auto", total = 8) =>
    resolveConfig({
      configName: "config_training_synthetic_regression",
      overrides: [`training.hp.total_batch_size=${total}`, `training.hp.batch_size_per_gpu=${perGpu}`],
    });
  const split = (perGpu: number | "auto", world: number, total = 8) => {
    const hp = readTrainSettings(cfg(perGpu, total), [64, 64], world).hp;
    return [hp.batch_size_per_gpu, hp.rounds];
  };
  assertEquals(split("auto", 1), [8, 1]);
  assertEquals(split("auto", 2), [4, 1]);
  assertEquals(split(2, 2), [2, 2]);
  assertEquals(split(8, 4), [2, 1]); // clamped to total // world
  assertThrows(() => split("auto", 3), undefined, "times the 3 processes");
  assertThrows(() => split("auto", 16), undefined, "smaller than the 16 processes");
});
