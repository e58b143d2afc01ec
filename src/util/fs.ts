/** Small file-system helpers shared by the command-line tools and the tests. */

/** Whether anything (file, directory, link target) exists at `path`. */
export function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
