/** Damaged CWB Zarr stores: a short chunk and NaN values are errors naming the store, array and place. */
import { CwbDataset } from "../../src/data/cwb.ts";
import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { writeZarrStore, type ZarrArraySpec } from "./zarr_fixture.ts";

const T = 2, C = 2, N = 4;

function arrays(era5: Float32Array): Record<string, ZarrArraySpec> {
  const vec = (data: number[] | string[], dtype: ZarrArraySpec["dtype"]) => ({
    shape: [data.length],
    dtype,
    data,
  });
  return {
    cwb: {
      shape: [T, C, N, N],
      chunks: [1, C, N, N],
      dtype: "<f4",
      data: new Float32Array(T * C * N * N).fill(1),
    },
    era5: { shape: [T, C, N, N], chunks: [1, C, N, N], dtype: "<f4", data: era5 },
    cwb_center: vec([0, 0], "<f4"),
    cwb_scale: vec([1, 1], "<f4"),
    cwb_variable: vec(["t2m", "u10m"], "<U8"),
    cwb_pressure: vec([NaN, NaN], "<f8"),
    cwb_valid: vec([1, 1], "|i1"),
    era5_center: vec([0, 0], "<f4"),
    era5_scale: vec([1, 1], "<f4"),
    era5_variable: vec(["t", "u"], "<U8"),
    era5_pressure: vec([500, NaN], "<f8"),
    era5_valid: { shape: [T, C], dtype: "|b1", data: [true, true, true, true] },
    time: { shape: [T], dtype: "<i8", data: [0, 6], attrs: { units: "hours since 2019-01-01 00:00:00" } },
    XLAT: { shape: [N, N], dtype: "<f4", data: new Float32Array(N * N) },
    XLONG: { shape: [N, N], dtype: "<f4", data: new Float32Array(N * N) },
  };
}

const open = (path: string) =>
  CwbDataset.open({
    dataPath: path,
    allTimes: true,
    inChannels: [0, 1],
    outChannels: [0, 1],
    imgShapeX: N,
    imgShapeY: N,
  });

Deno.test("cwb: a truncated chunk and NaN inputs are errors, not zeros or NaN samples", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corrdiff_zarr_" });
  try {
    for (const compressor of [null, "zlib"] as const) {
      const store = `${dir}/short_${compressor}.zarr`;
      // Varied values: half of a zlib stream of constants can still inflate to the whole chunk.
      const era5 = Float32Array.from({ length: T * C * N * N }, (_, i) => 2 + ((i * 7919) % 101) / 7);
      await writeZarrStore(store, arrays(era5), { compressor });
      const chunk = await Deno.readFile(`${store}/era5/1.0.0.0`);
      await Deno.writeFile(`${store}/era5/1.0.0.0`, chunk.slice(0, chunk.length >> 1));
      const ds = await open(store);
      assertEquals((await ds.item(0)).input[0], 2);
      const e = await assertRejects(() => ds.item(1));
      const why = compressor === null
        ? "chunk 1.0.0.0 holds 16 values, its shape [1,2,4,4] needs 32 (truncated or damaged)"
        : 'Failed to decode chunk via codec "numcodecs.zlib": zlib chunk does not inflate (unexpected end of file): ' +
          "truncated or damaged";
      assertEquals(e.message, `${store}: cannot read 'era5' at time index 1: ${why}`);
    }
    const era5 = new Float32Array(T * C * N * N).fill(2);
    era5.fill(NaN, 3 * N * N, 3 * N * N + 3); // time 1, channel 1
    await writeZarrStore(`${dir}/nan.zarr`, arrays(era5));
    const ds = await open(`${dir}/nan.zarr`);
    const e = await assertRejects(() => ds.item(1));
    assertEquals(
      e.message,
      `${dir}/nan.zarr: array 'era5' has 3 NaN/infinite value(s) at time index 1 (2019-01-01T06:00:00.000Z), channel 1 (u)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
