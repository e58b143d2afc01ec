/**
 * The run lock (src/util/lock.ts): one run per checkpoint directory or output file, refused with a
 * clear line while the owner lives, taken over once it is gone (crashed, killed), never left behind.
 */
import { acquireLock, lockPathFor } from "../../src/util/lock.ts";
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { pathExists } from "../../src/util/fs.ts";

function withDir(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "corrdiff_lock_" });
    try {
      await fn(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test(
  "a lock is exclusive while held, released by release() or `using`, and leaves no file",
  withDir((dir) => {
    const target = `${dir}/checkpoints_regression`;
    const lock = acquireLock(target, { purpose: "training", createParent: true });
    assertEquals(lock.path, `${target}.lock`);
    const owner = JSON.parse(Deno.readTextFileSync(lock.path));
    assertEquals([owner.pid, owner.purpose], [Deno.pid, "training"]);
    const e = assertThrows(() => acquireLock(target, { purpose: "training" }));
    assert(!e.message.includes("\n"), e.message);
    for (
      const part of [
        target,
        `pid ${Deno.pid}`,
        "in use by another training run",
        lock.path,
        "checkpoint directory",
      ]
    ) {
      assert(e.message.includes(part), `"${e.message}" lacks "${part}"`);
    }
    lock.release();
    lock.release(); // harmless
    assert(!pathExists(lock.path), "lock file left behind");
    {
      using _again = acquireLock(target);
      assert(pathExists(lockPathFor(target)));
    }
    assert(!pathExists(lockPathFor(target)), "`using` did not release");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [], "temporary files left");
  }),
);

Deno.test(
  "a lock whose process is gone is taken over; another host's is refused with the file to delete",
  withDir((dir) => {
    const target = `${dir}/out.nc`;
    const path = lockPathFor(target);
    // A pid that cannot be running: beyond Linux's pid_max.
    const dead = {
      pid: 2 ** 30,
      host: Deno.hostname(),
      since: "2024-01-01T00:00:00Z",
      purpose: "generation",
      token: "x",
    };
    Deno.writeTextFileSync(path, JSON.stringify(dead));
    const lock = acquireLock(target, { purpose: "generation" });
    assertEquals(JSON.parse(Deno.readTextFileSync(path)).pid, Deno.pid);
    lock.release();

    const remote = { ...dead, host: "elsewhere.example" };
    Deno.writeTextFileSync(path, JSON.stringify(remote));
    const e = assertThrows(() => acquireLock(target, { purpose: "generation" }));
    for (const part of [target, "on host elsewhere.example", `delete ${path}`, "output path"]) {
      assert(e.message.includes(part), `"${e.message}" lacks "${part}"`);
    }
    assert(pathExists(path), "a remote lock must not be removed");
  }),
);

Deno.test(
  "release() never removes a lock another run took over",
  withDir((dir) => {
    const target = `${dir}/scores.nc`;
    const lock = acquireLock(target);
    const theirs = { pid: 1, host: "other", since: "now", purpose: "scoring", token: "theirs" };
    Deno.writeTextFileSync(lock.path, JSON.stringify(theirs));
    lock.release();
    assertEquals(JSON.parse(Deno.readTextFileSync(lock.path)).token, "theirs");
  }),
);

Deno.test(
  "a missing parent directory is an error unless createParent",
  withDir((dir) => {
    const e = assertThrows(() => acquireLock(`${dir}/no/such/out.nc`));
    assert(e.message.includes(`${dir}/no/such/out.nc`) && e.message.includes("does not exist"), e.message);
    using lock = acquireLock(`${dir}/new/checkpoints_x`, { createParent: true });
    assert(pathExists(lock.path));
  }),
);

Deno.test(
  "two processes: the second refuses while the first runs, and takes over once it is killed",
  withDir(async (dir) => {
    const target = `${dir}/checkpoints_regression`;
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { acquireLock } from ${
          JSON.stringify(new URL("../../src/util/lock.ts", import.meta.url).href)
        };
       acquireLock(${JSON.stringify(target)}, { purpose: "training", createParent: true });
       console.log("locked");
       await new Promise(() => setInterval(() => {}, 1000));`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.getReader();
    const { value } = await reader.read();
    assertEquals(new TextDecoder().decode(value).trim(), "locked");
    const e = assertThrows(() => acquireLock(target, { purpose: "training" }));
    assert(e.message.includes(`pid ${holder.pid}`), e.message);
    holder.kill("SIGKILL"); // a crash: the lock file stays
    await holder.status;
    reader.releaseLock();
    await holder.stdout.cancel();
    assert(pathExists(lockPathFor(target)));
    using lock = acquireLock(target, { purpose: "training" });
    assertEquals(JSON.parse(Deno.readTextFileSync(lock.path)).pid, Deno.pid);
  }),
);
