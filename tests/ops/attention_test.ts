import { assert, assertClose, assertEquals, assertThrows } from "../helpers/assert.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import { valueAndGrad } from "../../src/gpu/autograd.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { attention, type AttentionOptions } from "../../src/ops/attention.ts";
import { GOLDEN_DIR } from "../helpers/shared.ts";

const VARIANTS = ["cpu", "gpu"] as const;

/** Shape of one attention problem: qkv is [B, 3C, H, W], c = C / heads. */
interface Case {
  B: number;
  C: number;
  heads: number;
  H: number;
  W: number;
}

/**
 * float64 attention on the interleaved qkv layout, forward and (given dO) backward, straight from the
 * definitions: W = softmax_s'(q.k / sqrt(c)), o = W v; dV = W^T dO, dW = dO V^T, dS = W (dW - rowsum(dW W)),
 * dQ = dS K / sqrt(c), dK = dS^T Q / sqrt(c).
 */
function attentionRef(qkv: Float32Array, k: Case, gO?: Float32Array): { o: Float64Array; g: Float64Array } {
  const { B, C, heads } = k;
  const S = k.H * k.W, c = C / heads, scale = 1 / Math.sqrt(c);
  const at = (
    b: number,
    a: number,
    j: number,
    role: number,
    s: number,
  ) => ((b * 3 * C + (a * c + j) * 3 + role) * S + s);
  const o = new Float64Array(B * C * S);
  const g = new Float64Array(qkv.length);
  for (let b = 0; b < B; b++) {
    for (let a = 0; a < heads; a++) {
      const P = new Float64Array(S * S); // P[s, s']
      for (let s = 0; s < S; s++) {
        let mx = -Infinity;
        for (let t = 0; t < S; t++) {
          let d = 0;
          for (let j = 0; j < c; j++) d += qkv[at(b, a, j, 0, s)] * qkv[at(b, a, j, 1, t)];
          P[s * S + t] = d * scale;
          mx = Math.max(mx, P[s * S + t]);
        }
        let sum = 0;
        for (let t = 0; t < S; t++) sum += P[s * S + t] = Math.exp(P[s * S + t] - mx);
        for (let t = 0; t < S; t++) P[s * S + t] /= sum;
      }
      const oIdx = (j: number, s: number) => (b * C + a * c + j) * S + s;
      for (let j = 0; j < c; j++) {
        for (let s = 0; s < S; s++) {
          let acc = 0;
          for (let t = 0; t < S; t++) acc += P[s * S + t] * qkv[at(b, a, j, 2, t)];
          o[oIdx(j, s)] = acc;
        }
      }
      if (!gO) continue;
      const dS = new Float64Array(S * S);
      for (let s = 0; s < S; s++) {
        let dot = 0;
        for (let t = 0; t < S; t++) {
          let dp = 0;
          for (let j = 0; j < c; j++) dp += gO[oIdx(j, s)] * qkv[at(b, a, j, 2, t)];
          dS[s * S + t] = dp;
          dot += dp * P[s * S + t];
        }
        for (let t = 0; t < S; t++) dS[s * S + t] = P[s * S + t] * (dS[s * S + t] - dot);
      }
      for (let j = 0; j < c; j++) {
        for (let t = 0; t < S; t++) {
          let dv = 0, dk = 0;
          for (let s = 0; s < S; s++) {
            dv += P[s * S + t] * gO[oIdx(j, s)];
            dk += dS[s * S + t] * qkv[at(b, a, j, 0, s)];
          }
          g[at(b, a, j, 2, t)] = dv;
          g[at(b, a, j, 1, t)] = dk * scale;
        }
        for (let s = 0; s < S; s++) {
          let dq = 0;
          for (let t = 0; t < S; t++) dq += dS[s * S + t] * qkv[at(b, a, j, 1, t)];
          g[at(b, a, j, 0, s)] = dq * scale;
        }
      }
    }
  }
  return { o, g };
}

function qkvShape(k: Case): number[] {
  return [k.B, 3 * k.C, k.H, k.W];
}

async function forwardAndGrad(
  data: Float32Array,
  k: Case,
  gO: Float32Array,
  options: AttentionOptions,
): Promise<{ o: Float32Array; g: Float32Array }> {
  const r = await initRuntime();
  const { value, grad } = r.scope(() => {
    const qkv = r.upload(data, qkvShape(k));
    qkv.requiresGrad = true;
    const { value, grads } = valueAndGrad(
      () => attention(qkv, k.heads, options),
      () => r.upload(gO, [k.B, k.C, k.H, k.W]),
    );
    return { value, grad: grads.get(qkv) as Tensor };
  });
  const out = { o: await value.read(), g: await grad.read() };
  value.release();
  grad.release();
  return out;
}

Deno.test("attention matches float64 attention (heads 1, 2, 4; 8x8, 16x16, 6x10; c 8..64; both variants)", async () => {
  const r = await initRuntime();
  const cases: Case[] = [
    { B: 2, C: 8, heads: 1, H: 8, W: 8 },
    { B: 1, C: 64, heads: 1, H: 16, W: 16 },
    { B: 2, C: 64, heads: 2, H: 6, W: 10 },
    { B: 1, C: 96, heads: 4, H: 8, W: 8 },
    { B: 2, C: 40, heads: 2, H: 16, W: 16 },
  ];
  for (const [i, k] of cases.entries()) {
    const data = randn(k.B * 3 * k.C * k.H * k.W, 100 + i);
    const want = attentionRef(data, k).o;
    for (const variant of VARIANTS) {
      const got = r.scope(() => attention(r.upload(data, qkvShape(k)), k.heads, { profile: variant }));
      assertEquals(got.shape, [k.B, k.C, k.H, k.W]);
      assertClose(await got.read(), want, 2e-6, 1e-4, `${variant} ${JSON.stringify(k)}`);
      got.release();
    }
  }
});

Deno.test("attention backward matches the float64 gradient, with padded pixels, odd head sizes and split slices", async () => {
  const cases: [Case, AttentionOptions][] = [
    [{ B: 2, C: 32, heads: 2, H: 6, W: 10 }, {}],
    [{ B: 2, C: 6, heads: 2, H: 3, W: 5 }, {}], // S = 15 and c = 3: both padded to multiples of 4
    [{ B: 3, C: 16, heads: 2, H: 5, W: 7 }, { maxScoreElements: 2 * 36 * 36 }], // 6 slices, 2 per launch
  ];
  for (const [i, [k, opts]] of cases.entries()) {
    const data = randn(k.B * 3 * k.C * k.H * k.W, 200 + i);
    const gO = randn(k.B * k.C * k.H * k.W, 300 + i);
    const want = attentionRef(data, k, gO);
    for (const variant of VARIANTS) {
      const got = await forwardAndGrad(data, k, gO, { ...opts, profile: variant });
      const what = `${variant} ${JSON.stringify(k)} ${JSON.stringify(opts)}`;
      assertClose(got.o, want.o, 2e-6, 1e-4, `forward ${what}`);
      assertClose(got.g, want.g, 1e-5, 1e-4, `gradient ${what}`);
    }
  }
});

Deno.test("attention gradient w.r.t. qkv matches finite differences (heads 1 and 2)", async () => {
  const shapes: Case[] = [
    { B: 2, C: 4, heads: 1, H: 3, W: 3 },
    { B: 1, C: 8, heads: 2, H: 4, W: 4 },
  ];
  for (const [i, k] of shapes.entries()) {
    const worst = await gradCheck(
      ([qkv]) => attention(qkv, k.heads),
      [{ data: randn(k.B * 3 * k.C * k.H * k.W, 400 + i), shape: qkvShape(k) }],
      { samples: 30 },
    );
    assert(worst <= 1);
  }
});

Deno.test("UNetAttention golden case: GroupNorm, qkv and proj in float64 around the GPU attention", async () => {
  const r = await initRuntime();
  const st = readSafetensors(`${GOLDEN_DIR}/layers.safetensors`).tensors;
  const manifest = JSON.parse(Deno.readTextFileSync(`${GOLDEN_DIR}/manifest.json`));
  const tol = manifest.files.layers.cases.attention.tolerance["attention.out"];
  const get = (name: string) => {
    const t = st.get(`attention.${name}`);
    if (!t) throw new Error(`layers.safetensors has no attention.${name}`);
    return t.data as Float32Array;
  };
  const x = get("x");
  const [B, C, H, W] = st.get("attention.x")!.shape;
  const heads = 2, S = H * W;
  // GroupNorm in eval mode: min(32, ceil(C/4)) contiguous groups, unbiased variance, UNetAttention's eps 1e-5.
  const G = Math.min(32, Math.ceil(C / 4)), per = (C / G) * S, eps = 1e-5;
  const gamma = get("norm.weight"), beta = get("norm.bias");
  const xn = new Float64Array(x.length);
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < G; g++) {
      const base = (b * C + g * (C / G)) * S;
      let mean = 0;
      for (let i = 0; i < per; i++) mean += x[base + i];
      mean /= per;
      let ss = 0;
      for (let i = 0; i < per; i++) ss += (x[base + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(ss / (per - 1) + eps);
      for (let i = 0; i < per; i++) {
        const ch = g * (C / G) + Math.floor(i / S);
        xn[base + i] = (x[base + i] - mean) * inv * gamma[ch] + beta[ch];
      }
    }
  }
  const conv1x1 = (
    w: Float32Array,
    bias: Float32Array,
    inp: ArrayLike<number>,
    cin: number,
    cout: number,
  ) => {
    const out = new Float64Array(B * cout * S);
    for (let b = 0; b < B; b++) {
      for (let o = 0; o < cout; o++) {
        for (let s = 0; s < S; s++) {
          let acc = bias[o];
          for (let i = 0; i < cin; i++) acc += w[o * cin + i] * inp[(b * cin + i) * S + s];
          out[(b * cout + o) * S + s] = acc;
        }
      }
    }
    return out;
  };
  const qkv = conv1x1(get("qkv.weight"), get("qkv.bias"), xn, C, 3 * C);
  for (const variant of VARIANTS) {
    const o = r.scope(() =>
      attention(r.upload(Float32Array.from(qkv), [B, 3 * C, H, W]), heads, { profile: variant })
    );
    const proj = conv1x1(get("proj.weight"), get("proj.bias"), await o.read(), C, C);
    o.release();
    const out = proj.map((v, i) => v + x[i]);
    assertClose(out, get("out"), tol.atol, tol.rtol, `attention.out (${variant})`);
  }
});

Deno.test("attention releases its temporaries when no tape records", async () => {
  const r = await initRuntime();
  const qkv = r.upload(randn(2 * 24 * 15, 9), [2, 24, 3, 5]); // padded path
  const before = r.pool.stats().live;
  const o = attention(qkv, 2);
  assertEquals(r.pool.stats().live, before + 1);
  o.release();
  qkv.release();
});

Deno.test("attention refuses bad shapes and weight matrices above the binding limit", async () => {
  const r = await initRuntime();
  const qkv = r.upload(new Float32Array(2 * 12 * 16), [2, 12, 4, 4]);
  assertThrows(() => attention(qkv, 3), Error, "do not split into 3 heads");
  assertThrows(() => attention(qkv.reshape([2, 12, 16]), 1), Error, "must be [B, 3C, H, W]");
  const two = r.upload(new Float32Array(2 * 16), [1, 2, 4, 4]);
  assertThrows(() => attention(two, 1), Error, "not a multiple of 3");
  two.release();
  assertThrows(() => attention(qkv, 1, { maxScoreElements: 255 }), Error, "[16, 16] attention-weight matrix");
  const huge = Math.ceil(Math.sqrt(r.maxBindingElements)) + 4; // one [S, S] matrix exceeds the binding
  const big = r.upload(new Float32Array(3 * huge), [1, 3, 1, huge]);
  assertThrows(() => attention(big, 1), Error, "maxStorageBufferBindingSize");
  big.release();
  qkv.release();
});
