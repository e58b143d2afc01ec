import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { gradCheck, randn } from "../helpers/gradcheck.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import type { KernelProfile } from "../../src/gpu/device.ts";
import {
  broadcastBatch,
  concatChannels,
  gatherPixels,
  indexTensor,
  sliceChannels,
  tileBatch,
} from "../../src/ops/tensor_ops.ts";

const PROFILES: KernelProfile[] = ["cpu", "gpu"];

/** Value of a [B, C, H, W] host array at (b, c, y, x). */
const at = (a: Float32Array, s: number[], b: number, c: number, y: number, x: number) =>
  a[((b * s[1] + c) * s[2] + y) * s[3] + x];

function assertExact(actual: Float32Array, expected: ArrayLike<number>, what: string): void {
  assertEquals(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

// Few or long rows go by copy commands, many short ones by the copy kernel (vec4 or scalar).
const ROW_CASES = [[2, 4, 5], [10, 4, 5], [10, 3, 5], [2, 64, 64]];

Deno.test("concatChannels and sliceChannels move the right values (copies, vec4 and scalar kernels)", async () => {
  const r = await initRuntime();
  for (const [B, H, W] of ROW_CASES) {
    const shapes = [[B, 3, H, W], [B, 1, H, W], [B, 2, H, W]];
    const hosts = shapes.map((s, i) => randn(s.reduce((a, b) => a * b), 100 + i));
    const parts = hosts.map((h, i) => r.upload(h, shapes[i]));
    const expected: number[] = [];
    for (let b = 0; b < B; b++) {
      hosts.forEach((h, i) => {
        for (let c = 0; c < shapes[i][1]; c++) {
          for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) expected.push(at(h, shapes[i], b, c, y, x));
        }
      });
    }
    for (const profile of PROFILES) {
      const cat = concatChannels(parts, profile);
      assertEquals(cat.shape, [B, 6, H, W]);
      const host = await cat.read();
      assertExact(host, expected, `concat [${B},*,${H},${W}] ${profile}`);
      const sl = sliceChannels(cat, 2, 3, profile);
      assertEquals(sl.shape, [B, 3, H, W]);
      const want: number[] = [];
      for (let b = 0; b < B; b++) {
        for (let c = 2; c < 5; c++) {
          for (let y = 0; y < H; y++) {
            for (let x = 0; x < W; x++) want.push(at(host, cat.shape as number[], b, c, y, x));
          }
        }
      }
      assertExact(await sl.read(), want, `slice [${B},*,${H},${W}] ${profile}`);
      cat.release();
      sl.release();
    }
    parts.forEach((t) => t.release());
  }
});

Deno.test("broadcastBatch and tileBatch repeat samples b-major", async () => {
  const r = await initRuntime();
  for (const profile of PROFILES) {
    const grid = randn(3 * 2 * 5, 7);
    for (const shape of [[3, 2, 5], [1, 3, 2, 5]]) {
      const y = broadcastBatch(r.upload(grid, shape), 4, profile);
      assertEquals(y.shape, [4, 3, 2, 5]);
      assertExact(await y.read(), [...grid, ...grid, ...grid, ...grid], `broadcast [${shape}] ${profile}`);
    }
    const P = 3, inner = 2 * 4 * 3;
    const xs = randn(P * inner, 8);
    for (const times of [5, 12]) {
      const t = tileBatch(r.upload(xs, [P, 2, 4, 3]), times, profile);
      assertEquals(t.shape, [P * times, 2, 4, 3]);
      const want = new Float32Array(P * times * inner);
      for (let i = 0; i < P * times; i++) {
        want.set(xs.subarray((i % P) * inner, (i % P + 1) * inner), i * inner);
      }
      assertExact(await t.read(), want, `tile x${times} ${profile}`);
    }
  }
  assertThrows(() => broadcastBatch(r.upload(randn(8, 1), [2, 1, 2, 2]), 3), Error, "[1, C, H, W]");
  assertThrows(() => tileBatch(r.upload(randn(8, 1), [2, 4]), 0), Error, "positive integer");
  assertThrows(() => sliceChannels(r.upload(randn(8, 1), [1, 2, 2, 2]), 1, 2), Error, "outside");
  assertThrows(
    () => concatChannels([r.upload(randn(8, 1), [1, 2, 2, 2]), r.upload(randn(8, 1), [2, 1, 2, 2])]),
    Error,
    "part 1",
  );
});

/** A patch index [P, 2, Hp, Wp]: windows at random corners, a reflected border, one row out of range. */
function patchIndex(P: number, Hp: number, Wp: number, H: number, W: number): number[] {
  const idx: number[] = [];
  for (let p = 0; p < P; p++) {
    const py = (p * 5) % (H - Hp + 1), px = (p * 3) % (W - Wp + 1);
    const rows: number[] = [], cols: number[] = [];
    for (let y = 0; y < Hp; y++) {
      for (let x = 0; x < Wp; x++) {
        // Patch 0 reflects its first row (as padded grid patches do); the last patch has a pixel off the grid.
        rows.push(p === 0 && y === 0 ? py + 1 : p === P - 1 && y === 0 && x === 0 ? H : py + y);
        cols.push(px + x);
      }
    }
    idx.push(...rows, ...cols);
  }
  return idx;
}

Deno.test("gatherPixels gathers grid pixels per patch and zeros outside the grid", async () => {
  const r = await initRuntime();
  const [C, H, W, P, Hp, Wp] = [3, 7, 9, 4, 3, 4];
  const grid = randn(C * H * W, 9);
  const idx = patchIndex(P, Hp, Wp, H, W);
  const y = gatherPixels(r.upload(grid, [C, H, W]), indexTensor(idx, [P, 2, Hp, Wp]));
  assertEquals(y.shape, [P, C, Hp, Wp]);
  const want: number[] = [];
  for (let p = 0; p < P; p++) {
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < Hp * Wp; k++) {
        const row = idx[(2 * p) * Hp * Wp + k], col = idx[(2 * p + 1) * Hp * Wp + k];
        want.push(row < H && col < W ? grid[(c * H + row) * W + col] : 0);
      }
    }
  }
  assertExact(await y.read(), want, "gather");
  assertThrows(() => indexTensor([1.5], [1]), Error, "not an integer");
  assertThrows(() => indexTensor([2 ** 25], [1]), Error, "2^24");
  assertThrows(
    () => gatherPixels(r.upload(grid, [C, H, W]), indexTensor([0, 0], [1, 2, 1, 1]).reshape([1, 1, 1, 2])),
    Error,
    "[P, 2, Hp, Wp]",
  );
});

Deno.test("data movement gradients match finite differences", async () => {
  let seed = 60;
  const data = (shape: number[]) => ({ data: randn(shape.reduce((a, b) => a * b), seed++), shape });
  for (const profile of PROFILES) {
    const checks: [string, number][] = [
      [
        "concat",
        await gradCheck((xs) => concatChannels(xs, profile), [
          data([2, 2, 3, 5]),
          data([2, 1, 3, 5]),
          data([2, 3, 3, 5]),
        ]),
      ],
      [
        "concat kernel",
        await gradCheck((xs) => concatChannels(xs, profile), [data([9, 1, 2, 2]), data([9, 2, 2, 2])]),
      ],
      ["slice", await gradCheck(([x]) => sliceChannels(x, 1, 2, profile), [data([2, 4, 3, 3])])],
      ["slice vec4", await gradCheck(([x]) => sliceChannels(x, 2, 1, profile), [data([3, 3, 2, 4])])],
      ["broadcast", await gradCheck(([x]) => broadcastBatch(x, 3, profile), [data([2, 3, 3])])],
      ["tile", await gradCheck(([x]) => tileBatch(x, 3, profile), [data([2, 2, 2, 3])])],
      ["tile kernel", await gradCheck(([x]) => tileBatch(x, 10, profile), [data([2, 1, 1, 3])])],
    ];
    for (const [what, worst] of checks) assert(worst <= 1, `${what} ${profile}: ratio ${worst}`);
  }
  // Repeated indices (patch 0's reflected row, and patches overlapping) must accumulate.
  const [C, H, W, P, Hp, Wp] = [2, 6, 7, 3, 3, 3];
  const worst = await gradCheck(([g, i]) => gatherPixels(g, i), [
    data([C, H, W]),
    { data: new Float32Array(patchIndex(P, Hp, Wp, H, W)), shape: [P, 2, Hp, Wp], grad: false },
  ], { samples: 84 });
  assert(worst <= 1, `gather: ratio ${worst}`);
});
