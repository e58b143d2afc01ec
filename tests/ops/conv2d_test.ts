/**
 * conv2d: golden parity with the reference's Conv2d, finite-difference gradients, both kernel families
 * (register-blocked "cpu", tiled "gpu") against a float64 host convolution on awkward shapes, and the
 * shape errors.
 */
import { assert, assertThrows, worstRatio } from "../helpers/assert.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { GOLDEN_DIR } from "../helpers/shared.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import type { KernelProfile } from "../../src/gpu/device.ts";
import { valueAndGrad } from "../../src/gpu/autograd.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { conv2d, type Conv2dOptions } from "../../src/ops/conv2d.ts";
import { winogradConv3, winogradFits, winogradPays } from "../../src/ops/conv2d_winograd.ts";
import { DispatchProfiler } from "../../src/gpu/profiler.ts";
import { conv2dRef } from "../../src/ops/conv2d_ref.ts";
import { groupNorm } from "../../src/ops/groupnorm.ts";

type Mode = "plain" | "up" | "down";
const resample = (mode: Mode): Conv2dOptions => ({ up: mode === "up", down: mode === "down" });

// ------------------------------------------------------------------ float64 host reference

interface Shape {
  B: number;
  Ci: number;
  Co: number;
  H: number;
  W: number;
  k: number;
  mode: Mode;
}

function gridSize(s: Shape): [number, number] {
  if (s.mode === "up") return [2 * s.H, 2 * s.W];
  if (s.mode === "down") return [Math.floor(s.H / 2), Math.floor(s.W / 2)];
  return [s.H, s.W];
}

/** The input as the convolution sees it: nearest-up or 2x2-mean pooled. */
function resampled(s: Shape, x: Float32Array): Float64Array {
  const [Hc, Wc] = gridSize(s);
  const u = new Float64Array(s.B * s.Ci * Hc * Wc);
  for (let bc = 0; bc < s.B * s.Ci; bc++) {
    for (let i = 0; i < Hc; i++) {
      for (let j = 0; j < Wc; j++) {
        const at = (y: number, xx: number) => x[(bc * s.H + y) * s.W + xx];
        u[(bc * Hc + i) * Wc + j] = s.mode === "up"
          ? at(i >> 1, j >> 1)
          : s.mode === "down"
          ? 0.25 * (at(2 * i, 2 * j) + at(2 * i, 2 * j + 1) + at(2 * i + 1, 2 * j) + at(2 * i + 1, 2 * j + 1))
          : at(i, j);
      }
    }
  }
  return u;
}

/** y = conv(resample(x)) + b, and the gradients of sum(y * g). */
function hostConv(s: Shape, x: Float32Array, w: Float32Array, b: Float32Array, g: Float32Array) {
  const [Hc, Wc] = gridSize(s);
  const u = resampled(s, x);
  const pad = s.k >> 1;
  const y = new Float64Array(s.B * s.Co * Hc * Wc);
  const du = new Float64Array(u.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(s.Co);
  for (let bi = 0; bi < s.B; bi++) {
    for (let co = 0; co < s.Co; co++) {
      for (let i = 0; i < Hc; i++) {
        for (let j = 0; j < Wc; j++) {
          const o = ((bi * s.Co + co) * Hc + i) * Wc + j;
          let acc = b[co];
          for (let ci = 0; ci < s.Ci; ci++) {
            for (let ky = 0; ky < s.k; ky++) {
              const yy = i + ky - pad;
              if (yy < 0 || yy >= Hc) continue;
              for (let kx = 0; kx < s.k; kx++) {
                const xx = j + kx - pad;
                if (xx < 0 || xx >= Wc) continue;
                const ui = ((bi * s.Ci + ci) * Hc + yy) * Wc + xx;
                const wi = ((co * s.Ci + ci) * s.k + ky) * s.k + kx;
                acc += w[wi] * u[ui];
                du[ui] += w[wi] * g[o];
                dw[wi] += u[ui] * g[o];
              }
            }
          }
          y[o] = acc;
          db[co] += g[o];
        }
      }
    }
  }
  // adjoint of the resampling
  const dx = new Float64Array(x.length);
  for (let bc = 0; bc < s.B * s.Ci; bc++) {
    for (let i = 0; i < s.H; i++) {
      for (let j = 0; j < s.W; j++) {
        const at = (yy: number, xx: number) => du[(bc * Hc + yy) * Wc + xx];
        let v: number;
        if (s.mode === "up") {
          v = at(2 * i, 2 * j) + at(2 * i, 2 * j + 1) + at(2 * i + 1, 2 * j) + at(2 * i + 1, 2 * j + 1);
        } else if (s.mode === "down") v = (i >> 1) < Hc && (j >> 1) < Wc ? 0.25 * at(i >> 1, j >> 1) : 0;
        else v = at(i, j);
        dx[(bc * s.H + i) * s.W + j] = v;
      }
    }
  }
  return { y, dx, dw, db };
}

/** Largest |a - e| relative to the largest |e| (the scale of a sum of many products). */
function relErr(a: ArrayLike<number>, e: ArrayLike<number>): number {
  assert(a.length === e.length, `length ${a.length} vs ${e.length}`);
  let d = 0, m = 0;
  for (let i = 0; i < e.length; i++) {
    d = Math.max(d, Math.abs(a[i] - e[i]));
    m = Math.max(m, Math.abs(e[i]));
  }
  return d / Math.max(m, 1e-30);
}

// ------------------------------------------------------------------ golden parity

Deno.test("conv2d matches the reference Conv2d golden cases (3x3, 1x1, up, down)", async () => {
  const r = await initRuntime();
  const st = readSafetensors(`${GOLDEN_DIR}/layers.safetensors`).tensors;
  const manifest = JSON.parse(Deno.readTextFileSync(`${GOLDEN_DIR}/manifest.json`));
  const cases: [string, Conv2dOptions][] = [
    ["conv3", {}],
    ["conv3_down", { down: true }],
    ["conv3_up", { up: true }],
    ["conv1_down", { down: true }],
    ["conv1_up", { up: true }],
  ];
  for (const [name, opts] of cases) {
    const get = (key: string) => {
      const t = st.get(`${name}.${key}`);
      if (!t) throw new Error(`layers.safetensors has no ${name}.${key}`);
      return r.upload(t.data as Float32Array, t.shape);
    };
    const tol = manifest.files.layers.cases[name].tolerance[`${name}.out`];
    const [x, w, b] = [get("x"), get("weight"), get("bias")];
    const y = conv2d(x, w, b, opts);
    const golden = st.get(`${name}.out`)!;
    assert(y.shape.join() === golden.shape.join(), `${name}: shape [${y.shape}] vs golden [${golden.shape}]`);
    const ratio = worstRatio(await y.read(), golden.data as Float32Array, tol.atol, tol.rtol);
    assert(ratio <= 1, `${name}: worst error / tolerance ${ratio.toFixed(3)}`);
    for (const t of [x, w, b, y]) t.release();
  }
});

// ------------------------------------------------------------------ finite differences

for (const k of [1, 3]) {
  for (const mode of ["plain", "up", "down"] as const) {
    Deno.test(`conv2d gradients (x, weight, bias) match finite differences: k=${k}, ${mode}`, async () => {
      const [B, Ci, Co, H, W] = [2, 3, 5, 6, 10];
      const worst = await gradCheck(([x, w, b]) => conv2d(x, w, b, resample(mode)), [
        { data: randn(B * Ci * H * W, 11 + k), shape: [B, Ci, H, W] },
        { data: randn(Co * Ci * k * k, 12 + k), shape: [Co, Ci, k, k] },
        { data: randn(Co, 13 + k), shape: [Co] },
      ], { samples: 8 });
      assert(worst <= 1);
    });
  }
}

Deno.test("conv2d with one bias per sample [B, Cout]: values of both families and the bias gradient", async () => {
  const r = await initRuntime();
  for (const s of [SHAPES[0], SHAPES[1], SHAPES[2], SHAPES[4], SHAPES[5], SHAPES[8]]) {
    const { x, w, g } = inputs(s, 700);
    const bs = randn(s.B * s.Co, 701);
    const [Hc, Wc] = gridSize(s);
    // the host oracle without bias, plus bias[b][c] on every pixel
    const want = hostConv(s, x, w, new Float32Array(s.Co), g);
    const plane = Hc * Wc;
    const y = Float64Array.from(want.y, (v, i) => v + bs[Math.floor(i / plane)]);
    const dbs = new Float64Array(s.B * s.Co);
    for (let i = 0; i < g.length; i++) dbs[Math.floor(i / plane)] += g[i];
    for (const profile of ["cpu", "gpu"] as const) {
      const xt = r.upload(x, [s.B, s.Ci, s.H, s.W]), wt = r.upload(w, [s.Co, s.Ci, s.k, s.k]);
      const bt = r.upload(bs, [s.B, s.Co]);
      bt.requiresGrad = true;
      const gt = r.upload(g, [s.B, s.Co, Hc, Wc]);
      const { value, grads } = valueAndGrad(
        () => conv2d(xt, wt, bt, { ...resample(s.mode), profile }),
        () => gt,
      );
      const what = `${profile} ${JSON.stringify(s)}`;
      const ey = relErr(await value.read(), y);
      assert(ey < 2e-6, `${what} y: relative error ${ey.toExponential(2)}`);
      const eb = relErr(await grads.get(bt)!.read(), dbs);
      assert(eb < 2e-6, `${what} d bias: relative error ${eb.toExponential(2)}`);
      for (const t of [xt, wt, bt, gt, value, ...grads.values()]) t.release();
    }
  }
});

Deno.test("conv2d with a residual: scale * (conv + bias + add) in the store, and its gradients", async () => {
  const r = await initRuntime();
  // plain, up, down, two weight buffers, rows not a multiple of 4
  const k3 = [SHAPES[0], SHAPES[1], SHAPES[2], SHAPES[4], SHAPES[9]];
  for (const s of [...k3, SHAPES[5], SHAPES[7]]) {
    const { x, w, b, g } = inputs(s, 800);
    const [Hc, Wc] = gridSize(s);
    const add = randn(s.B * s.Co * Hc * Wc, 801);
    const c = Math.SQRT1_2;
    // the host oracle with the output gradient scaled: d/dx sum(c * (conv + add) * g) = conv's grads of c * g
    const want = hostConv(s, x, w, b, Float32Array.from(g, (v) => c * v));
    const y = Float64Array.from(want.y, (v, i) => c * (v + add[i]));
    const dadd = Float64Array.from(g, (v) => c * v);
    const modes: [KernelProfile, Conv2dOptions][] = [["cpu", {}], ["gpu", {}]];
    if (s.k === 3) modes.push(["cpu", { k3Weights: "uniform" }], ["cpu", { k3Weights: "storage" }]);
    for (const [profile, extra] of modes) {
      const xt = r.upload(x, [s.B, s.Ci, s.H, s.W]), wt = r.upload(w, [s.Co, s.Ci, s.k, s.k]);
      const bt = r.upload(b, [s.Co]), at = r.upload(add, [s.B, s.Co, Hc, Wc]);
      for (const t of [xt, wt, bt, at]) t.requiresGrad = true;
      const gt = r.upload(g, [s.B, s.Co, Hc, Wc]);
      const { value, grads } = valueAndGrad(
        () => conv2d(xt, wt, bt, { ...resample(s.mode), profile, ...extra, residual: { add: at, scale: c } }),
        () => gt,
      );
      const what = `${profile} ${JSON.stringify(extra)} ${JSON.stringify(s)}`;
      const got = {
        y: await value.read(),
        dx: await grads.get(xt)!.read(),
        dw: await grads.get(wt)!.read(),
        db: await grads.get(bt)!.read(),
      };
      assertAgree(got, { ...want, y }, what, 2e-6);
      const ea = relErr(await grads.get(at)!.read(), dadd);
      assert(ea < 2e-6, `${what} d add: relative error ${ea.toExponential(2)}`);
      for (const t of [xt, wt, bt, at, gt, value, ...grads.values()]) t.release();
    }
  }
});

// ------------------------------------------------------------------ kernel families vs the host

// Shapes chosen to hit every kernel variant and edge: channel counts that are not multiples of the
// blocks (4, 8, 16), tiles overhanging odd grids, batch 1, pooling of odd sizes, 1x1 planes with and
// without vec4 alignment, several grad-weight chunks, read channels split over two weight buffers
// (120 in the forward pass, 116 in grad-input).
const SHAPES: Shape[] = [
  { B: 1, Ci: 13, Co: 6, H: 24, W: 40, k: 3, mode: "plain" },
  { B: 2, Ci: 3, Co: 17, H: 6, W: 10, k: 3, mode: "up" },
  { B: 1, Ci: 5, Co: 9, H: 7, W: 9, k: 3, mode: "down" },
  { B: 3, Ci: 18, Co: 20, H: 16, W: 12, k: 3, mode: "plain" },
  { B: 1, Ci: 120, Co: 116, H: 4, W: 6, k: 3, mode: "up" }, // more channels than one weight buffer holds
  { B: 2, Ci: 20, Co: 24, H: 8, W: 12, k: 1, mode: "plain" }, // two 16-channel grad-weight blocks, one partial
  { B: 1, Ci: 7, Co: 5, H: 5, W: 7, k: 1, mode: "plain" },
  { B: 2, Ci: 6, Co: 9, H: 5, W: 6, k: 1, mode: "up" },
  { B: 1, Ci: 11, Co: 3, H: 9, W: 11, k: 1, mode: "down" },
  { B: 2, Ci: 9, Co: 18, H: 10, W: 14, k: 3, mode: "plain" }, // rows not a multiple of 4: scalar stores
];

async function runDevice(
  s: Shape,
  profile: KernelProfile | "reference",
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  g: Float32Array,
  extra: Conv2dOptions = {},
) {
  const r = await initRuntime();
  const [Hc, Wc] = gridSize(s);
  const xt = r.upload(x, [s.B, s.Ci, s.H, s.W]);
  const wt = r.upload(w, [s.Co, s.Ci, s.k, s.k]);
  const bt = r.upload(b, [s.Co]);
  const gt = r.upload(g, [s.B, s.Co, Hc, Wc]);
  for (const t of [xt, wt, bt]) t.requiresGrad = true;
  const { value, grads } = valueAndGrad(
    () =>
      profile === "reference"
        ? conv2dRef(xt, wt, bt, resample(s.mode))
        : conv2d(xt, wt, bt, { ...resample(s.mode), profile, ...extra }),
    () => gt,
  );
  const out = {
    y: await value.read(),
    dx: await grads.get(xt)!.read(),
    dw: await grads.get(wt)!.read(),
    db: await grads.get(bt)!.read(),
  };
  for (const t of [xt, wt, bt, gt, value, ...grads.values()]) t.release();
  return out;
}

type DeviceResult = Awaited<ReturnType<typeof runDevice>>;

/** Random x, weight, bias and output gradient for shape `s` (seeds from `seed`, 100 apart). */
function inputs(s: Shape, seed: number) {
  const [Hc, Wc] = gridSize(s);
  return {
    x: randn(s.B * s.Ci * s.H * s.W, seed),
    w: randn(s.Co * s.Ci * s.k * s.k, seed + 100),
    b: randn(s.Co, seed + 200),
    g: randn(s.B * s.Co * Hc * Wc, seed + 300),
  };
}

/** Asserts that every output (y, dx, dw, db) of `got` is within `tol` (relative) of `want`. */
function assertAgree(
  got: DeviceResult,
  want: Record<"y" | "dx" | "dw" | "db", ArrayLike<number>>,
  what: string,
  tol: number,
) {
  for (const key of ["y", "dx", "dw", "db"] as const) {
    const e = relErr(got[key], want[key]);
    assert(e < tol, `${what} ${key}: relative error ${e.toExponential(2)}`);
  }
}

Deno.test("both kernel families agree with a float64 host convolution, forward and backward", async () => {
  for (const [i, s] of SHAPES.entries()) {
    const { x, w, b, g } = inputs(s, 100 + i);
    const want = hostConv(s, x, w, b, g);
    const got: Record<string, DeviceResult> = {};
    for (const profile of ["cpu", "gpu"] as const) {
      got[profile] = await runDevice(s, profile, x, w, b, g);
      assertAgree(got[profile], want, `${profile} ${JSON.stringify(s)}`, 2e-6);
    }
    assertAgree(got.cpu, got.gpu, `cpu vs gpu ${JSON.stringify(s)}`, 2e-6);
    if (s.k === 3) {
      // both weight paths of the 3x3 "cpu" kernel, whichever the size picks by default
      for (const k3Weights of ["uniform", "storage"] as const) {
        const other = await runDevice(s, "cpu", x, w, b, g, { k3Weights });
        assertAgree(other, want, `cpu, ${k3Weights} weights ${JSON.stringify(s)}`, 2e-6);
      }
    }
  }
});

// Network-sized layers (the real-data U-Nets' levels), too large for the host oracle to be quick: the
// one-thread-per-value reference kernels (src/ops/conv2d_ref.ts) are the oracle on the device.
const NETWORK_SHAPES: Shape[] = [
  { B: 4, Ci: 32, Co: 32, H: 32, W: 48, k: 3, mode: "plain" },
  { B: 2, Ci: 16, Co: 32, H: 64, W: 64, k: 3, mode: "down" },
  { B: 2, Ci: 64, Co: 32, H: 16, W: 24, k: 3, mode: "up" },
  { B: 2, Ci: 48, Co: 16, H: 32, W: 32, k: 1, mode: "plain" },
  { B: 2, Ci: 32, Co: 64, H: 32, W: 48, k: 1, mode: "down" },
];

Deno.test("the fast kernels agree with the reference kernels (conv2d_ref) on network-sized layers", async () => {
  for (const [i, s] of NETWORK_SHAPES.entries()) {
    const { x, w, b, g } = inputs(s, 500 + i);
    const want = await runDevice(s, "reference", x, w, b, g);
    for (const profile of ["cpu", "gpu"] as const) {
      // the direct kernels (Winograd, the default for these 3x3 layers on "cpu", rounds more: tested below)
      assertAgree(
        await runDevice(s, profile, x, w, b, g, { k3Algorithm: "direct" }),
        want,
        `${profile} vs reference ${JSON.stringify(s)}`,
        5e-6,
      );
    }
    if (s.k === 3) {
      for (const k3Weights of ["uniform", "storage"] as const) {
        const got = await runDevice(s, "cpu", x, w, b, g, { k3Weights, k3Algorithm: "direct" });
        assertAgree(got, want, `cpu, ${k3Weights} weights, vs reference ${JSON.stringify(s)}`, 5e-6);
      }
    }
  }
});

// ------------------------------------------------------------------ Winograd F(4x4, 3x3)

// Plain 3x3 shapes for Winograd: partial 4x4 tiles and padded quads of tiles (13 x 18), a single pixel,
// rows not a multiple of 4 (scalar stores), odd channel counts (zero-padded products), rows of 32 read as
// vec4s by the input transform with a last run of tile rows shorter than the others (19 x 32).
const WINO_SHAPES: Shape[] = [
  SHAPES[0],
  SHAPES[3],
  SHAPES[9],
  { B: 2, Ci: 5, Co: 7, H: 13, W: 18, k: 3, mode: "plain" },
  { B: 1, Ci: 3, Co: 4, H: 1, W: 1, k: 3, mode: "plain" },
  { B: 2, Ci: 33, Co: 17, H: 9, W: 8, k: 3, mode: "plain" },
  { B: 1, Ci: 6, Co: 5, H: 19, W: 32, k: 3, mode: "plain" },
];
// Winograd's transforms round more than the direct sums (about 10x with these interpolation points).
const WINO_TOL = 2e-5;

// Up-sampling 3x3 convolutions: Winograd reads the up-sampled grid through in the forward and the weight
// gradient (odd sizes, more channels than a weight block); the input gradient is Winograd's on the fine
// grid, 2x2-summed.
const WINO_UP_SHAPES: Shape[] = [SHAPES[1], SHAPES[4], { B: 2, Ci: 5, Co: 7, H: 7, W: 9, k: 3, mode: "up" }];

Deno.test("Winograd 3x3 agrees with a float64 host convolution: y, dx and dw (all through Winograd), db", async () => {
  for (const [i, s] of [...WINO_SHAPES, ...WINO_UP_SHAPES].entries()) {
    const { x, w, b, g } = inputs(s, 900 + i);
    const got = await runDevice(s, "cpu", x, w, b, g, { k3Algorithm: "winograd" });
    assertAgree(got, hostConv(s, x, w, b, g), `winograd ${JSON.stringify(s)}`, WINO_TOL);
  }
});

Deno.test("Winograd 3x3 and 1x1 without images (WGSL without read-only storage textures) agree too", async () => {
  const r = await initRuntime();
  const saved = r.useImages;
  r.useImages = false;
  try {
    for (const [i, s] of [WINO_SHAPES[3], WINO_SHAPES[6], WINO_UP_SHAPES[2], SHAPES[5]].entries()) {
      const { x, w, b, g } = inputs(s, 970 + i);
      const got = await runDevice(s, "cpu", x, w, b, g, { k3Algorithm: "winograd" });
      assertAgree(got, hostConv(s, x, w, b, g), `without images ${JSON.stringify(s)}`, WINO_TOL);
    }
  } finally {
    r.useImages = saved;
  }
});

Deno.test("Winograd 3x3, both product layouts: bias per sample, residual, and the input gradient", async () => {
  const r = await initRuntime();
  for (const [i, s] of WINO_SHAPES.entries()) {
    const { x, w, g } = inputs(s, 950 + i);
    const bs = randn(s.B * s.Co, 951 + i);
    const add = randn(s.B * s.Co * s.H * s.W, 952 + i);
    const c = Math.SQRT1_2;
    const plane = s.H * s.W;
    const host = hostConv(s, x, w, new Float32Array(s.Co), g);
    const want = host.y.map((v, j) => c * (v + bs[Math.floor(j / plane)] + add[j]));
    const xt = r.upload(x, [s.B, s.Ci, s.H, s.W]), wt = r.upload(w, [s.Co, s.Ci, 3, 3]);
    const bt = r.upload(bs, [s.B, s.Co]), at = r.upload(add, [s.B, s.Co, s.H, s.W]);
    const gt = r.upload(g, [s.B, s.Co, s.H, s.W]);
    for (const tileMajor of [false, true]) {
      const what = `winograd, ${tileMajor ? "tile" : "channel"}-major ${JSON.stringify(s)}`;
      const residual = { add: at, scale: c };
      const y = winogradConv3({ x: xt, weight: wt, transposed: false, bias: bt, residual, tileMajor });
      const ey = relErr(await y.read(), want);
      assert(ey < WINO_TOL, `${what} y: relative error ${ey.toExponential(2)}`);
      // the input gradient: the convolution of g with the weight transposed and flipped
      const dx = winogradConv3({ x: gt, weight: wt, transposed: true, bias: null, tileMajor });
      const ex = relErr(await dx.read(), host.dx);
      assert(ex < WINO_TOL, `${what} dx: relative error ${ex.toExponential(2)}`);
      for (const t of [y, dx]) t.release();
    }
    for (const t of [xt, wt, bt, at, gt]) t.release();
  }
});

Deno.test("Winograd 3x3 gradients (x, weight, bias) match finite differences", async () => {
  const [B, Ci, Co, H, W] = [2, 3, 5, 6, 10];
  const worst = await gradCheck(([x, w, b]) => conv2d(x, w, b, { k3Algorithm: "winograd" }), [
    { data: randn(B * Ci * H * W, 61), shape: [B, Ci, H, W] },
    { data: randn(Co * Ci * 9, 62), shape: [Co, Ci, 3, 3] },
    { data: randn(Co, 63), shape: [Co] },
  ], { samples: 8 });
  assert(worst <= 1);
});

Deno.test("a network-sized 3x3 layer runs through Winograd by default and agrees with the reference", async () => {
  const r = await initRuntime();
  // 128 output channels: the weight gradient goes through Winograd too
  const s: Shape = { B: 2, Ci: 64, Co: 128, H: 32, W: 32, k: 3, mode: "plain" };
  const { x, w, b, g } = inputs(s, 990);
  const want = await runDevice(s, "reference", x, w, b, g);
  const profiler = new DispatchProfiler(r.device);
  r.profiler = profiler;
  await profiler.reset();
  const got = await runDevice(s, "cpu", x, w, b, g);
  r.profiler = null;
  const totals = await profiler.totals();
  const count = (entry: string) => totals.find((t) => t.label === `conv2d_wino.wgsl:${entry}`)?.count ?? 0;
  const labels = totals.map((t) => t.label).join(", ");
  // forward, input gradient and weight gradient (tile-major) each transform their input once
  assert(count("wino_input") === 2, `Winograd input passes: ${count("wino_input")} (kernels: ${labels})`);
  assert(count("wino_input_t") === 1, `Winograd tile-major input passes: ${count("wino_input_t")}`);
  assert(count("wino_grad_output") === 1, `Winograd weight-gradient passes: ${count("wino_grad_output")}`);
  assertAgree(got, want, `cpu (auto) vs reference ${JSON.stringify(s)}`, WINO_TOL);
});

Deno.test("Winograd is chosen only where its transforms fit one binding of the adapter", async () => {
  const r = await initRuntime();
  const floats = r.maxBindingElements;
  // a 448 x 448 image with 128 channels: 36 x 112 x 112 tiles x 128 channels > 32 Mi floats (lavapipe's
  // 128 MiB binding limit); the direct kernel needs no temporaries
  const tiles = (B: number, H: number, W: number) =>
    B * Math.ceil(H / 4) * Math.ceil(Math.ceil(W / 4) / 4) * 4;
  for (const [B, K, M, H, W] of [[1, 128, 128, 448, 448], [8, 64, 64, 64, 64], [1, 1024, 1024, 8, 8]]) {
    const need = Math.max(36 * tiles(B, H, W) * Math.max(K, M), 36 * K * M);
    const fits = winogradFits(B, K, M, H, W);
    assert(
      fits === need <= Math.min(floats, 64 * 1024 * 1024),
      `fits [${B},${K},${M},${H},${W}]: ${fits}, ${need}`,
    );
    if (!fits) assert(!winogradPays(B, K, M, H, W), `pays [${B},${K},${M},${H},${W}] without fitting`);
  }
});

// ------------------------------------------------------------------ errors

Deno.test("conv2d rejects mismatched shapes with messages that name them", async () => {
  const r = await initRuntime();
  const x = r.upload(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
  const w = r.upload(new Float32Array(5 * 4 * 9), [5, 4, 3, 3]);
  const w5 = r.upload(new Float32Array(5 * 3 * 25), [5, 3, 5, 5]);
  const w3 = r.upload(new Float32Array(5 * 3 * 9), [5, 3, 3, 3]);
  const b = r.upload(new Float32Array(4), [4]);
  assertThrows(() => conv2d(x, w, null), Error, "weight [5,4,3,3] does not fit input [2,3,4,4]");
  assertThrows(() => conv2d(x, w5, null), Error, "k = 1 or 3");
  assertThrows(() => conv2d(x, w3, b), Error, "bias [4]");
  assertThrows(() => conv2d(x, w3, null, { up: true, down: true }), Error, "up and down");
  assertThrows(() => conv2d(x.reshape([6, 4, 4]), w3, null), Error, "[6,4,4]");
  for (const t of [x, w, w5, w3, b]) t.release();
});

Deno.test("normalize: GroupNorm (+SiLU) applied as Winograd reads x equals GroupNorm then the convolution", async () => {
  const r = await initRuntime();
  const cases: { s: Shape; groups: number; silu: boolean; residual: boolean }[] = [
    { s: { B: 2, Ci: 8, Co: 5, H: 13, W: 18, k: 3, mode: "plain" }, groups: 2, silu: true, residual: true },
    { s: { B: 1, Ci: 8, Co: 4, H: 16, W: 32, k: 3, mode: "plain" }, groups: 4, silu: false, residual: false },
    { s: { B: 2, Ci: 4, Co: 3, H: 7, W: 9, k: 3, mode: "up" }, groups: 2, silu: true, residual: false },
  ];
  for (const [i, { s, groups, silu, residual }] of cases.entries()) {
    const up = s.mode === "up";
    const [Ho, Wo] = up ? [2 * s.H, 2 * s.W] : [s.H, s.W];
    // an offset and spread per channel, so that the statistics and the affine transform matter
    const x = r.upload(randn(s.B * s.Ci * s.H * s.W, 1200 + i).map((v, j) => 3 + 2 * v + (j % 5)), [
      s.B,
      s.Ci,
      s.H,
      s.W,
    ]);
    const w = r.upload(randn(s.Co * s.Ci * 9, 1210 + i), [s.Co, s.Ci, 3, 3]);
    const b = r.upload(randn(s.Co, 1220 + i), [s.Co]);
    const gamma = r.upload(randn(s.Ci, 1230 + i).map((v) => 1 + 0.5 * v), [s.Ci]);
    const beta = r.upload(randn(s.Ci, 1240 + i), [s.Ci]);
    const add = residual
      ? { add: r.upload(randn(s.B * s.Co * Ho * Wo, 1250 + i), [s.B, s.Co, Ho, Wo]), scale: 0.7 }
      : undefined;
    const norm = { gamma, beta, opts: { groups, eps: 1e-5, silu, train: false } };
    const opts: Conv2dOptions = { up, k3Algorithm: "winograd", residual: add };
    const want = await conv2d(groupNorm(x, gamma, beta, norm.opts), w, b, opts).read();
    const profiler = new DispatchProfiler(r.device);
    r.profiler = profiler;
    await profiler.reset();
    const fused = conv2d(x, w, b, { ...opts, normalize: norm });
    await r.sync();
    r.profiler = null;
    const labels = (await profiler.totals()).map((t) => t.label);
    const what = `case ${i} ${JSON.stringify(s)}`;
    assert(!labels.some((l) => l.includes("normalize_chunks")), `${what}: a GroupNorm pass ran (${labels})`);
    assert(labels.some((l) => l.includes("wino_input")), `${what}: not through Winograd (${labels})`);
    const got = await fused.read();
    const e = relErr(got, want);
    assert(e < 1e-6, `${what}: fused vs GroupNorm then conv, relative error ${e}`);
    // With a tape recording, GroupNorm runs as its own pass and the gradient reaches gamma, beta and x
    for (const t of [x, gamma, beta]) t.requiresGrad = true;
    const { value, grads } = valueAndGrad(() => conv2d(x, w, b, { ...opts, normalize: norm }));
    assert(relErr(await value.read(), want) < 1e-6, `${what}: under a tape`);
    assert(grads.has(gamma) && grads.has(beta) && grads.has(x), `${what}: gradients missing`);
  }
});
