import { assert, assertClose, assertEquals, assertThrows } from "../helpers/assert.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { linear } from "../../src/ops/linear.ts";
import { GOLDEN_DIR } from "../helpers/shared.ts";

/** x W^T + b in float64 on the host. */
function reference(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  rows: number,
  inF: number,
  outF: number,
) {
  const y = new Float64Array(rows * outF);
  for (let n = 0; n < rows; n++) {
    for (let o = 0; o < outF; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[n * inF + i] * w[o * inF + i];
      y[n * outF + o] = acc;
    }
  }
  return y;
}

Deno.test("linear matches the reference's golden output", async () => {
  const r = await initRuntime();
  const file = readSafetensors(`${GOLDEN_DIR}/layers.safetensors`);
  const tol = JSON.parse(Deno.readTextFileSync(`${GOLDEN_DIR}/manifest.json`)).files.layers.cases.linear
    .tolerance["linear.out"];
  const up = (k: string) => {
    const t = file.tensors.get(k);
    if (!t) throw new Error(`layers.safetensors has no ${k}`);
    return r.upload(t.data as Float32Array, t.shape);
  };
  const y = linear(up("linear.x"), up("linear.weight"), up("linear.bias"));
  assertEquals(y.shape, file.tensors.get("linear.out")!.shape);
  assertClose(
    await y.read(),
    file.tensors.get("linear.out")!.data as Float32Array,
    tol.atol,
    tol.rtol,
    "linear.out",
  );
});

Deno.test("linear matches a float64 product at CorrDiff's sizes, with and without bias", async () => {
  const r = await initRuntime();
  for (
    const [rows, inF, outF, withBias] of [[8, 512, 512, true], [1, 16, 64, true], [5, 7, 9, false], [
      3,
      256,
      1,
      true,
    ]] as const
  ) {
    const xh = randn(rows * inF, rows + inF), wh = randn(outF * inF, outF).map((v) => v / Math.sqrt(inF));
    const bh = withBias ? randn(outF, 3) : null;
    const y = linear(r.upload(xh, [rows, inF]), r.upload(wh, [outF, inF]), bh ? r.upload(bh, [outF]) : null);
    assertEquals(y.shape, [rows, outF]);
    assertClose(
      await y.read(),
      reference(xh, wh, bh, rows, inF, outF),
      1e-5,
      1e-4,
      `[${rows},${inF}]x[${outF},${inF}]`,
    );
  }
});

Deno.test("linear keeps leading axes and rejects mismatched shapes", async () => {
  const r = await initRuntime();
  const x = r.upload(randn(2 * 3 * 5, 1), [2, 3, 5]);
  const w = r.upload(randn(4 * 5, 2), [4, 5]);
  const y = linear(x, w, null);
  assertEquals(y.shape, [2, 3, 4]);
  assertClose(
    await y.read(),
    reference(randn(30, 1), randn(20, 2), null, 6, 5, 4),
    1e-5,
    1e-4,
    "leading axes",
  );
  assertThrows(() => linear(r.upload(randn(6, 1), [2, 3]), w, null), Error, "input features");
  assertThrows(() => linear(x, w, r.upload(randn(3, 1), [3])), Error, "bias");
  assertThrows(() => linear(x, r.upload(randn(20, 1), [20]), null), Error, "weight must be");
});

Deno.test("linear gradients match finite differences", async () => {
  const cases: { x: number[]; out: number; bias: boolean }[] = [
    { x: [3, 12], out: 20, bias: true },
    { x: [5, 7], out: 9, bias: true }, // output count not a multiple of the kernel's 4-column runs
    { x: [2, 2, 6], out: 3, bias: false },
  ];
  let seed = 40;
  for (const c of cases) {
    const inF = c.x[c.x.length - 1];
    const inputs = [
      { data: randn(c.x.reduce((a, b) => a * b), seed++), shape: c.x },
      { data: randn(c.out * inF, seed++), shape: [c.out, inF] },
    ];
    if (c.bias) inputs.push({ data: randn(c.out, seed++), shape: [c.out] });
    const worst = await gradCheck(([x, w, b]) => linear(x, w, b ?? null), inputs, { samples: 16 });
    assert(worst <= 1, `x [${c.x}] out ${c.out}: ratio ${worst}`);
  }
});
