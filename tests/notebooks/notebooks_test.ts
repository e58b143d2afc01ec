/**
 * Every notebook runs top to bottom in Jupyter with the Deno kernel, cell by cell, exactly as a user's
 * front end runs it: through run_notebook.py, a small jupyter_client runner that starts the kernel in
 * the notebook's folder. No cell may raise, every cell that displays a chart must carry it as Vega-Lite
 * plus an SVG or PNG fallback, and the kernel must start without error lines. The notebooks are
 * committed without outputs and import only `../mod.ts`. Each test prints its notebook's run time;
 * CORRDIFF_NOTEBOOK_OUTPUTS=DIR keeps the executed notebooks there.
 *
 * The kernelspec is installed for the deno running these tests (`deno jupyter --install` under a
 * temporary HOME, found through JUPYTER_PATH), so neither a prior install nor the user's Jupyter
 * directories are needed or touched. Where python3 with jupyter_client is absent, or the kernelspec
 * cannot be installed, the tests are ignored with the reason in their name.
 */
import { assert } from "../helpers/assert.ts";

const NOTEBOOKS = new URL("../../notebooks/", import.meta.url);
const RUNNER = new URL("./run_notebook.py", import.meta.url).pathname;
const INSTALL = "apt-get install -y jupyter-client python3-ipykernel; .ci/run does";

interface Output {
  output_type: string;
  name?: string;
  text?: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}
interface CellReport {
  index: number;
  status: string;
  seconds: number;
  outputs: Output[];
}
interface Report {
  ok: boolean;
  cells: CellReport[];
}

/** A python3 that can import jupyter_client, or null. */
async function findJupyterPython(): Promise<string | null> {
  for (const exe of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(exe, {
        args: ["-c", "import jupyter_client"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (out.success) return exe;
    } catch { /* not installed under this name: try the next */ }
  }
  return null;
}

/** Installs the Deno kernelspec into a fresh directory; returns it and the JUPYTER_PATH entry, or why not. */
async function installKernelspec(): Promise<{ root: string; jupyterPath: string } | string> {
  const root = await Deno.makeTempDir({ prefix: "corrdiff-jupyter-" });
  // `deno jupyter --install` writes under $HOME (it ignores JUPYTER_DATA_DIR), so give it a HOME of its own.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["jupyter", "--install", "--force"],
    env: { HOME: root },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const found = [...walk(root)].find((p) => p.endsWith("/kernels/deno/kernel.json"));
  if (!out.success || !found) {
    await Deno.remove(root, { recursive: true });
    return `deno jupyter --install failed: ${new TextDecoder().decode(out.stderr).trim().split("\n").pop()}`;
  }
  return { root, jupyterPath: found.slice(0, -"/kernels/deno/kernel.json".length) };
}

function* walk(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(p);
    else yield p;
  }
}

const notebooks = [...Deno.readDirSync(NOTEBOOKS)].map((e) => e.name).filter((n) => n.endsWith(".ipynb"))
  .sort();
const python = await findJupyterPython();
const setup = python ? await installKernelspec() : `python3 with jupyter_client not found (${INSTALL})`;
const outputs = Deno.env.get("CORRDIFF_NOTEBOOK_OUTPUTS");
// The kernelspec's temporary HOME goes when the tests end (some may be filtered out).
globalThis.addEventListener("unload", () => {
  if (typeof setup !== "string") Deno.removeSync(setup.root, { recursive: true });
});

// Tracebacks carry terminal colours.
const ANSI = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g");
const stripAnsi = (s: string) => s.replace(ANSI, "");

/** The failing cell's error, readable. */
function describe(nb: string, cell: CellReport | undefined): string {
  if (!cell) return `${nb}: no cell ran`;
  const err = cell.outputs.find((o) => o.output_type === "error");
  const text = err
    ? `${err.ename}: ${err.evalue}\n${stripAnsi((err.traceback ?? []).join("\n"))}`
    : "status " + cell.status;
  return `${nb}: cell ${cell.index} failed: ${text}`;
}

for (const nb of notebooks) {
  const reason = typeof setup === "string" ? setup : null;
  Deno.test({
    name: `notebook ${nb} runs top to bottom in Jupyter with the Deno kernel${reason ? ` [${reason}]` : ""}`,
    ignore: reason !== null,
    fn: async () => {
      const { root, jupyterPath } = setup as { root: string; jupyterPath: string };
      const kernelStderr = `${root}/kernel-stderr-${nb}.txt`;
      const t0 = performance.now();
      const run = () =>
        new Deno.Command(python!, {
          args: [
            RUNNER,
            new URL(nb, NOTEBOOKS).pathname,
            "--kernel",
            "deno",
            "--kernel-stderr",
            kernelStderr,
            // Per cell; a notebook's cells that train models take a few minutes on a CPU.
            "--timeout",
            "900",
            // CORRDIFF_NOTEBOOK_OUTPUTS=DIR keeps the executed notebooks, outputs included, for a look.
            ...(outputs ? ["--output", `${outputs}/${nb}`] : []),
          ],
          // Connection files and IPython's directory (which jupyter_client's kernelspec lookup creates) go
          // into the temporary directory too, not under HOME.
          env: {
            JUPYTER_PATH: jupyterPath,
            JUPYTER_RUNTIME_DIR: `${root}/runtime`,
            IPYTHONDIR: `${root}/ipython`,
          },
          stdout: "piped",
          stderr: "piped",
        }).output();
      let out = await run();
      // The Deno kernel now and then sends an IOPub message whose HMAC does not verify, and jupyter_client
      // raises instead of dropping it: a transport fault of the kernel, not of the notebook. One rerun.
      if (!out.success && new TextDecoder().decode(out.stderr).includes("Invalid Signature")) {
        console.log(`${nb}: the kernel sent a message with an invalid signature; running the notebook again`);
        out = await run();
      }
      const stdout = new TextDecoder().decode(out.stdout).trim();
      let report: Report;
      try {
        report = JSON.parse(stdout.split("\n").pop()!);
      } catch {
        throw new Error(`run_notebook.py gave no report:\n${new TextDecoder().decode(out.stderr)}`);
      }
      if (!report.ok) throw new Error(describe(nb, report.cells.find((c) => c.status !== "ok")));
      const cellSeconds = report.cells.reduce((a, c) => a + c.seconds, 0);
      console.log(
        `${nb}: ${report.cells.length} cells in ${cellSeconds.toFixed(0)} s ` +
          `(${((performance.now() - t0) / 1000).toFixed(0)} s with the kernel's start)`,
      );

      const cells = JSON.parse(Deno.readTextFileSync(new URL(nb, NOTEBOOKS))).cells as {
        cell_type: string;
        source: string | string[];
        outputs?: unknown[];
      }[];
      const code = cells.map((c, i) => ({ ...c, i })).filter((c) => c.cell_type === "code");
      assert(
        report.cells.length === code.length,
        `${report.cells.length} of ${code.length} code cells ran`,
      );
      // Committed without outputs, and importing the library only through the front door.
      for (const c of code) {
        assert((c.outputs ?? []).length === 0, `${nb}: cell ${c.i} is committed with outputs`);
        const src = typeof c.source === "string" ? c.source : c.source.join("");
        for (const m of src.matchAll(/\bfrom\s+["']([^"']+)["']/g)) {
          assert(m[1] === "../mod.ts", `${nb}: cell ${c.i} imports ${m[1]}, not ../mod.ts`);
        }
      }
      for (const c of code) {
        const src = typeof c.source === "string" ? c.source : c.source.join("");
        const bundles = report.cells.find((r) => r.index === c.i)!.outputs
          .filter((o) => o.output_type === "display_data" || o.output_type === "execute_result")
          .map((o) => o.data ?? {});
        const hasImage = (b: Record<string, unknown>) =>
          (typeof b["image/svg+xml"] === "string" && (b["image/svg+xml"] as string).includes("<svg")) ||
          typeof b["image/png"] === "string";
        if (src.includes("Deno.jupyter.display(")) {
          assert(bundles.some(hasImage), `${nb}: cell ${c.i} displayed no SVG or PNG image`);
          if (src.includes("vegalite")) {
            assert(
              bundles.some((b) => "application/vnd.vegalite.v5+json" in b),
              `${nb}: cell ${c.i} displayed no Vega-Lite chart`,
            );
          }
        }
        for (const b of bundles) {
          if ("application/vnd.vegalite.v5+json" in b) {
            assert(hasImage(b), `${nb}: cell ${c.i}: a Vega-Lite chart without an image fallback`);
          }
        }
      }
      // WebGPU start-up inside the kernel prints nothing alarming (e.g. the XDG_RUNTIME_DIR warning).
      const errors = Deno.readTextFileSync(kernelStderr).split("\n").filter((l) =>
        /^error/i.test(stripAnsi(l))
      );
      assert(errors.length === 0, `${nb}: the kernel printed\n${errors.join("\n")}`);
    },
  });
}
