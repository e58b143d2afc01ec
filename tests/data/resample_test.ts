import {
  blockMean,
  ChannelNormalization,
  cropWindow,
  decodeCfTimes,
  resizeCubic,
  subsample,
  unpackCf,
  upsampleBilinearExtrapolate,
} from "../../src/data/mod.ts";
import { Rng } from "../../src/util/rng.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../helpers/assert.ts";
import { maxAbsDiff } from "./fixtures.ts";

function randomField(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => 280 + 5 * rng.normal());
}

Deno.test("bilinear up-sampling matches the textbook formula with extrapolated edge weights", () => {
  const C = 2, h = 5, w = 7, f = 3;
  const x = randomField(C * h * w, 1);
  const y = upsampleBilinearExtrapolate(x, C, h, w, f);
  for (let k = 0; k < C; k++) {
    for (let r = 0; r < h * f; r++) {
      for (let c = 0; c < w * f; c++) {
        const sr = (r + 0.5) / f - 0.5, sc = (c + 0.5) / f - 0.5;
        const r0 = Math.min(Math.max(Math.floor(sr), 0), h - 2),
          c0 = Math.min(Math.max(Math.floor(sc), 0), w - 2);
        const at = (i: number, j: number) => x[(k * h + i) * w + j];
        const top = at(r0, c0) + (sc - c0) * (at(r0, c0 + 1) - at(r0, c0));
        const bot = at(r0 + 1, c0) + (sc - c0) * (at(r0 + 1, c0 + 1) - at(r0 + 1, c0));
        const want = top + (sr - r0) * (bot - top);
        assertAlmostEquals(y[(k * h * f + r) * w * f + c], want, 1e-4);
      }
    }
  }
  // The corner output pixel lies outside the corner input centre: weights -1/3 in both directions extrapolate.
  const [x00, x01, x10, x11] = [x[0], x[1], x[w], x[w + 1]];
  const corner = x00 - (x01 - x00) / 3 - (x10 - x00) / 3 + (x11 - x10 - x01 + x00) / 9;
  assertAlmostEquals(y[0], corner, 1e-4);
  assertThrows(() => upsampleBilinearExtrapolate(new Float32Array(3), 1, 1, 3, 2), undefined, "at least 2x2");
  assertThrows(() => upsampleBilinearExtrapolate(x, C, h, w, 1.5), undefined, "positive integer");
});

Deno.test("cubic resize: identity at scale 1, pixel-centre alignment, replicated edges", () => {
  const x = randomField(6 * 9, 2);
  assertEquals(maxAbsDiff(resizeCubic(x, 1, 6, 9, 6, 9), x), 0);
  // Keys' a = -0.5 kernel reproduces straight lines, so away from the edges the output must be the line
  // at each output pixel's centre (the a = -0.75 default is checked against PyTorch in real_data_test).
  const h = 6, w = 8, f = 4;
  const line = Float32Array.from({ length: h * w }, (_, i) => 3 * Math.floor(i / w) - 2 * (i % w));
  const y = resizeCubic(line, 1, h, w, h * f, w * f, -0.5);
  for (let r = 2 * f; r < (h - 2) * f; r++) {
    for (let c = 2 * f; c < (w - 2) * f; c++) {
      const want = 3 * ((r + 0.5) / f - 0.5) - 2 * ((c + 0.5) / f - 0.5);
      assertAlmostEquals(y[r * w * f + c], want, 1e-4);
    }
  }
  // A constant stays constant everywhere (weights sum to one, edges replicate).
  const flat = resizeCubic(new Float32Array(12).fill(7), 1, 3, 4, 9, 12);
  assert(flat.every((v) => Math.abs(v - 7) < 1e-5), "constant preserved");
});

Deno.test("block mean, strided sub-sampling and window crops", () => {
  const x = Float32Array.from({ length: 2 * 4 * 6 }, (_, i) => i);
  assertEquals(Array.from(blockMean(x, 2, 4, 6, 2)), [
    3.5,
    5.5,
    7.5,
    15.5,
    17.5,
    19.5,
    27.5,
    29.5,
    31.5,
    39.5,
    41.5,
    43.5,
  ]);
  const s = subsample(x, 2, 4, 6, 4);
  assertEquals([s.h, s.w, Array.from(s.data)], [1, 2, [0, 4, 24, 28]]);
  assertEquals(Array.from(cropWindow(x, 2, 4, 6, 1, 2, 2, 3)), [
    8,
    9,
    10,
    14,
    15,
    16,
    32,
    33,
    34,
    38,
    39,
    40,
  ]);
  assertThrows(
    () => cropWindow(x, 2, 4, 6, 3, 0, 2, 2),
    undefined,
    "window 2x2 at (3, 0) does not fit in 4x6",
  );
  assertThrows(() => blockMean(x, 2, 4, 6, 4), undefined, "not divisible");
});

Deno.test("channel normalisation: float32 arithmetic, batches of (N, C, plane), selection", () => {
  const norm = new ChannelNormalization([280.6135, -1], [2.3156, 0.5], ["t", "u"], "test");
  const x = Float32Array.of(281.25, 279.5, 0, 1, 282, 280, 2, -3); // N = 2, C = 2, plane = 2
  const y = norm.normalize(x, 2);
  const m = Math.fround(280.6135), s = Math.fround(2.3156);
  assertEquals(y[0], Math.fround(Math.fround(281.25 - m) / s));
  assertEquals(y[4], Math.fround(Math.fround(282 - m) / s), "second sample uses channel 0 again");
  assertEquals(Array.from(y.subarray(2, 4)), [2, 4]);
  assert(maxAbsDiff(norm.denormalize(y, 2), x) < 1e-4, "round trip");
  assertEquals(Array.from(norm.select([1]).normalize(Float32Array.of(0), 1)), [2]);
  assertThrows(() => norm.normalize(new Float32Array(6), 2), undefined, "array of 6 values is not (N, 2, 2)");
  assertThrows(
    () => new ChannelNormalization([0], [-1], ["t"], "stats.json"),
    undefined,
    "stats.json: std of 't' is -1",
  );
});

Deno.test("CF times: units, reference dates with zones, int64 nanoseconds; only Gregorian calendars", () => {
  const iso = (d: Date[]) => d.map((x) => x.toISOString());
  assertEquals(iso(decodeCfTimes([430944, 430945.5], "hours since 1970-01-01 00:00:00", "standard", "f")), [
    "2019-03-01T00:00:00.000Z",
    "2019-03-01T01:30:00.000Z",
  ]);
  assertEquals(iso(decodeCfTimes([24584565], "minutes since 1970-01-01", undefined, "f")), [
    "2016-09-28T14:45:00.000Z",
  ]);
  assertEquals(iso(decodeCfTimes([1], "days since 2000-02-28T12:00:00+02:00", "proleptic_gregorian", "f")), [
    "2000-02-29T10:00:00.000Z",
  ]);
  assertEquals(
    iso(
      decodeCfTimes(BigInt64Array.of(1475073900123456789n), "nanoseconds since 1970-01-01", "gregorian", "f"),
    ),
    [
      "2016-09-28T14:45:00.123Z",
    ],
  );
  assertThrows(
    () => decodeCfTimes([0], "hours since 2000-01-01", "noleap", "x.nc: variable 'time'"),
    undefined,
    "x.nc: variable 'time': calendar 'noleap' is not supported",
  );
  assertThrows(
    () => decodeCfTimes([0], "fortnights since 2000-01-01", "standard", "f"),
    undefined,
    "unknown time unit 'fortnights'",
  );
  assertThrows(() => decodeCfTimes([0], "hours", "standard", "f"), undefined, "'<unit> since <date>'");
});

Deno.test("CF unpacking: fill values become NaN, scale and offset apply", () => {
  const packed = Int16Array.of(0, 100, -32767);
  const out = unpackCf(packed, { scale_factor: 0.5, add_offset: 10, _FillValue: -32767 }, "f");
  assertEquals([out[0], out[1], Number.isNaN(out[2])], [10, 60, true]);
  const plain = Float32Array.of(1, 2);
  assert(unpackCf(plain, { units: "K" }, "f") === plain, "plain float32 is passed through");
  const masked = unpackCf(Float32Array.of(1, 1e20), { missing_value: 1e20 }, "f");
  assert(masked instanceof Float32Array && Number.isNaN(masked[1]) && masked[0] === 1, "float32 fill");
});
