import { assert, assertClose, assertThrows } from "../helpers/assert.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { softmax, softmaxAxis, softmaxAxisBackward, softmaxCrossEntropy } from "../../src/ops/softmax.ts";

/** float64 softmax of x viewed as [outer, n, inner] along n. */
function softmaxRef(x: Float32Array, outer: number, n: number, inner: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let t = 0; t < inner; t++) {
      const at = (k: number) => (o * n + k) * inner + t;
      let mx = -Infinity;
      for (let k = 0; k < n; k++) mx = Math.max(mx, x[at(k)]);
      let sum = 0;
      for (let k = 0; k < n; k++) sum += Math.exp(x[at(k)] - mx);
      for (let k = 0; k < n; k++) y[at(k)] = Math.exp(x[at(k)] - mx) / sum;
    }
  }
  return y;
}

Deno.test("softmax over the last axis matches float64, also for large and negative logits", async () => {
  const r = await initRuntime();
  for (const [rows, n, shift, spread] of [[7, 33, 0, 1], [3, 1, 5, 1], [5, 300, 80, 10], [2, 16, -120, 30]]) {
    const x = randn(rows * n, rows + n).map((v) => shift + spread * v);
    const t = r.upload(x, [rows, n]);
    const y = softmax(t, rows);
    const got = await y.read();
    assertClose(got, softmaxRef(x, rows, n, 1), 1e-7, 1e-5, `softmax [${rows}, ${n}] shift ${shift}`);
    let rowSum = 0;
    for (let k = 0; k < n; k++) rowSum += got[k];
    assert(Math.abs(rowSum - 1) < 1e-5, `row sums to ${rowSum}`);
    t.release();
    y.release();
  }
});

Deno.test("softmax along a middle axis matches float64", async () => {
  const r = await initRuntime();
  const [outer, n, inner] = [3, 20, 12];
  const x = randn(outer * n * inner, 11).map((v) => 4 * v);
  const t = r.upload(x, [outer, n, inner]);
  const y = softmaxAxis(t, outer, n, inner);
  assertClose(await y.read(), softmaxRef(x, outer, n, inner), 1e-7, 1e-5, "softmaxAxis");
  t.release();
  y.release();
});

Deno.test("softmax over the valid head of a padded axis ignores and zeroes the padding", async () => {
  const r = await initRuntime();
  const [outer, n, inner, valid] = [2, 8, 4, 5];
  const x = randn(outer * n * inner, 12).map((v) => 3 * v);
  const head = new Float32Array(outer * valid * inner); // x[:, :valid, :]
  for (let o = 0; o < outer; o++) {
    head.set(x.subarray(o * n * inner, (o * n + valid) * inner), o * valid * inner);
  }
  const want = softmaxRef(head, outer, valid, inner);
  const gyHead = randn(head.length, 13);
  const gy = new Float32Array(x.length).fill(Number.NaN); // padding must not be read
  for (let o = 0; o < outer; o++) {
    gy.set(gyHead.subarray(o * valid * inner, (o + 1) * valid * inner), o * n * inner);
  }
  const t = r.upload(x, [outer, n, inner]);
  const y = softmaxAxis(t, outer, n, inner, valid);
  const g = r.upload(gy, [outer, n, inner]);
  const gx = softmaxAxisBackward(y, g, outer, n, inner, valid);
  const [yh, gxh] = [await y.read(), await gx.read()];
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < inner; i++) {
        const at = (o * n + k) * inner + i;
        if (k >= valid) {
          assert(yh[at] === 0 && gxh[at] === 0, `padding at [${o}, ${k}, ${i}] is ${yh[at]}, ${gxh[at]}`);
          continue;
        }
        const h = (o * valid + k) * inner + i;
        assert(Math.abs(yh[at] - want[h]) <= 1e-7 + 1e-5 * want[h], `y[${o}, ${k}, ${i}]`);
        let dot = 0;
        for (let kk = 0; kk < valid; kk++) {
          dot += gyHead[(o * valid + kk) * inner + i] * want[(o * valid + kk) * inner + i];
        }
        const gWant = want[h] * (gyHead[h] - dot);
        assert(Math.abs(gxh[at] - gWant) <= 1e-6 + 1e-4 * Math.abs(gWant), `gx[${o}, ${k}, ${i}]`);
      }
    }
  }
  for (const tt of [t, y, g, gx]) tt.release();
});

Deno.test("softmax backward matches the analytic float64 gradient", async () => {
  const r = await initRuntime();
  const [outer, n, inner] = [2, 17, 5];
  const x = randn(outer * n * inner, 21).map((v) => 2 * v);
  const gy = randn(x.length, 22);
  const y = softmaxRef(x, outer, n, inner);
  const want = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let t = 0; t < inner; t++) {
      const at = (k: number) => (o * n + k) * inner + t;
      let dot = 0;
      for (let k = 0; k < n; k++) dot += gy[at(k)] * y[at(k)];
      for (let k = 0; k < n; k++) want[at(k)] = y[at(k)] * (gy[at(k)] - dot);
    }
  }
  const yt = r.upload(Float32Array.from(y), [outer, n, inner]);
  const gt = r.upload(gy, [outer, n, inner]);
  const gx = softmaxAxisBackward(yt, gt, outer, n, inner);
  assertClose(await gx.read(), want, 1e-6, 1e-4, "softmaxAxisBackward");
  for (const t of [yt, gt, gx]) t.release();
});

Deno.test("softmax gradient matches finite differences", async () => {
  const worst = await gradCheck(([x]) => softmax(x, 4), [{ data: randn(4 * 9, 5), shape: [4, 9] }]);
  assert(worst <= 1);
});

Deno.test("softmax refuses a row count that does not divide the tensor", async () => {
  const r = await initRuntime();
  const t = r.upload(new Float32Array(10), [10]);
  assertThrows(() => softmax(t, 3), Error, "does not split into 3 rows");
  assertThrows(() => softmaxAxis(t, 2, 3, 2), Error, "cannot be viewed as");
  t.release();
});

Deno.test("softmax cross entropy matches float64 (probability targets, large logits) and finite differences", async () => {
  const r = await initRuntime();
  const [outer, n, inner] = [3, 4, 10];
  for (const [shift, spread] of [[0, 1], [60, 20]]) {
    const x = randn(outer * n * inner, 9).map((v) => shift + spread * v);
    // targets: class probabilities per line (a softmax of other logits), and for the last line a one-hot
    const target = Float32Array.from(softmaxRef(randn(outer * n * inner, 10), outer, n, inner));
    for (let k = 0; k < n; k++) target[((outer - 1) * n + k) * inner + inner - 1] = k === 1 ? 1 : 0;
    const got = await r.scope(() =>
      softmaxCrossEntropy(
        r.upload(x, [outer, n, inner]),
        r.upload(target, [outer, n, inner]),
        outer,
        n,
        inner,
      )
    ).read();
    const s = softmaxRef(x, outer, n, inner);
    const want = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let t = 0; t < inner; t++) {
        for (let k = 0; k < n; k++) {
          const j = (o * n + k) * inner + t;
          want[o * inner + t] -= target[j] * Math.log(Math.max(s[j], 1e-300));
        }
      }
    }
    assertClose(got, want, 1e-5, 1e-5, `cross entropy, logits ${shift} + ${spread} N(0,1)`);
  }
  const logits = { data: randn(2 * 3 * 5, 11), shape: [2, 3, 5] };
  const target = {
    data: Float32Array.from(softmaxRef(randn(30, 12), 2, 3, 5)),
    shape: [2, 3, 5],
    grad: false,
  };
  assert(await gradCheck(([x, t]) => softmaxCrossEntropy(x, t, 2, 3, 5), [logits, target]) <= 1);
  assertThrows(
    () => r.scope(() => softmaxCrossEntropy(r.upload(x0(), [2, 3, 5]), r.upload(x0(), [2, 15]), 2, 3, 4)),
    Error,
    "softmaxCrossEntropy",
  );
});

function x0(): Float32Array {
  return new Float32Array(30);
}
