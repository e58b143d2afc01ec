/**
 * Runs Python scripts with netCDF4-python and xarray, the reference's own readers and writers, to
 * check interoperability. They are required (CI installs them): a missing one fails the test.
 */

const INSTALL_HINT =
  "install Debian's python3-netcdf4 and python3-xarray (apt-get install -y python3-netcdf4 " +
  "python3-xarray); CI installs them";

let python: Promise<string> | null = null;

function findPython(): Promise<string> {
  python ??= (async () => {
    for (const exe of ["/usr/bin/python3", "python3"]) {
      try {
        const out = await new Deno.Command(exe, { args: ["-c", "import netCDF4, xarray"], stderr: "piped" })
          .output();
        if (out.success) return exe;
      } catch { /* not installed under this name: try the next */ }
    }
    throw new Error(
      `python3 with netCDF4 and xarray is needed for the interoperability tests: ${INSTALL_HINT}`,
    );
  })();
  return python;
}

/** Runs `script` with `args`; returns its stdout, or throws with its stderr. */
export async function runPython(script: string, args: string[] = []): Promise<string> {
  const exe = await findPython();
  const out = await new Deno.Command(exe, { args: ["-c", script, ...args], stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`python script failed:\n${text.decode(out.stderr)}`);
  return text.decode(out.stdout);
}

/** Runs `script` and parses the JSON object it prints last. */
export async function runPythonJson<T = Record<string, unknown>>(
  script: string,
  args: string[] = [],
): Promise<T> {
  const stdout = (await runPython(script, args)).trim().split("\n");
  return JSON.parse(stdout[stdout.length - 1]);
}
