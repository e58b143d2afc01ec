import { createDataset, CwbDataset, resizeCubic, subsample } from "../../src/data/mod.ts";
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { maxAbsDiff } from "./fixtures.ts";
import { writeZarrStore, type ZarrArraySpec } from "./zarr_fixture.ts";

const T = 6, COUT = 3, CIN = 4, N = 9;
const CWB_VARS = ["maximum_radar_reflectivity", "temperature_2m", "eastward_wind_10m"];
const ERA5_VARS = ["temperature", "temperature", "eastward_wind", "northward_wind"];
const CWB_CENTER = [10, 290, 1], CWB_SCALE = [8, 4, 3];
const ERA5_CENTER = [250, 280, 0.5, -0.5], ERA5_SCALE = [5, 6, 2, 2.5];
// 12-hourly from 2020-12-31T00:00Z: samples 0-1 are in 2020, 2-5 in 2021.
const HOURS = Array.from({ length: T }, (_, t) => 12 * t);
const CWB_VALID = [1, 1, 0, 1, 1, 1];
const ERA5_BAD = { t: 4, c: 2 }; // era5_valid false for one channel of time 4

const cwbValue = (t: number, c: number, y: number, x: number) =>
  100 * t + 10 * c + y + 0.25 * x + 0.01 * y * x;
const era5Value = (t: number, c: number, y: number, x: number) => -50 * t + 7 * c + 0.5 * y - x;

function field(C: number, value: typeof cwbValue): Float32Array {
  const out = new Float32Array(T * C * N * N);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < N; y++) {
        for (let x = 0; x < N; x++) out[((t * C + c) * N + y) * N + x] = value(t, c, y, x);
      }
    }
  }
  return out;
}

function storeArrays(): Record<string, ZarrArraySpec> {
  const era5Valid = Array.from(
    { length: T * CIN },
    (_, i) => !(Math.floor(i / CIN) === ERA5_BAD.t && i % CIN === ERA5_BAD.c),
  );
  const lat = Float32Array.from({ length: N * N }, (_, i) => 21 + 0.1 * Math.floor(i / N));
  const lon = Float32Array.from({ length: N * N }, (_, i) => 119 + 0.1 * (i % N));
  return {
    cwb: { shape: [T, COUT, N, N], chunks: [1, COUT, 5, 5], dtype: "<f4", data: field(COUT, cwbValue) },
    era5: { shape: [T, CIN, N, N], chunks: [1, CIN, N, N], dtype: "<f4", data: field(CIN, era5Value) },
    cwb_center: { shape: [COUT], dtype: "<f4", data: CWB_CENTER },
    cwb_scale: { shape: [COUT], dtype: "<f4", data: CWB_SCALE },
    cwb_variable: { shape: [COUT], dtype: "<U26", data: CWB_VARS },
    cwb_pressure: { shape: [COUT], dtype: "<f8", data: [NaN, NaN, NaN] },
    cwb_valid: { shape: [T], dtype: "|i1", data: CWB_VALID },
    era5_center: { shape: [CIN], dtype: "<f4", data: ERA5_CENTER },
    era5_scale: { shape: [CIN], dtype: "<f4", data: ERA5_SCALE },
    era5_variable: { shape: [CIN], dtype: "<U19", data: ERA5_VARS },
    era5_pressure: { shape: [CIN], dtype: "<f8", data: [500, 850, NaN, NaN] },
    era5_valid: { shape: [T, CIN], dtype: "|b1", data: era5Valid },
    time: {
      shape: [T],
      dtype: "<i8",
      data: HOURS,
      attrs: { units: "hours since 2020-12-31 00:00:00", calendar: "proleptic_gregorian" },
    },
    XLAT: { shape: [N, N], dtype: "<f4", data: lat },
    XLONG: { shape: [N, N], dtype: "<f4", data: lon },
  };
}

async function withStore(
  opts: Parameters<typeof writeZarrStore>[2],
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await writeZarrStore(`${dir}/cwb.zarr`, storeArrays(), opts);
    await fn(`${dir}/cwb.zarr`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const base = {
  type: "cwb",
  in_channels: [0, 1, 3],
  out_channels: [0, 2],
  img_shape_x: 8,
  img_shape_y: 8,
  add_grid: true,
};

Deno.test("cwb: valid mask, year split, channel metadata and normalised, cropped items", async () => {
  await withStore({ compressor: "zlib", consolidated: true }, async (path) => {
    const ds = await createDataset({ ...base, data_path: path }) as CwbDataset;
    // Valid: cwb_valid drops t=2, era5_valid drops t=4; training keeps the years other than 2021: t=0, 1.
    assertEquals(ds.length, 2);
    assertEquals(ds.time().map((d) => d.toISOString()), [
      "2020-12-31T00:00:00.000Z",
      "2020-12-31T12:00:00.000Z",
    ]);
    assertEquals(ds.imageShape(), [8, 8]);
    assertEquals(ds.inputChannels().map((c) => [c.name, c.level]), [["temperature", "500.0"], [
      "temperature",
      "850.0",
    ], ["northward_wind", ""]]);
    assertEquals(ds.outputChannels().map((c) => c.name + c.level), [
      "maximum_radar_reflectivity",
      "eastward_wind_10m",
    ]);
    assertEquals(ds.latitude().shape, [9, 9], "full grid when training, as the reference");
    const item = await ds.item(1);
    assertEquals([item.target.length, item.input.length], [2 * 64, 3 * 64]);
    for (const [k, c] of [0, 2].entries()) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const want = Math.fround(
            Math.fround(Math.fround(cwbValue(1, c, y, x)) - CWB_CENTER[c]) / CWB_SCALE[c],
          );
          if (item.target[(k * 8 + y) * 8 + x] !== want) throw new Error(`target ${c} ${y} ${x}`);
        }
      }
    }
    for (const [k, c] of [0, 1, 3].entries()) {
      const want = Math.fround(
        Math.fround(Math.fround(era5Value(1, c, 7, 3)) - ERA5_CENTER[c]) / ERA5_SCALE[c],
      );
      assertEquals(item.input[(k * 8 + 7) * 8 + 3], want);
    }
    assert(
      maxAbsDiff(
        ds.denormalizeOutput(item.target),
        Float32Array.from({ length: 128 }, (_, i) => {
          const c = [0, 2][Math.floor(i / 64)], y = Math.floor(i / 8) % 8, x = i % 8;
          return cwbValue(1, c, y, x);
        }),
      ) < 1e-3,
      "denormalize",
    );

    const test = await createDataset({ ...base, data_path: path, train: false });
    assertEquals(test.time().map((d) => (d as Date).toISOString()), [
      "2021-01-01T12:00:00.000Z",
      "2021-01-02T12:00:00.000Z",
    ]);
    assertEquals(test.latitude().shape, [8, 8], "cropped for evaluation");
    const all = await createDataset({ ...base, data_path: path, all_times: true });
    assertEquals(all.length, 4);
  });
});

Deno.test("cwb: v2 normalisation and the ds_factor target degradation", async () => {
  await withStore({ compressor: null, consolidated: false }, async (path) => {
    const v1 = await createDataset({ ...base, data_path: path });
    const v2 = await createDataset({ ...base, data_path: path, normalization: "v2" });
    const [a, b] = [await v1.item(0), await v2.item(0)];
    // Radar: (x - 25) / 25; eastward wind: x / 20; the input is unaffected.
    assertEquals(b.target[5], Math.fround(Math.fround(Math.fround(cwbValue(0, 0, 0, 5)) - 25) / 25));
    assertEquals(b.target[64 + 9], Math.fround(Math.fround(cwbValue(0, 2, 1, 1)) / 20));
    assertEquals(maxAbsDiff(a.input, b.input), 0);

    const degraded = await createDataset({ ...base, data_path: path, ds_factor: 2 });
    const d = await degraded.item(0);
    // Normalise, keep every 2nd pixel (9 -> 5), cubic back to 10x10, crop to 8x8.
    const full = new Float32Array(2 * N * N);
    for (const [k, c] of [0, 2].entries()) {
      for (let i = 0; i < N * N; i++) {
        full[k * N * N + i] =
          Math.fround(Math.fround(cwbValue(0, c, Math.floor(i / N), i % N)) - CWB_CENTER[c]) / CWB_SCALE[c];
      }
    }
    const low = subsample(full, 2, N, N, 2);
    const up = resizeCubic(low.data, 2, 5, 5, 10, 10);
    const want = new Float32Array(128);
    for (let k = 0; k < 2; k++) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) want[(k * 8 + y) * 8 + x] = up[(k * 10 + y) * 10 + x];
      }
    }
    assert(maxAbsDiff(d.target, want) < 1e-6, "degraded target");
    assert(maxAbsDiff(d.target, a.target) > 1e-3, "degradation changes the target");
    assertEquals(maxAbsDiff(d.input, a.input), 0, "input untouched");
  });
});

Deno.test("cwb: bad stores and options give errors naming the store, array or key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(
      () => createDataset({ type: "cwb", data_path: `${dir}/none.zarr` }),
      undefined,
      `${dir}/none.zarr: no Zarr store here`,
    );
    const arrays = storeArrays();
    delete (arrays as Record<string, unknown>).era5_valid;
    await writeZarrStore(`${dir}/partial.zarr`, arrays);
    await assertRejects(
      () => createDataset({ ...base, data_path: `${dir}/partial.zarr` }),
      undefined,
      `${dir}/partial.zarr: no readable array 'era5_valid'`,
    );
    const shaped = storeArrays();
    shaped.cwb_valid = { shape: [T - 1], dtype: "|i1", data: CWB_VALID.slice(1) };
    await writeZarrStore(`${dir}/shape.zarr`, shaped);
    await assertRejects(
      () => createDataset({ ...base, data_path: `${dir}/shape.zarr` }),
      undefined,
      "invalid dataset shape: cwb_valid [5] must be [6]",
    );
    await writeZarrStore(`${dir}/ok.zarr`, storeArrays());
    const ok = `${dir}/ok.zarr`;
    await assertRejects(
      () => createDataset({ ...base, data_path: ok, in_channels: [0, 4] }),
      undefined,
      "in_channels [4] out of range; the store has 4 channels",
    );
    await assertRejects(
      () => createDataset({ ...base, data_path: ok, normalization: "v3" }),
      undefined,
      `'normalization' must be "v1" or "v2"`,
    );
    await assertRejects(
      () => createDataset({ ...base, data_path: ok, img_shape_x: 10 }),
      undefined,
      "img_shape_x x img_shape_y = 10x8 exceeds the 9x9 grid",
    );
    await assertRejects(
      () => createDataset({ ...base, data_path: ok, ds_factr: 2 }),
      undefined,
      "unknown option(s) 'ds_factr'",
    );
    const ds = await createDataset({ ...base, data_path: ok });
    await assertRejects(() => ds.item(2), undefined, "sample index 2 out of range [0, 2)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
