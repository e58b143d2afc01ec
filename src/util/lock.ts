/**
 * Exclusive use of a checkpoint directory or an output file by one run at a time.
 *
 * The lock is a file `<target>.lock` beside the target, holding the owner's pid, host and start
 * time as JSON. It is created complete in one step (written under a private name, then hard-linked
 * to the lock name, which fails if the name exists), so no reader ever sees half a lock. A second
 * run finds the file and refuses, naming the owner. A run that crashed (or was killed) cannot
 * release its lock, so a lock whose process is gone is stale and is taken over: on the same host
 * the pid is looked up (and, on Linux, its start time compared, so that a recycled pid does not
 * count as the owner). A lock from another host cannot be checked from here; the message says
 * which file to delete if that run is known to be gone.
 */
import process from "node:process";
import { dirname } from "node:path";

/** What the lock file holds. */
export interface LockOwner {
  pid: number;
  host: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** The process's start time in clock ticks since boot (Linux), to tell a recycled pid apart. */
  procStart?: string;
  /** What the owner does ("training", "generation"), for the message a second run gets. */
  purpose: string;
  /** Random token: only the owner removes its lock, even after a stale lock was taken over. */
  token: string;
}

/** A held lock. `release()` (or `using`) removes the lock file; releasing twice is harmless. */
export interface Lock extends Disposable {
  /** The lock file. */
  readonly path: string;
  release(): void;
}

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** What the run does, shown to a second run: "training", "generation", "scoring". */
  purpose?: string;
  /** Create the target's parent directory if needed (a checkpoint directory's parent, say). */
  createParent?: boolean;
}

/** The lock file of `target`: `<target>.lock` (trailing slashes of a directory dropped). */
export function lockPathFor(target: string): string {
  return `${target.replace(/\/+$/, "")}.lock`;
}

/**
 * Takes the lock of `target` (a directory or a file, which need not exist yet) for this process,
 * taking over a stale one. Throws one line naming the target, the owner and the lock file when
 * another live run holds it.
 *
 * @example
 * using _lock = acquireLock(checkpointDir, { purpose: "training", createParent: true });
 */
export function acquireLock(target: string, opts: LockOptions = {}): Lock {
  const path = lockPathFor(target);
  if (opts.createParent) Deno.mkdirSync(dirname(path), { recursive: true });
  else if (!isDirectory(dirname(path))) {
    throw new Error(`${target}: cannot be locked, directory ${dirname(path)} does not exist`);
  }
  const me: LockOwner = {
    pid: Deno.pid,
    host: hostname(),
    since: new Date().toISOString(),
    procStart: procStartTime(Deno.pid),
    purpose: opts.purpose ?? "corrdiff",
    token: crypto.randomUUID(),
  };
  // Two tries: the second after taking over a stale lock (someone else may win that race; then we refuse).
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryCreate(path, me)) return heldLock(path, me.token);
    const text = readOrNull(path);
    if (text === null) continue; // released between our attempt and the read
    const owner = parseOwner(text);
    if (owner && isAlive(owner)) throw new Error(refusal(target, path, owner));
    if (!owner && !olderThan(path, 10_000)) {
      // Unparsable and fresh: written by another version or mid-edit by hand; do not break it.
      throw new Error(
        `${target}: locked by ${path}, which is not a lock this program wrote; delete it if no run uses ${target}`,
      );
    }
    takeOver(path, text);
  }
  throw new Error(`${target}: another run took the lock ${path} at the same moment; try again`);
}

function heldLock(path: string, token: string): Lock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    // Remove only our own lock: if ours was taken over as stale (we were frozen, say), the file is theirs.
    const owner = parseOwner(readOrNull(path) ?? "");
    if (owner?.token !== token) return;
    try {
      Deno.removeSync(path);
    } catch { /* already gone */ }
  };
  return { path, release, [Symbol.dispose]: release };
}

/** Creates the lock file with its full content in one step; false if it exists. */
function tryCreate(path: string, me: LockOwner): boolean {
  const tmp = `${path}.${me.token}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(me) + "\n");
  try {
    Deno.linkSync(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    // A file system without hard links: exclusive create, then write (a reader may see it empty).
    try {
      Deno.writeTextFileSync(path, JSON.stringify(me) + "\n", { createNew: true });
      return true;
    } catch (e2) {
      if (e2 instanceof Deno.errors.AlreadyExists) return false;
      throw new Error(`cannot create the lock file ${path}: ${(e2 as Error).message}`);
    }
  } finally {
    try {
      Deno.removeSync(tmp);
    } catch { /* nothing to clean */ }
  }
}

/** Removes a stale lock, unless it changed since we read it (then another run took it over first). */
function takeOver(path: string, staleText: string): void {
  const aside = `${path}.stale-${crypto.randomUUID()}`;
  try {
    Deno.renameSync(path, aside);
  } catch {
    return; // gone already
  }
  const moved = readOrNull(aside);
  if (moved !== staleText) {
    // We moved a fresh lock: put it back (link fails only if yet another lock appeared meanwhile).
    try {
      Deno.linkSync(aside, path);
    } catch { /* the newer lock stands */ }
  }
  try {
    Deno.removeSync(aside);
  } catch { /* nothing to clean */ }
}

function refusal(target: string, path: string, o: LockOwner): string {
  const where = o.host === hostname() ? `pid ${o.pid}` : `pid ${o.pid} on host ${o.host}`;
  const hint = o.host === hostname()
    ? "wait for it to finish or stop it"
    : `if that run is gone, delete ${path}`;
  return `${target}: in use by another ${o.purpose} run (${where}, since ${o.since}; lock file ${path}); ${hint}, ` +
    `or use another ${purposeNoun(o.purpose)}`;
}

function purposeNoun(purpose: string): string {
  return purpose === "training" ? "checkpoint directory" : "output path";
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text);
    return typeof o?.pid === "number" && typeof o?.host === "string" ? o as LockOwner : null;
  } catch {
    return null;
  }
}

/** Whether the lock's owner may still be running. Another host's process counts as alive: we cannot tell. */
function isAlive(o: LockOwner): boolean {
  if (o.host !== hostname()) return true;
  try {
    process.kill(o.pid, 0); // signal 0: existence check only
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    if ((e as { code?: string }).code !== "EPERM") return false;
  }
  const now = procStartTime(o.pid);
  return !(o.procStart && now && now !== o.procStart);
}

/** Field 22 of /proc/<pid>/stat (start time in ticks since boot); undefined where there is no /proc. */
function procStartTime(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) is in parentheses and may contain spaces: count from the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown host"; // no --allow-sys: still a consistent name for our own locks
  }
}

function readOrNull(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function olderThan(path: string, ms: number): boolean {
  try {
    const m = Deno.statSync(path).mtime;
    return m !== null && Date.now() - m.getTime() > ms;
  } catch {
    return true;
  }
}
