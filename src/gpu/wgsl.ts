/**
 * Kernel sources: `kernels/<file>.wgsl` with `#include "lib/<name>.wgsl"` lines expanded, and the
 * parse of what a kernel's contract is checked against (structs, bindings, entry points).
 */

/** A parsed kernel file: structs, resource variables and entry points. */
export interface WgslModule {
  structs: Map<string, { name: string; type: string }[]>;
  /** Resource variables by name: binding number, address space, type, and whether it is read_write. */
  bindings: Map<string, { binding: number; space: string; type: string; writable: boolean }>;
  /** Entry points with their workgroup size (null where it is not a literal). */
  entries: Map<string, [number, number, number] | null>;
  overrides: Set<string>;
}

const KERNEL_DIR = new URL("../../kernels/", import.meta.url);
const sources = new Map<string, string>();

/** The WGSL of `kernels/<file>.wgsl` with its `#include "lib/x.wgsl"` lines replaced by those files (once each). */
export function wgslSource(file: string): string {
  let code = sources.get(file);
  if (code !== undefined) return code;
  const seen = new Set<string>();
  const expand = (name: string, from: string): string => {
    let text: string;
    try {
      text = Deno.readTextFileSync(new URL(`${name}.wgsl`, KERNEL_DIR));
    } catch {
      throw new Error(`kernel ${from}: cannot read kernels/${name}.wgsl`);
    }
    return text.replace(/^[ \t]*#include\s+"([\w/.-]+)\.wgsl"[ \t]*$/gm, (_m, inc: string) => {
      if (seen.has(inc)) return `// (${inc}.wgsl already included)`;
      seen.add(inc);
      return expand(inc, name);
    });
  };
  code = expand(file, file);
  sources.set(file, code);
  return code;
}

/** Parses the declarations a kernel's contract is checked against. */
export function parseWgsl(code: string): WgslModule {
  const text = code.replace(/\/\/[^\n]*/g, "");
  const structs = new Map<string, { name: string; type: string }[]>();
  for (const m of text.matchAll(/struct\s+(\w+)\s*\{([^}]*)\}/g)) {
    const fields = m[2].split(",").map((f) => f.trim()).filter(Boolean).map((f) => {
      const [name, type] = f.split(":").map((s) => s.trim());
      return { name: name.replace(/^@\w+(\([^)]*\))?\s*/, ""), type };
    });
    structs.set(m[1], fields);
  }
  const bindings = new Map<string, { binding: number; space: string; type: string; writable: boolean }>();
  for (
    const m of text.matchAll(
      /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*(?:<\s*(\w+)([^>]*)>)?\s*(\w+)\s*:\s*([^;]+);/g,
    )
  ) {
    const writable = /read_write/.test(m[3] ?? "");
    bindings.set(m[4], { binding: Number(m[1]), space: m[2] ?? "handle", type: m[5].trim(), writable });
  }
  const entries = new Map<string, [number, number, number] | null>();
  for (const m of text.matchAll(/@compute\s+@workgroup_size\(([^)]*)\)\s*fn\s+(\w+)/g)) {
    const dims = m[1].split(",").map((s) => s.trim()).filter(Boolean);
    const nums = dims.map((d) => (/^\d+u?$/.test(d) ? parseInt(d) : NaN));
    entries.set(m[2], nums.some(Number.isNaN) ? null : [nums[0], nums[1] ?? 1, nums[2] ?? 1]);
  }
  const overrides = new Set([...text.matchAll(/override\s+(\w+)\s*:/g)].map((m) => m[1]));
  return { structs, bindings, entries, overrides };
}

const parsed = new Map<string, WgslModule>();

/** The parse of `kernels/<file>.wgsl` (cached). */
export function parsedWgsl(file: string): WgslModule {
  let m = parsed.get(file);
  if (!m) parsed.set(file, m = parseWgsl(wgslSource(file)));
  return m;
}
