/**
 * A small typed binding to the system's MPI library through Deno's FFI: the handful of calls that
 * data-parallel training needs (init, rank, size, allreduce, broadcast, barrier, abort, finalize).
 *
 * Two ABIs exist in practice. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the
 * addresses of exported globals (`ompi_mpi_comm_world`, ...), found with dlsym; MPICH's (and Intel
 * MPI's, MVAPICH's) are fixed integers. The flavour is told by whether `ompi_mpi_comm_world` exists.
 *
 * Every call here is blocking and made from the main thread (MPI_THREAD_SINGLE is enough: Deno's
 * other threads never call MPI).
 */

/** Reductions {@link Mpi.allreduce} knows. */
export type ReduceOp = "sum" | "max" | "min";

/** Arrays MPI can reduce or broadcast here. */
export type MpiArray = Float32Array | Float64Array;

/** Library names tried in order (CORRDIFF_MPI_LIB, when set, is tried first). */
export const MPI_LIBRARY_NAMES: readonly string[] = Deno.build.os === "darwin"
  ? ["libmpi.40.dylib", "libmpi.12.dylib", "/opt/homebrew/lib/libmpi.dylib", "/usr/local/lib/libmpi.dylib"]
  : ["libmpi.so.40", "libmpi.so.12", "libmpich.so.12", "libmpi.so"];

/** What to install, for the error when no library loads. */
export const MPI_INSTALL_HINT = "install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin; " +
  "macOS: brew install open-mpi) or MPICH, the same MPI as the launcher, or set CORRDIFF_MPI_LIB " +
  "to the path of its libmpi";

type Handle = Deno.PointerValue | number;

/** The C calls, with the handle type of the flavour loaded. */
interface Calls {
  MPI_Init(argc: null, argv: null): number;
  MPI_Initialized(flag: Int32Array): number;
  MPI_Finalized(flag: Int32Array): number;
  MPI_Comm_rank(comm: Handle, out: Int32Array): number;
  MPI_Comm_size(comm: Handle, out: Int32Array): number;
  MPI_Allreduce(
    send: Deno.PointerValue,
    recv: MpiArray,
    count: number,
    type: Handle,
    op: Handle,
    comm: Handle,
  ): number;
  MPI_Bcast(buf: MpiArray, count: number, type: Handle, root: number, comm: Handle): number;
  MPI_Barrier(comm: Handle): number;
  MPI_Abort(comm: Handle, code: number): number;
  MPI_Finalize(): number;
  MPI_Error_string(code: number, out: Uint8Array, len: Int32Array): number;
}

function signatures(handle: "pointer" | "i32") {
  return {
    MPI_Init: { parameters: ["pointer", "pointer"], result: "i32" },
    MPI_Initialized: { parameters: ["buffer"], result: "i32" },
    MPI_Finalized: { parameters: ["buffer"], result: "i32" },
    MPI_Comm_rank: { parameters: [handle, "buffer"], result: "i32" },
    MPI_Comm_size: { parameters: [handle, "buffer"], result: "i32" },
    MPI_Allreduce: { parameters: ["pointer", "buffer", "i32", handle, handle, handle], result: "i32" },
    MPI_Bcast: { parameters: ["buffer", "i32", handle, "i32", handle], result: "i32" },
    MPI_Barrier: { parameters: [handle], result: "i32" },
    MPI_Abort: { parameters: [handle, "i32"], result: "i32" },
    MPI_Finalize: { parameters: [], result: "i32" },
    MPI_Error_string: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  } as const;
}

const cstr = (s: string) => new TextEncoder().encode(s + "\0");

/** libc's dlopen/dlsym: Deno.dlopen opens libraries RTLD_LOCAL and cannot give a global's address. */
function libdl() {
  const darwin = Deno.build.os === "darwin";
  const names = darwin ? ["libSystem.B.dylib"] : ["libc.so.6", "libdl.so.2"];
  for (const name of names) {
    try {
      const lib = Deno.dlopen(
        name,
        {
          dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
          dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
        } as const,
      );
      // RTLD_NOW | RTLD_GLOBAL
      return { lib, flags: darwin ? 0x2 | 0x8 : 0x2 | 0x100 };
    } catch { /* next */ }
  }
  throw new Error(`cannot load the dynamic loader (${names.join(", ")})`);
}

/** MPICH ABI constants (mpi.h): handles are integers. */
const MPICH = {
  comm: 0x44000000,
  float32: 0x4c00040a,
  float64: 0x4c00080b,
  ops: { sum: 0x58000003, max: 0x58000001, min: 0x58000002 },
  inPlace: 0xffff_ffff_ffff_ffffn, // (void *) -1
};

/** The largest count one call takes (MPI counts are C ints); longer arrays go in pieces. */
const MAX_COUNT = 1 << 30;

/** A loaded MPI library (not yet initialised). */
export class Mpi {
  readonly #c: Calls;
  readonly #comm: Handle;
  readonly #types: { float32: Handle; float64: Handle };
  readonly #ops: Record<ReduceOp, Handle>;
  readonly #inPlace: Deno.PointerValue;

  private constructor(
    /** The file loaded. */
    readonly path: string,
    /** "Open MPI" or "MPICH" (the MPICH ABI: also Intel MPI, MVAPICH). */
    readonly flavor: "Open MPI" | "MPICH",
    calls: Calls,
    handles: {
      comm: Handle;
      types: { float32: Handle; float64: Handle };
      ops: Record<ReduceOp, Handle>;
      inPlace: bigint;
    },
  ) {
    this.#c = calls;
    this.#comm = handles.comm;
    this.#types = handles.types;
    this.#ops = handles.ops;
    this.#inPlace = Deno.UnsafePointer.create(handles.inPlace);
  }

  /**
   * Loads the first MPI library that opens: `CORRDIFF_MPI_LIB`, then {@link MPI_LIBRARY_NAMES}.
   * Throws one line naming what was tried and what to install.
   */
  static load(names: readonly string[] = MPI_LIBRARY_NAMES): Mpi {
    let env: string | undefined;
    try {
      env = Deno.env.get("CORRDIFF_MPI_LIB");
    } catch { /* no env permission */ }
    const tried = env ? [env, ...names] : [...names];
    const { lib: dl, flags } = libdl();
    for (const path of tried) {
      // Global, because Open MPI's components (loaded as plugins) resolve libmpi's symbols.
      const h = dl.symbols.dlopen(cstr(path), flags);
      if (h === null) continue;
      const sym = (name: string) => dl.symbols.dlsym(h, cstr(name));
      const ompiComm = sym("ompi_mpi_comm_world");
      if (ompiComm !== null) {
        const need = (name: string) => {
          const p = sym(name);
          if (p === null) throw new Error(`${path}: Open MPI without the symbol ${name}`);
          return p;
        };
        const lib = Deno.dlopen(path, signatures("pointer"));
        return new Mpi(path, "Open MPI", lib.symbols as unknown as Calls, {
          comm: ompiComm,
          types: { float32: need("ompi_mpi_float"), float64: need("ompi_mpi_double") },
          ops: { sum: need("ompi_mpi_op_sum"), max: need("ompi_mpi_op_max"), min: need("ompi_mpi_op_min") },
          inPlace: 1n, // (void *) 1
        });
      }
      if (sym("MPI_Allreduce") === null) continue; // not an MPI library
      const lib = Deno.dlopen(path, signatures("i32"));
      return new Mpi(path, "MPICH", lib.symbols as unknown as Calls, {
        comm: MPICH.comm,
        types: { float32: MPICH.float32, float64: MPICH.float64 },
        ops: MPICH.ops,
        inPlace: MPICH.inPlace,
      });
    }
    throw new Error(`no MPI library found (tried ${tried.join(", ")}): ${MPI_INSTALL_HINT}`);
  }

  /** MPI_Init, unless already done. */
  init(): void {
    const flag = new Int32Array(1);
    this.#check(this.#c.MPI_Initialized(flag), "MPI_Initialized");
    if (!flag[0]) this.#check(this.#c.MPI_Init(null, null), "MPI_Init");
  }

  /** This process's rank in MPI_COMM_WORLD. */
  rank(): number {
    const out = new Int32Array(1);
    this.#check(this.#c.MPI_Comm_rank(this.#comm, out), "MPI_Comm_rank");
    return out[0];
  }

  /** The number of processes in MPI_COMM_WORLD. */
  size(): number {
    const out = new Int32Array(1);
    this.#check(this.#c.MPI_Comm_size(this.#comm, out), "MPI_Comm_size");
    return out[0];
  }

  /** Reduces `buf` across all ranks in place (MPI_Allreduce with MPI_IN_PLACE); every rank gets the result. */
  allreduce(buf: MpiArray, op: ReduceOp = "sum"): void {
    const type = buf instanceof Float64Array ? this.#types.float64 : this.#types.float32;
    for (let off = 0; off < buf.length; off += MAX_COUNT) {
      const part = buf.subarray(off, Math.min(buf.length, off + MAX_COUNT));
      this.#check(
        this.#c.MPI_Allreduce(this.#inPlace, part, part.length, type, this.#ops[op], this.#comm),
        "MPI_Allreduce",
      );
    }
  }

  /** Copies `buf` of rank `root` into `buf` of every rank (MPI_Bcast). */
  broadcast(buf: MpiArray, root = 0): void {
    const type = buf instanceof Float64Array ? this.#types.float64 : this.#types.float32;
    for (let off = 0; off < buf.length; off += MAX_COUNT) {
      const part = buf.subarray(off, Math.min(buf.length, off + MAX_COUNT));
      this.#check(this.#c.MPI_Bcast(part, part.length, type, root, this.#comm), "MPI_Bcast");
    }
  }

  /** Waits until every rank gets here (MPI_Barrier). */
  barrier(): void {
    this.#check(this.#c.MPI_Barrier(this.#comm), "MPI_Barrier");
  }

  /** Ends every rank of the job with `code` (MPI_Abort): a rank that fails must not leave the others waiting. */
  abort(code: number): never {
    this.#c.MPI_Abort(this.#comm, code);
    Deno.exit(code); // not reached: MPI_Abort does not return
  }

  /** MPI_Finalize, if initialised and not yet finalised. */
  finalize(): void {
    const init = new Int32Array(1), done = new Int32Array(1);
    this.#c.MPI_Initialized(init);
    this.#c.MPI_Finalized(done);
    if (init[0] && !done[0]) this.#check(this.#c.MPI_Finalize(), "MPI_Finalize");
  }

  #check(code: number, call: string): void {
    if (code === 0) return;
    const text = new Uint8Array(1024), len = new Int32Array(1);
    const ok = this.#c.MPI_Error_string(code, text, len) === 0;
    const msg = ok ? new TextDecoder().decode(text.subarray(0, len[0])) : `error ${code}`;
    throw new Error(`${call} failed: ${msg}`);
  }
}
