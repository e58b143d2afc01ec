import { assertClose, assertEquals } from "../helpers/assert.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { matmul, matmulInto, type MatrixView } from "../../src/ops/matmul.ts";

const PROFILES = ["cpu", "gpu"] as const;

/** A host view: element [z][i, j] of a strided batch of matrices. */
type HostView = { data: Float32Array; off: number; zs: number; is: number; js: number };
const at = (v: HostView, z: number, i: number, j: number) => v.data[v.off + z * v.zs + i * v.is + j * v.js];

/** float64 C = alpha A B (+ bias) into a copy of c's data (untouched elsewhere). */
function reference(
  d: { Z: number; M: number; N: number; K: number },
  a: HostView,
  b: HostView,
  c: HostView,
  alpha: number,
  bias: Float32Array | null,
): Float64Array {
  const out = Float64Array.from(c.data);
  for (let z = 0; z < d.Z; z++) {
    for (let m = 0; m < d.M; m++) {
      for (let n = 0; n < d.N; n++) {
        let acc = 0;
        for (let k = 0; k < d.K; k++) acc += at(a, z, m, k) * at(b, z, k, n);
        out[c.off + z * c.zs + m * c.is + n * c.js] = alpha * acc + (bias ? bias[n] : 0);
      }
    }
  }
  return out;
}

/** One layout case: each operand contiguous along rows ("r") or columns ("c"), with extra padding. */
interface Case {
  Z: number;
  M: number;
  N: number;
  K: number;
  a: "r" | "c";
  b: "r" | "c";
  c: "r" | "c";
  pad: number;
  bias?: boolean;
}

/** A view of [Z, rows, cols] in a buffer with `pad` spare values after each row (or column) and at the start. */
function layout(Z: number, rows: number, cols: number, o: "r" | "c", pad: number, seed: number): HostView {
  const [is, js] = o === "r" ? [cols + pad, 1] : [1, rows + pad];
  const zs = o === "r" ? rows * (cols + pad) : cols * (rows + pad);
  return { data: randn(pad + Z * zs, seed), off: pad, zs, is, js };
}

// Shapes off multiples of 4 and 16/128 blocks, batches, transposed operands, aligned and unaligned padding:
// between them every "cpu" entry point (register-blocked with rows and columns of A, narrow, dot, strided).
const CASES: Case[] = [
  { Z: 1, M: 5, N: 7, K: 9, a: "r", b: "r", c: "r", pad: 0 },
  { Z: 3, M: 17, N: 130, K: 12, a: "r", b: "r", c: "r", pad: 4 }, // matmul_rb
  { Z: 2, M: 33, N: 129, K: 5, a: "c", b: "r", c: "c", pad: 4 }, // matmul_rb, A_COLS; C transposed
  { Z: 2, M: 19, N: 13, K: 7, a: "c", b: "r", c: "r", pad: 4 }, // matmul_narrow
  { Z: 2, M: 17, N: 136, K: 12, a: "r", b: "r", c: "r", pad: 4 }, // matmul_rb, vec4 stores (C4)
  { Z: 2, M: 19, N: 12, K: 7, a: "c", b: "r", c: "r", pad: 8 }, // matmul_narrow, vec4 stores (C4)
  { Z: 2, M: 6, N: 11, K: 16, a: "r", b: "c", c: "r", pad: 4, bias: true }, // matmul_dot
  { Z: 2, M: 9, N: 70, K: 10, a: "c", b: "c", c: "c", pad: 1 }, // matmul_strided
  { Z: 1, M: 70, N: 66, K: 33, a: "r", b: "r", c: "r", pad: 3, bias: true }, // matmul_strided (bias)
];

Deno.test("matmulInto matches a float64 product on awkward shapes, batches and strides, both profiles", async () => {
  const r = await initRuntime();
  for (const profile of PROFILES) {
    for (const k of CASES) {
      const a = layout(k.Z, k.M, k.K, k.a, k.pad, 1), b = layout(k.Z, k.K, k.N, k.b, k.pad, 2);
      const c = layout(k.Z, k.M, k.N, k.c, k.pad, 3);
      const bias = k.bias ? randn(k.N, 4) : null;
      const up = (v: HostView): MatrixView => ({ ...v, t: r.upload(v.data, [v.data.length]) });
      const C = up(c);
      matmulInto(k, up(a), up(b), C, { alpha: 0.5, bias: bias ? r.upload(bias, [k.N]) : null, profile });
      const want = reference(k, a, b, c, 0.5, bias);
      assertClose(await C.t.read(), want, 1e-5, 1e-4, `${profile} ${JSON.stringify(k)}`);
    }
  }
});

Deno.test("attention-style products: A rows zero-padded past K use the register-blocked kernel", async () => {
  const r = await initRuntime();
  const [Z, M, N, K, Kp] = [2, 20, 36, 6, 8];
  const a = randn(Z * M * Kp, 5).map((v, i) => (i % Kp < K ? v : 0));
  const b = randn(Z * K * N, 6);
  for (const profile of PROFILES) {
    const c = r.empty([Z, M, N]);
    matmulInto(
      { Z, M, N, K },
      { t: r.upload(a, [a.length]), zs: M * Kp, is: Kp, js: 1 },
      { t: r.upload(b, [b.length]), zs: K * N, is: N, js: 1 },
      { t: c, zs: M * N, is: N, js: 1 },
      { profile, aZeroTail: true },
    );
    const want = reference(
      { Z, M, N, K },
      { data: a, off: 0, zs: M * Kp, is: Kp, js: 1 },
      { data: b, off: 0, zs: K * N, is: N, js: 1 },
      { data: new Float32Array(Z * M * N), off: 0, zs: M * N, is: N, js: 1 },
      1,
      null,
    );
    assertClose(await c.read(), want, 1e-5, 1e-4, profile);
  }
});

Deno.test("matmul: shapes of plain and transposed operands", async () => {
  const r = await initRuntime();
  const a = r.upload(randn(2 * 3 * 5, 1), [2, 3, 5]), b = r.upload(randn(2 * 5 * 4, 2), [2, 5, 4]);
  assertEquals(matmul(a, b).shape, [2, 3, 4]);
  const bt = r.upload(randn(2 * 4 * 5, 3), [2, 4, 5]);
  assertEquals(matmul(a, bt, { transB: true }).shape, [2, 3, 4]);
  const at2 = r.upload(randn(5 * 3, 4), [5, 3]), b2 = r.upload(randn(5 * 6, 5), [5, 6]);
  assertEquals(matmul(at2, b2, { transA: true }).shape, [3, 6]);
});

Deno.test("matmul gradients match finite differences, plain and transposed", async () => {
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
    const [Z, M, K, N] = [2, 5, 6, 7];
    const aShape = transA ? [Z, K, M] : [Z, M, K], bShape = transB ? [Z, N, K] : [Z, K, N];
    const worst = await gradCheck(
      ([a, b]) => matmul(a, b, { transA, transB }),
      [{ data: randn(Z * M * K, 11), shape: aShape }, { data: randn(Z * K * N, 12), shape: bShape }],
    );
    if (!(worst <= 1)) {
      throw new Error(`transA ${transA} transB ${transB}: gradient off by ${worst}x tolerance`);
    }
  }
});
