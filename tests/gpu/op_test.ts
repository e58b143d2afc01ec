/**
 * defineOp: the tape check, the gradient arity (null for inputs not wanted, none for absent optional
 * ones), the refusal of tracked inputs by an op without a backward, and the release of what the
 * forward saved or made when nothing is recorded.
 */
import { initRuntime, rt } from "../../src/gpu/runtime.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import { startTape, stopTape, valueAndGrad } from "../../src/gpu/autograd.ts";
import { defineOp } from "../../src/gpu/op.ts";
import { add, mul, scale, sumAll } from "../../src/ops/elementwise.ts";
import { assertEquals, assertThrows } from "../helpers/assert.ts";

/** a * x + b (b optional), with a saved copy of 2x made in the forward. */
const AXPB = defineOp({
  name: "axpb",
  forward: ({ a, x, b }: { a: Tensor; x: Tensor; b?: Tensor | null }) => {
    const twice = scale(x, 2);
    const ax = mul(a, x);
    scale(ax, 3); // a temporary nobody keeps
    return { out: b ? add(ax, b) : ax, saved: { twice } };
  },
  backward: (g, { inputs: { a }, saved: { twice }, need }) => ({
    a: need.a ? scale(mul(g, twice), 0.5) : null,
    x: mul(g, a),
    b: g,
  }),
});

const NO_GRAD = defineOp({ name: "noGrad", forward: ({ x }: { x: Tensor }) => scale(x, 2) });

Deno.test("defineOp records one gradient per present input, null where the tape wants none", async () => {
  const r = await initRuntime();
  // kept: disposing the tape releases the tensors it held that are not persistent
  const a = r.upload(new Float32Array([1, 2, 3]), [3]).keep();
  const x = r.upload(new Float32Array([4, 5, 6]), [3]).keep();
  const b = r.upload(new Float32Array([7, 8, 9]), [3]).keep();
  x.requiresGrad = true;
  b.requiresGrad = true;
  const { value, grads } = valueAndGrad(() => sumAll(AXPB({ a, x, b }, undefined)));
  assertEquals([...await value.read()], [1 * 4 + 2 * 5 + 3 * 6 + 7 + 8 + 9]);
  assertEquals([...await grads.get(x)!.read()], [1, 2, 3]);
  assertEquals([...await grads.get(b)!.read()], [1, 1, 1]);
  assertEquals(grads.has(a), false);
  a.requiresGrad = true;
  const noBias = valueAndGrad(() => sumAll(AXPB({ a, x }, undefined)));
  assertEquals([...await noBias.grads.get(a)!.read()], [4, 5, 6]);
  for (const t of [a, x, b, value, noBias.value, ...grads.values(), ...noBias.grads.values()]) {
    t.persistent = false;
    t.release();
  }
});

Deno.test("defineOp releases what the forward saved and made when nothing is recorded", async () => {
  const r = await initRuntime();
  const a = r.upload(new Float32Array([1, 2]), [2]);
  const x = r.upload(new Float32Array([3, 4]), [2]);
  const before = r.pool.stats().live;
  const y = AXPB({ a, x }, undefined);
  assertEquals(r.pool.stats().live, before + 1);
  assertEquals([...await y.read()], [3, 8]);
  for (const t of [a, x, y]) t.release();
});

Deno.test("an op declared without a backward refuses a tracked input, naming op and input", async () => {
  const r = await initRuntime();
  const x = r.upload(new Float32Array([1, 2]), [2]);
  NO_GRAD({ x }, undefined).release(); // no tape: fine
  x.requiresGrad = true;
  startTape();
  try {
    assertThrows(() => NO_GRAD({ x }, undefined), Error, "noGrad has no gradient: its input x needs one");
  } finally {
    rt().tape?.dispose();
    stopTape();
    x.release();
  }
});
