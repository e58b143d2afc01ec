/**
 * The processes one run is spread over. A plain run is a world of one that never loads MPI; under a
 * launcher that started more than one process (mpirun, mpiexec, srun) MPI is loaded and initialised.
 */
import { detectLauncher, type Env, processEnv } from "./launcher.ts";
import { Mpi, type MpiArray, type ReduceOp } from "./mpi.ts";

/** This process's place in the run and the collective calls between its processes. */
export interface World {
  /** 0-based rank of this process. */
  readonly rank: number;
  /** Number of processes. */
  readonly size: number;
  /** How the processes were started, for the log (empty for a plain run). */
  readonly description: string;
  /** Reduces `buf` across ranks in place; every rank gets the result. */
  allreduce(buf: MpiArray, op?: ReduceOp): void;
  /** Copies rank `root`'s `buf` to every rank. */
  broadcast(buf: MpiArray, root?: number): void;
  /** Waits for every rank. */
  barrier(): void;
  /** Ends every rank with `code` (one failing rank must not leave the others waiting in a collective). */
  abort(code: number): never;
  /** Shuts MPI down (call once, at the end). */
  finalize(): void;
}

/** The world of a plain run: one process; the collectives are the identity. */
export const SINGLE_PROCESS: World = Object.freeze({
  rank: 0,
  size: 1,
  description: "",
  allreduce() {},
  broadcast() {},
  barrier() {},
  abort(code: number): never {
    Deno.exit(code);
  },
  finalize() {},
});

/**
 * The world this process belongs to: {@link SINGLE_PROCESS} without a launcher (or with one that
 * started a single process), otherwise MPI's MPI_COMM_WORLD. Throws one line when the launcher
 * started several processes but MPI cannot be loaded, or when the MPI loaded is not the
 * launcher's (it would see a world of one in every process).
 */
export function initWorld(env: Env = processEnv(), load: () => Mpi = () => Mpi.load()): World {
  const info = detectLauncher(env);
  if (!info || info.size === 1) return SINGLE_PROCESS;
  const where = `started by ${info.launcher} as rank ${info.rank}` +
    (info.size ? ` of ${info.size} processes` : "");
  let mpi: Mpi;
  try {
    mpi = load();
  } catch (e) {
    throw new Error(`${where}, but ${(e as Error).message}`);
  }
  mpi.init();
  const rank = mpi.rank(), size = mpi.size();
  if ((info.size !== null && size !== info.size) || rank !== info.rank) {
    throw new Error(
      `${where}, but ${mpi.path} (${mpi.flavor}) sees rank ${rank} of ${size}: ` +
        `the MPI library must be the launcher's (set CORRDIFF_MPI_LIB to its libmpi)`,
    );
  }
  if (size === 1) return { ...SINGLE_PROCESS, finalize: () => mpi.finalize() };
  return {
    rank,
    size,
    description: `${size} processes (${info.launcher}, ${mpi.flavor} ${mpi.path})`,
    allreduce: (buf, op) => mpi.allreduce(buf, op),
    broadcast: (buf, root) => mpi.broadcast(buf, root),
    barrier: () => mpi.barrier(),
    abort: (code) => mpi.abort(code),
    finalize: () => mpi.finalize(),
  };
}
