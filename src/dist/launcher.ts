/**
 * Which launcher started this process, from the environment it leaves: Open MPI's `mpirun`, MPICH's
 * Hydra (or any PMI launcher), a PMIx server, or SLURM's `srun`. Read before MPI is loaded, so that
 * a plain run never touches MPI and a generation task can find its place without initialising it.
 */

/** A process's place among the processes a launcher started together. */
export interface LaunchInfo {
  /** Who set the variables (for messages). */
  launcher: string;
  /** 0-based rank of this process. */
  rank: number;
  /** Number of processes, or null when the launcher says only the rank (MPI then tells). */
  size: number | null;
}

/** The environment as a plain map (tests pass their own). */
export type Env = Record<string, string | undefined>;

/** The process environment, or an empty one without --allow-env. */
export function processEnv(): Env {
  try {
    return Deno.env.toObject();
  } catch {
    return {};
  }
}

function int(env: Env, key: string): number | null {
  const v = env[key];
  if (v === undefined || !/^\s*\d+\s*$/.test(v)) return null;
  return Number(v);
}

/**
 * Slurm's batch shell also carries SLURM_PROCID and SLURM_NTASKS (of the allocation), so those alone
 * do not mean that srun started N copies; SLURM_STEP_NUM_TASKS is set only inside a job step, and
 * the batch step (id 4294967294, "batch") is the script itself.
 */
function isSrunStep(env: Env): boolean {
  const step = env.SLURM_STEP_ID ?? env.SLURM_STEPID;
  return env.SLURM_STEP_NUM_TASKS !== undefined && env.SLURM_PROCID !== undefined &&
    step !== "4294967294" && step !== "batch";
}

/**
 * The launcher this process runs under, or null for a plain run. The first match wins: Open MPI's
 * variables, then PMI's (MPICH Hydra, Intel MPI, srun --mpi=pmi2), then srun's own, then PMIx
 * (which names the rank but not the size).
 */
export function detectLauncher(env: Env = processEnv()): LaunchInfo | null {
  const candidates: [string, string, string | null][] = [
    ["Open MPI (mpirun)", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"],
    ["PMI (mpiexec)", "PMI_RANK", "PMI_SIZE"],
  ];
  for (const [launcher, r, s] of candidates) {
    const rank = int(env, r), size = s ? int(env, s) : null;
    if (rank !== null && size !== null) return { launcher, rank, size };
  }
  if (isSrunStep(env)) {
    const rank = int(env, "SLURM_PROCID"), size = int(env, "SLURM_STEP_NUM_TASKS");
    if (rank !== null && size !== null) return { launcher: "SLURM (srun)", rank, size };
  }
  const pmix = int(env, "PMIX_RANK");
  if (pmix !== null) return { launcher: "PMIx", rank: pmix, size: null };
  return null;
}
