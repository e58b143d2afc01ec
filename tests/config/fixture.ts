/** Writes a throw-away config tree for the config tests and removes it afterwards. */

/** Creates `files` (relative path -> text) under a fresh temporary directory, runs `fn` on it, cleans up. */
export async function withConfTree(
  files: Record<string, string>,
  fn: (dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "corrdiff_conf_" });
  try {
    for (const [rel, text] of Object.entries(files)) {
      const path = `${dir}/${rel}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(path, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
