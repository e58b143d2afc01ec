/**
 * SongUNetPosLtEmbd: the lead-time rows and probability channels against host computations and finite
 * differences, the whole network against a plain SongUNet fed the same appended channels (full domain
 * and patches by global_index), and its checkpoints.
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../helpers/assert.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { mulChannels } from "../../src/ops/elementwise.ts";
import { indexTensor } from "../../src/ops/tensor_ops.ts";
import { leadTimePatches, probabilityChannels, selectLeadTime } from "../../src/nn/lead_time.ts";
import { SongUNet, type SongUNetKwargs } from "../../src/nn/songunet.ts";
import { positionalGrid } from "../../src/nn/embedding.ts";
import { CorrDiffRegressionUNet } from "../../src/nn/wrappers.ts";
import { loadNetwork, saveNetwork } from "../../src/nn/checkpoint.ts";

Deno.test("lead-time rows: each label's row of lt_embd (truncated, negative from the end), out of range refused", async () => {
  const r = await initRuntime();
  const [S, C, H, W] = [3, 2, 4, 4], n = C * H * W;
  const lt = randn(S * n, 1);
  const got = await r.scope(() => selectLeadTime(r.upload(lt, [S, C, H, W]), [2, 0, -1, 1.7])).read();
  [2, 0, 2, 1].forEach((k, b) =>
    assertEquals([...got.subarray(b * n, (b + 1) * n)], [...lt.subarray(k * n, (k + 1) * n)])
  );
  for (const bad of [3, -4, NaN]) {
    assertThrows(
      () => r.scope(() => selectLeadTime(r.upload(lt, [S, C, H, W]), [0, bad])),
      Error,
      `lead_time_label[1] = ${bad} is outside the 3 lead-time steps`,
    );
  }
});

Deno.test("lead-time patches are cut from each sample's row, b-major", async () => {
  const r = await initRuntime();
  const [S, C, H, W] = [3, 3, 6, 8];
  const rows = randn(S * C * H * W, 2);
  const labels = [2, 0], B = labels.length;
  // two 2x3 patches at (1, 2) and (3, 4)
  const corners = [[1, 2], [3, 4]], [Hp, Wp] = [2, 3];
  const index: number[] = [];
  for (const [y0, x0] of corners) {
    for (let y = 0; y < Hp; y++) for (let x = 0; x < Wp; x++) index.push(y0 + y);
    for (let y = 0; y < Hp; y++) for (let x = 0; x < Wp; x++) index.push(x0 + x);
  }
  const got = await r.scope(() =>
    leadTimePatches(r.upload(rows, [S, C, H, W]), labels, indexTensor(index, [2, 2, Hp, Wp]))
  ).read();
  let i = 0;
  for (let b = 0; b < B; b++) {
    for (const [y0, x0] of corners) {
      for (let c = 0; c < C; c++) {
        for (let y = 0; y < Hp; y++) {
          for (let x = 0; x < Wp; x++) {
            const k = labels[b];
            assertEquals(got[i++], rows[((k * C + c) * H + y0 + y) * W + x0 + x], `b ${b} patch ${y0},${x0}`);
          }
        }
      }
    }
  }
});

Deno.test("probability channels: logits times scalar in training, their softmax in eval; other channels pass", async () => {
  const r = await initRuntime();
  const [B, C, HW] = [2, 3, 4];
  const y = randn(B * C * HW, 3), s = [2, 0.5];
  const prob = [2, 0];
  for (const train of [true, false]) {
    const got = await r.scope(() =>
      probabilityChannels(r.upload(y, [B, C, 2, 2]), prob, r.upload(new Float32Array(s), [1, 2, 1, 1]), train)
    ).read();
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < HW; p++) {
        const at = (c: number) => (b * C + c) * HW + p;
        assertEquals(got[at(1)], y[at(1)]);
        const z = prob.map((c, k) => y[at(c)] * s[k]);
        const e = z.map(Math.exp), sum = e[0] + e[1];
        prob.forEach((c, k) => assertAlmostEquals(got[at(c)], train ? z[k] : e[k] / sum, 1e-6));
      }
    }
  }
});

Deno.test("gradients of the lead-time rows, mulChannels and the probability channels match finite differences", async () => {
  const lt = { data: randn(3 * 2 * 3 * 3, 4), shape: [3, 2, 3, 3] };
  // a repeated label: its row's gradient sums both samples'
  assert(await gradCheck(([t]) => selectLeadTime(t, [1, 2, 1]), [lt]) <= 1);
  const y = { data: randn(2 * 3 * 2 * 2, 5), shape: [2, 3, 2, 2] };
  const s = { data: new Float32Array([1.5, -0.7]), shape: [1, 2, 1, 1] };
  const s3 = { data: new Float32Array([1.5, -0.7, 0.3]), shape: [3] };
  assert(await gradCheck(([x, k]) => mulChannels(x, k), [y, s3]) <= 1);
  for (const train of [true, false]) {
    assert(
      await gradCheck(([x, k]) => probabilityChannels(x, [2, 0], k, train), [y, s]) <= 1,
      `train ${train}`,
    );
  }
});

const KW = {
  img_resolution: [16, 16] as [number, number],
  out_channels: 2,
  model_channels: 8,
  channel_mult: [1, 2],
  num_blocks: 1,
  attn_resolutions: [8],
  dropout: 0,
};

/** A SongUNetPosLtEmbd and a plain SongUNet with the same weights, taking the grid and lead-time rows as input. */
async function twins(extra: Partial<SongUNetKwargs> = {}) {
  const lt = new SongUNet({
    ...KW,
    in_channels: 3 + 4 + 3,
    N_grid_channels: 4,
    lead_time_channels: 3,
    lead_time_steps: 5,
    ...extra,
  }, {
    posEmbd: true,
    leadTime: true,
    seed: 11,
  });
  const plain = new SongUNet({ ...KW, in_channels: 3 + 4 + 3 }, { posEmbd: false, seed: 12 });
  const state = await lt.ps.stateDict();
  const ltEmbd = state.get("lt_embd")!.data;
  const dir = await Deno.makeTempDir();
  try {
    await lt.ps.save(`${dir}/w.safetensors`);
    plain.ps.load(`${dir}/w.safetensors`, { strict: false });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return { lt, plain, ltEmbd };
}

Deno.test("SongUNetPosLtEmbd equals a SongUNet fed [x, grid, lt_embd[label]]: full domain and patches by global_index", async () => {
  const r = await initRuntime();
  const { lt, plain, ltEmbd } = await twins();
  const [H, W, n] = [16, 16, 3 * 16 * 16];
  const grid = positionalGrid("sinusoidal", 4, H, W);
  const labels = [4, 1];
  const x = randn(2 * 3 * H * W, 6);
  const noise = new Float32Array([0.3, -1.2]);
  // host input: per sample, x, the grid and its lead-time row
  const full = new Float32Array(2 * 10 * H * W);
  labels.forEach((k, b) => {
    full.set(x.subarray(b * n, (b + 1) * n), b * 10 * H * W);
    full.set(grid, (b * 10 + 3) * H * W);
    full.set(ltEmbd.subarray(k * n, (k + 1) * n), (b * 10 + 7) * H * W);
  });
  const eval_ = { mode: { train: false } };
  const a = await r.scope(() =>
    lt.forward(r.upload(x, [2, 3, H, W]), noise, { ...eval_, leadTimeLabel: labels })
  ).read();
  const b = await r.scope(() => plain.forward(r.upload(full, [2, 10, H, W]), noise, eval_)).read();
  assertEquals([...a], [...b]);
  // patches: two 8x8 patches of each sample, b-major (batch index b * 2 + p)
  const corners = [[0, 8], [8, 2]];
  const cut = (src: Float32Array, C: number) => {
    const out = new Float32Array(4 * C * 64);
    let i = 0;
    for (let s = 0; s < 2; s++) {
      for (const [y0, x0] of corners) {
        for (let c = 0; c < C; c++) {
          for (let y = 0; y < 8; y++) {
            for (let xx = 0; xx < 8; xx++) out[i++] = src[((s * C + c) * H + y0 + y) * W + x0 + xx];
          }
        }
      }
    }
    return out;
  };
  const index: number[] = [];
  for (const [y0, x0] of corners) {
    for (let y = 0; y < 8; y++) for (let xx = 0; xx < 8; xx++) index.push(y0 + y);
    for (let y = 0; y < 8; y++) for (let xx = 0; xx < 8; xx++) index.push(x0 + xx);
  }
  const noise4 = new Float32Array([0.3, 0.3, -1.2, -1.2]);
  const pa = await r.scope(() =>
    lt.forward(r.upload(cut(x, 3), [4, 3, 8, 8]), noise4, {
      ...eval_,
      leadTimeLabel: labels,
      globalIndex: indexTensor(index, [2, 2, 8, 8]),
    })
  ).read();
  const pb = await r.scope(() => plain.forward(r.upload(cut(full, 10), [4, 10, 8, 8]), noise4, eval_)).read();
  assertEquals([...pa], [...pb]);
  assertThrows(
    () => r.scope(() => lt.forward(r.upload(x, [2, 3, H, W]), noise, eval_)),
    Error,
    "lead_time_label must be given",
  );
  assertThrows(
    () => r.scope(() => lt.forward(r.upload(x, [2, 3, H, W]), noise, { ...eval_, leadTimeLabel: [1] })),
    Error,
    "1 lead-time labels for 2 samples",
  );
  for (const net of [lt, plain]) net.ps.dispose();
});

Deno.test("SongUNetPosLtEmbd's probability channels are the softmax of the plain network's output in eval", async () => {
  const r = await initRuntime();
  const { lt, plain, ltEmbd } = await twins({ prob_channels: [1, 0] });
  assertEquals((await lt.ps.stateDict()).get("scalar")!.shape, [1, 2, 1, 1]);
  const n = 3 * 256;
  const x = randn(n, 7);
  const full = new Float32Array(10 * 256);
  full.set(x);
  full.set(positionalGrid("sinusoidal", 4, 16, 16), 3 * 256);
  full.set(ltEmbd.subarray(2 * n, 3 * n), 7 * 256);
  const noise = new Float32Array([0.5]);
  const got = await r.scope(() =>
    lt.forward(r.upload(x, [1, 3, 16, 16]), noise, { mode: { train: false }, leadTimeLabel: [2] })
  ).read();
  const raw = await r.scope(() =>
    plain.forward(r.upload(full, [1, 10, 16, 16]), noise, { mode: { train: false } })
  ).read();
  for (let p = 0; p < 256; p++) {
    const e0 = Math.exp(raw[p]), e1 = Math.exp(raw[256 + p]);
    assertAlmostEquals(got[p], e0 / (e0 + e1), 1e-6);
    assertAlmostEquals(got[256 + p], e1 / (e0 + e1), 1e-6);
  }
  for (const net of [lt, plain]) net.ps.dispose();
});

Deno.test("a lead-time regression network round-trips through saveNetwork/loadNetwork; lead-time keys need SongUNetPosLtEmbd", async () => {
  const r = await initRuntime();
  const { out_channels, ...unet } = KW;
  const kw = {
    ...unet,
    img_in_channels: 3 + 4 + 2, // as the reference's wrappers count them: with the grid and lead-time channels
    img_out_channels: out_channels,
    embedding_type: "zero" as const,
    model_type: "SongUNetPosLtEmbd" as const,
    lead_time_channels: 2,
    lead_time_steps: 4,
  };
  const a = new CorrDiffRegressionUNet(kw, 3);
  const dir = await Deno.makeTempDir();
  try {
    await saveNetwork(a, `${dir}/net.safetensors`);
    const b = loadNetwork(`${dir}/net.safetensors`);
    assertEquals(b.className, "CorrDiffRegressionUNet");
    const x = r.upload(new Float32Array(2 * 2 * 256), [2, 2, 16, 16]);
    const lr = r.upload(randn(2 * 3 * 256, 8), [2, 3, 16, 16]);
    const ya = await a.forward(x, lr, { train: false }, { leadTimeLabel: [3, 0] }).read();
    const yb = await (b.net as CorrDiffRegressionUNet).forward(x, lr, { train: false }, {
      leadTimeLabel: [3, 0],
    }).read();
    assertEquals([...ya], [...yb]);
    const yc = await a.forward(x, lr, { train: false }, { leadTimeLabel: [0, 0] }).read();
    assert(ya.some((v, i) => i < 512 && v !== yc[i]), "the label changes the output");
    assertEquals([...ya.subarray(512)], [...yc.subarray(512)]);
    b.net.ps.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
    a.ps.dispose();
  }
  assertThrows(
    () => new CorrDiffRegressionUNet({ ...kw, model_type: "SongUNetPosEmbd" }),
    Error,
    "lead_time_channels is only allowed with model_type SongUNetPosLtEmbd",
  );
  assertThrows(
    () => new CorrDiffRegressionUNet({ ...kw, lead_time_channels: 0 }),
    Error,
    "lead_time_channels must be a positive integer",
  );
});
