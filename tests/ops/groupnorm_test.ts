import { assert, assertClose, assertEquals, assertThrows } from "../helpers/assert.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import type { KernelProfile } from "../../src/gpu/device.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { groupCount, groupNorm } from "../../src/ops/groupnorm.ts";
import { GOLDEN_DIR } from "../helpers/shared.ts";

const PROFILES: KernelProfile[] = ["cpu", "gpu"];

/** Float64 GroupNorm on the host: mean, then mean of squared deviations with the given divisor. */
function reference(
  x: Float32Array,
  shape: number[],
  gamma: Float32Array,
  beta: Float32Array,
  groups: number,
  eps: number,
  train: boolean,
  silu: boolean,
): Float64Array {
  const [B, C, H, W] = shape;
  const n = (C / groups) * H * W;
  const out = new Float64Array(x.length);
  for (let q = 0; q < B * groups; q++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[q * n + i];
    mean /= n;
    let m2 = 0;
    for (let i = 0; i < n; i++) m2 += (x[q * n + i] - mean) ** 2;
    const rstd = 1 / Math.sqrt(m2 / (train ? n : n - 1) + eps);
    for (let i = 0; i < n; i++) {
      const c = Math.floor((q * n + i) / (H * W)) % C;
      const a = (x[q * n + i] - mean) * rstd * gamma[c] + beta[c];
      out[q * n + i] = silu ? a / (1 + Math.exp(-a)) : a;
    }
  }
  return out;
}

Deno.test("groupCount follows min(32, ceil(C/4)) and rejects indivisible channel counts", () => {
  for (const [c, g] of [[4, 1], [24, 6], [32, 8], [64, 16], [128, 32], [192, 32], [256, 32], [512, 32]]) {
    assertEquals(groupCount(c), g, `C=${c}`);
  }
  assertThrows(() => groupCount(33), Error, "not divisible");
  assertThrows(() => groupCount(130), Error, "not divisible");
});

Deno.test("groupNorm matches the reference's golden outputs in eval (N-1) and train (N) mode", async () => {
  const r = await initRuntime();
  const file = readSafetensors(`${GOLDEN_DIR}/layers.safetensors`);
  const manifest = JSON.parse(Deno.readTextFileSync(`${GOLDEN_DIR}/manifest.json`));
  const get = (k: string) => {
    const t = file.tensors.get(k);
    if (!t) throw new Error(`layers.safetensors has no ${k}`);
    return t;
  };
  for (const name of ["groupnorm", "groupnorm_silu"]) {
    const tol = manifest.files.layers.cases[name].tolerance;
    const xs = get(`${name}.x`);
    const C = xs.shape[1];
    const x = r.upload(xs.data as Float32Array, xs.shape);
    const gamma = r.upload(get(`${name}.weight`).data as Float32Array, [C]);
    const beta = r.upload(get(`${name}.bias`).data as Float32Array, [C]);
    for (const profile of PROFILES) {
      for (const [train, out] of [[false, "out"], [true, "out_train"]] as const) {
        const key = `${name}.${out}`;
        const y = groupNorm(x, gamma, beta, {
          groups: groupCount(C),
          eps: 1e-6,
          silu: name.endsWith("silu"),
          train,
          profile,
        });
        assertClose(
          await y.read(),
          get(key).data as Float32Array,
          tol[key].atol,
          tol[key].rtol,
          `${key} (${profile})`,
        );
        y.release();
      }
    }
    for (const t of [x, gamma, beta]) t.release();
  }
});

Deno.test("groupNorm matches a float64 reference on chunked, odd-sized and offset inputs", async () => {
  const r = await initRuntime();
  const cases: { shape: number[]; groups: number; offset: number }[] = [
    { shape: [2, 8, 12, 25], groups: 2, offset: 0 }, // 300 values per row: two chunks in the cpu family
    { shape: [3, 6, 7, 5], groups: 3, offset: 0 }, // odd H*W: scalar entry points
    { shape: [2, 2, 17, 19], groups: 1, offset: 0 }, // odd and chunked
    // x is only known to ulp(1000) = 6e-5 here, so the tolerance grows with the offset; a one-pass
    // E[x^2] - E[x]^2 in float32 would be off by far more (the variance itself is lost).
    { shape: [2, 4, 16, 32], groups: 2, offset: 1000 },
  ];
  for (const { shape, groups, offset } of cases) {
    const n = shape.reduce((a, b) => a * b);
    const C = shape[1];
    const xh = randn(n, 11).map((v) => v + offset);
    const gh = randn(C, 12), bh = randn(C, 13);
    const x = r.upload(xh, shape), gamma = r.upload(gh, [C]), beta = r.upload(bh, [C]);
    for (const profile of PROFILES) {
      for (const train of [false, true]) {
        for (const silu of [false, true]) {
          const y = groupNorm(x, gamma, beta, { groups, eps: 1e-6, silu, train, profile });
          const want = reference(xh, shape, gh, bh, groups, 1e-6, train, silu);
          assertClose(
            await y.read(),
            want,
            2e-5 + 2e-7 * offset,
            1e-4,
            `[${shape}] offset ${offset} ${profile} train=${train} silu=${silu}`,
          );
          y.release();
        }
      }
    }
    for (const t of [x, gamma, beta]) t.release();
  }
});

Deno.test("groupNorm releases its statistics when no gradient is recorded", async () => {
  const r = await initRuntime();
  const x = r.upload(randn(2 * 4 * 5 * 5, 3), [2, 4, 5, 5]);
  const g = r.upload(randn(4, 4), [4]), b = r.upload(randn(4, 5), [4]);
  for (const profile of PROFILES) {
    const before = r.pool.stats().live;
    const y = r.scope(() => groupNorm(x, g, b, { groups: 2, eps: 1e-6, train: true, profile }));
    assertEquals(r.pool.stats().live, before + 1, profile);
    y.release();
  }
  assertThrows(() => groupNorm(x, g, b, { groups: 3, eps: 1e-6, train: true }), Error, "do not divide");
  assertThrows(
    () => groupNorm(x, r.upload(randn(3, 1), [3]), b, { groups: 2, eps: 1e-6, train: true }),
    Error,
    "gamma",
  );
  for (const t of [x, g, b]) t.release();
});

// Small groups make the eval divisor N - 1 differ from N by up to 20% in d rstd / dx, far beyond the
// check's tolerance, so a backward pass with the wrong divisor fails here.
const GRAD_CASES: { shape: number[]; groups: number; train: boolean; silu: boolean }[] = [
  { shape: [2, 6, 3, 5], groups: 3, train: true, silu: false },
  { shape: [2, 6, 3, 5], groups: 3, train: false, silu: true },
  { shape: [2, 4, 1, 3], groups: 2, train: false, silu: false }, // N = 6
  { shape: [2, 4, 1, 5], groups: 4, train: true, silu: true }, // N = 5
  { shape: [2, 8, 2, 2], groups: 8, train: false, silu: true }, // vec4 path, N = 4
  { shape: [1, 8, 4, 4], groups: 1, train: true, silu: true },
  { shape: [1, 2, 12, 25], groups: 2, train: false, silu: false }, // two chunks per row in the cpu family
];

for (const profile of PROFILES) {
  Deno.test(`groupNorm gradients match finite differences (${profile} kernels)`, async () => {
    let seed = 20;
    for (const { shape, groups, train, silu } of GRAD_CASES) {
      const C = shape[1];
      const n = shape.reduce((a, b) => a * b);
      const worst = await gradCheck(
        ([x, g, b]) => groupNorm(x, g, b, { groups, eps: 1e-6, silu, train, profile }),
        [
          { data: randn(n, seed++).map((v) => 2 * v + 0.5), shape },
          { data: randn(C, seed++).map((v) => 1 + 0.5 * v), shape: [C] },
          { data: randn(C, seed++), shape: [C] },
        ],
        { samples: 16 },
      );
      assert(worst <= 1, `[${shape}] groups ${groups} train=${train} silu=${silu}: ratio ${worst}`);
    }
  });
}
