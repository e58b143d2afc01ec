/**
 * Declared kernels: the one way an op launches WGSL.
 *
 * A kernel is declared once, in TypeScript, by its file, entry point, the fields of its `Params`
 * struct with their WGSL types, in order, and the names of the storage bindings it may take. The
 * WGSL source (with `#include "lib/<name>.wgsl"` lines expanded) is parsed when the kernel is first
 * used, and the declaration is checked against it: a field that is missing, extra, out of order or of
 * another type, or a binding name the file does not declare, throws, naming it. Callers then pass
 * parameters and bindings by name; floats are packed as floats and integers as integers from the
 * struct's own types, and the workgroup size comes from the entry's `@workgroup_size`.
 *
 * ```ts
 * const AXPBY = declareKernel({
 *   file: "elementwise", entry: "axpby",
 *   params: { n: "u32", alpha: "f32", beta: "f32" },
 *   bindings: ["x", "y", "out"],
 * });
 * AXPBY.run({ n, alpha, beta }, { x, y, out }, AXPBY.grid(n));
 * ```
 */
import type { Binding, Runtime } from "./runtime.ts";
import { rt } from "./runtime.ts";
import { parsedWgsl, type WgslModule } from "./wgsl.ts";

/** WGSL scalar types a `Params` field may have. */
export type FieldType = "u32" | "i32" | "f32";

/** What an op states about a kernel entry point. */
export interface KernelSpec {
  /** File under `kernels/`, without `.wgsl`. */
  file: string;
  entry: string;
  /** Every field of the uniform struct (binding 0), in declaration order. Omit for kernels without one. */
  params?: Record<string, FieldType>;
  /** The uniform variable at binding 0 this entry reads, where a file has several (default: `p`). */
  uniform?: string;
  /** Names of the storage (and extra uniform) variables the entry may bind. */
  bindings: readonly string[];
  /** Override constants (`override NAME: type = ...;`). */
  constants?: Record<string, number | boolean>;
}

/** Checks a declaration against its parsed file; returns the uniform struct's fields. Throws naming the mismatch. */
export function checkContract(spec: KernelSpec, mod: WgslModule): { name: string; type: FieldType }[] {
  const where = `kernel ${spec.file}.wgsl:${spec.entry}`;
  if (!mod.entries.has(spec.entry)) throw new Error(`${where}: no @compute entry point '${spec.entry}'`);
  let fields: { name: string; type: FieldType }[] = [];
  if (spec.params) {
    const name = spec.uniform ?? "p";
    const u = mod.bindings.get(name);
    if (!u || u.binding !== 0 || u.space !== "uniform") {
      throw new Error(`${where}: no uniform '${name}' at binding 0`);
    }
    const uniform = [name, u] as const;
    const declared = mod.structs.get(uniform[1].type);
    if (!declared) throw new Error(`${where}: struct ${uniform[1].type} not found`);
    const want = Object.entries(spec.params);
    want.forEach(([name, type], i) => {
      const got = declared[i];
      if (!got) {
        throw new Error(
          `${where}: field '${name}' is not in struct ${uniform[1].type} (it has ${declared.length} fields)`,
        );
      }
      if (got.name !== name) {
        throw new Error(
          `${where}: field ${i} of struct ${uniform[1].type} is '${got.name}', the op declares '${name}'`,
        );
      }
      if (got.type !== type) {
        throw new Error(`${where}: field '${name}' is ${got.type} in WGSL, the op declares ${type}`);
      }
    });
    if (declared.length !== want.length) {
      throw new Error(
        `${where}: struct ${uniform[1].type} has field '${
          declared[want.length].name
        }' the op does not declare`,
      );
    }
    fields = want.map(([name, type]) => ({ name, type }));
  }
  for (const b of spec.bindings) {
    const got = mod.bindings.get(b);
    if (!got) throw new Error(`${where}: the file declares no binding '${b}'`);
    if (got.binding === 0) throw new Error(`${where}: '${b}' is binding 0, reserved for the parameters`);
  }
  for (const c of Object.keys(spec.constants ?? {})) {
    if (!mod.overrides.has(c)) throw new Error(`${where}: no override constant '${c}'`);
  }
  return fields;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
const I32 = new Int32Array(F32.buffer);

/** A kernel entry point whose contract with its WGSL has been declared (checked on first use). */
export class DeclaredKernel {
  #fields: { name: string; type: FieldType }[] | null = null;
  #slots: Map<string, number> | null = null;
  /** Binding numbers of the read_write storage variables (their buffers count as written). */
  #written = new Set<number>();
  /** Binding numbers of the storage textures: unbound ones get the image pool's placeholder. */
  #images = new Set<number>();
  #wg: [number, number, number] | null = null;
  readonly #variants = new Map<string, DeclaredKernel>();

  constructor(readonly spec: KernelSpec) {}

  /** Parses the file and checks the declaration (no device needed). */
  check(): void {
    if (this.#slots) return;
    const mod = parsedWgsl(this.spec.file);
    this.#fields = checkContract(this.spec, mod);
    this.#slots = new Map(this.spec.bindings.map((b) => [b, mod.bindings.get(b)!.binding]));
    for (const b of this.spec.bindings) {
      const d = mod.bindings.get(b)!;
      if (d.writable) this.#written.add(d.binding);
      if (d.space === "handle") this.#images.add(d.binding);
    }
    this.#wg = mod.entries.get(this.spec.entry) ?? null;
  }

  /** The entry's workgroup size (x, y, z). */
  get workgroupSize(): [number, number, number] {
    this.check();
    if (!this.#wg) {
      throw new Error(`kernel ${this.spec.file}.wgsl:${this.spec.entry}: workgroup size is not a literal`);
    }
    return this.#wg;
  }

  /** Workgroups covering `n` invocations along x (folded into y past the per-dimension limit). */
  grid(n: number): [number, number] {
    return rt().grid(n, this.workgroupSize[0]);
  }

  /** The same entry point with other override constants. */
  with(constants: Record<string, number | boolean>): DeclaredKernel {
    const key = JSON.stringify(Object.entries(constants).sort());
    let k = this.#variants.get(key);
    if (!k) {
      this.#variants.set(
        key,
        k = new DeclaredKernel({ ...this.spec, constants: { ...this.spec.constants, ...constants } }),
      );
    }
    return k;
  }

  /**
   * Records one dispatch. `params` by field name (missing fields are 0; unknown names throw);
   * `bindings` by variable name (null or missing: not bound).
   */
  run(
    params: Record<string, number>,
    bindings: Record<string, Binding | undefined>,
    groups: [number, number?, number?],
  ): void {
    this.check();
    const r: Runtime = rt();
    const where = `kernel ${this.spec.file}.wgsl:${this.spec.entry}`;
    const words = this.#fields!.map(({ name, type }) => {
      const v = params[name] ?? 0;
      if (type === "f32") {
        F32[0] = v;
        return U32[0];
      }
      if (type === "i32") {
        I32[0] = v;
        return U32[0];
      }
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new Error(`${where}: u32 field '${name}' given ${v}`);
      }
      return v;
    });
    for (const k of Object.keys(params)) {
      if (!this.#fields!.some((f) => f.name === k)) throw new Error(`${where}: no parameter '${k}'`);
    }
    const buffers: Binding[] = [];
    for (const [name, b] of Object.entries(bindings)) {
      const slot = this.#slots!.get(name);
      if (slot === undefined) throw new Error(`${where}: no binding '${name}' declared`);
      buffers[slot - 1] = b ?? null;
    }
    // the layout has every texture the entry could read, whether this pipeline's overrides read it or not
    for (const slot of this.#images) buffers[slot - 1] ??= r.images.placeholder();
    for (let i = 0; i < buffers.length; i++) buffers[i] ??= null;
    const k = r.kernel(this.spec.file, this.spec.entry, numericConstants(this.spec.constants));
    r.dispatch(k, words, buffers, groups, (slot) => this.#written.has(slot));
  }
}

function numericConstants(c: Record<string, number | boolean> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(c ?? {})) out[k] = typeof v === "boolean" ? (v ? 1 : 0) : v;
  return out;
}

const registry: DeclaredKernel[] = [];

/** Declares a kernel (see the module doc); every declaration is listed by {@link declaredKernels}. */
export function declareKernel(spec: KernelSpec): DeclaredKernel {
  const k = new DeclaredKernel(spec);
  registry.push(k);
  return k;
}

/** Every kernel declared so far (the contract test checks and compiles each). */
export function declaredKernels(): readonly DeclaredKernel[] {
  return registry;
}
