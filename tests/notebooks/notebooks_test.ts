/**
 * Every notebook's code cells run, in order, as one module beside the notebook (so its relative
 * imports resolve as in the kernel), with `Deno.jupyter.display` captured. Jupyter itself is not
 * needed; the kernel runs the same code.
 */
import { assert } from "../helpers/assert.ts";

const dir = new URL("../../notebooks/", import.meta.url);

for (const entry of Deno.readDirSync(dir)) {
  if (!entry.name.endsWith(".ipynb")) continue;
  Deno.test(`notebook ${entry.name} runs top to bottom`, async () => {
    const nb = JSON.parse(Deno.readTextFileSync(new URL(entry.name, dir)));
    const code = nb.cells
      .filter((c: { cell_type: string }) => c.cell_type === "code")
      .map((c: { source: string[] }) => c.source.join(""))
      .join("\n;\n");
    const displayed: unknown[] = [];
    (globalThis as unknown as { __displayed: unknown[] }).__displayed = displayed;
    // Deno.jupyter only exists inside the kernel: route its display calls to a collector.
    const prelude = "const __display = (d: unknown, _o?: unknown) => " +
      "(globalThis as unknown as { __displayed: unknown[] }).__displayed.push(d);\n";
    const path = new URL(`.${entry.name}.test-${Deno.pid}.ts`, dir);
    Deno.writeTextFileSync(path, prelude + code.replaceAll("Deno.jupyter.display(", "__display(") + "\nexport {};\n");
    try {
      await import(path.href);
    } finally {
      Deno.removeSync(path);
    }
    assert(displayed.length > 0 || !code.includes("Deno.jupyter.display"), "charts were displayed");
    for (const d of displayed) {
      const bundle = d as Record<string, string>;
      assert(typeof bundle["image/svg+xml"] === "string" && bundle["image/svg+xml"].includes("<svg"), "each chart has an SVG fallback");
    }
  });
}
