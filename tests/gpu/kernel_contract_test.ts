/**
 * Kernel contracts: every declared entry point matches its WGSL (fields, types, order, bindings)
 * and compiles on this adapter; a swapped field, a wrong type, an unknown binding or parameter is
 * caught and named.
 */
import "../../mod.ts"; // every op module, so that every kernel is declared
import "../../src/ops/conv2d_ref.ts"; // the reference convolution (not exported by mod.ts)
import { initRuntime } from "../../src/gpu/runtime.ts";
import { checkContract, DeclaredKernel, declaredKernels } from "../../src/gpu/kernel.ts";
import { parseWgsl } from "../../src/gpu/wgsl.ts";
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";

Deno.test("every declared kernel matches its WGSL and compiles", async () => {
  const r = await initRuntime();
  const all = declaredKernels();
  const files = new Set(all.map((k) => k.spec.file));
  assert(all.length >= 40, `${all.length} declared kernels`);
  for (
    const f of [
      "elementwise",
      "softmax",
      "dropout",
      "patching",
      "tensor_ops",
      "matmul",
      "groupnorm",
      "attention",
      "conv2d",
      "conv2d_k1",
      "conv2d_k3",
      "conv2d_gpu",
      "conv2d_ref",
      "optim",
    ]
  ) {
    assert(files.has(f), `no kernel of ${f}.wgsl is declared`);
  }
  for (const k of all) {
    k.check();
    r.kernel(
      k.spec.file,
      k.spec.entry,
      Object.fromEntries(Object.entries(k.spec.constants ?? {}).map(([a, b]) => [a, Number(b)])),
    );
  }
  await r.sync();
});

const WGSL = `
struct Params {
  n: u32,      // count
  alpha: f32,
  rows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < p.n) { out[gid.x] = p.alpha * x[gid.x]; }
}
`;
const mod = parseWgsl(WGSL);
const spec = { file: "fixture", entry: "scale", bindings: ["x", "out"] };

Deno.test("the fixture's contract parses: fields with types, bindings, workgroup size", () => {
  const fields = checkContract({ ...spec, params: { n: "u32", alpha: "f32", rows: "u32" } }, mod);
  assertEquals(fields.map((f) => `${f.name}:${f.type}`), ["n:u32", "alpha:f32", "rows:u32"]);
  assertEquals(mod.bindings.get("out")!.binding, 2);
  assertEquals(mod.entries.get("scale"), [64, 1, 1]);
});

Deno.test("a swapped, mistyped, missing or extra field and an unknown binding are named", () => {
  assertThrows(
    () => checkContract({ ...spec, params: { alpha: "f32", n: "u32", rows: "u32" } }, mod),
    Error,
    "field 0 of struct Params is 'n', the op declares 'alpha'",
  );
  assertThrows(
    () => checkContract({ ...spec, params: { n: "u32", alpha: "u32", rows: "u32" } }, mod),
    Error,
    "field 'alpha' is f32 in WGSL, the op declares u32",
  );
  assertThrows(
    () => checkContract({ ...spec, params: { n: "u32", alpha: "f32" } }, mod),
    Error,
    "has field 'rows' the op does not declare",
  );
  assertThrows(
    () => checkContract({ ...spec, params: { n: "u32", alpha: "f32", rows: "u32", cols: "u32" } }, mod),
    Error,
    "field 'cols' is not in struct Params",
  );
  assertThrows(() => checkContract({ ...spec, bindings: ["x", "y"] }, mod), Error, "declares no binding 'y'");
  assertThrows(
    () => checkContract({ ...spec, entry: "scale2" }, mod),
    Error,
    "no @compute entry point 'scale2'",
  );
});

Deno.test("run() refuses a parameter or binding the kernel does not declare", async () => {
  const r = await initRuntime();
  const k = new DeclaredKernel({
    file: "elementwise",
    entry: "scale",
    params: { n: "u32", alpha: "f32", beta: "f32", count: "u32", rows: "u32", inner: "u32" },
    bindings: ["x", "out"],
  });
  const x = r.upload(new Float32Array(4), [4]);
  assertThrows(() => k.run({ n: 4, gamma: 1 }, { x, out: x }, [1]), Error, "no parameter 'gamma'");
  assertThrows(() => k.run({ n: 4 }, { x, y: x }, [1]), Error, "no binding 'y' declared");
  assertThrows(() => k.run({ n: -1 }, { x, out: x }, [1]), Error, "u32 field 'n' given -1");
});
