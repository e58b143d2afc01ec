import h5wasm from "h5wasm/node";
import { openNetCDF } from "../../src/io/netcdf_read.ts";
import { writeNetCDF4 } from "../../src/io/netcdf_write.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { encodeNetCDF3 } from "./nc3_fixture.ts";
import { sharedDataTest } from "../helpers/shared.ts";
import { NCC, NCC_T, writeNetcdfCFixture } from "./netcdf_c_fixture.ts";

Deno.test("NetCDF4: groups, dimensions, variables, attributes and values round-trip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/a.nc`;
    const field = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 0.5 - 3);
    await writeNetCDF4(path, {
      attrs: { title: "round trip", factor: 4, window: [1, 2] },
      dims: { time: 2 },
      vars: [{
        name: "time",
        dims: ["time"],
        data: BigInt64Array.of(10n, 11n),
        attrs: { units: "hours since 1970-01-01" },
      }],
      groups: {
        g: {
          dims: { y: 3, x: 4 },
          vars: [
            { name: "f", dims: ["time", "y", "x"], data: field, attrs: { units: "K" } },
            { name: "d", dims: ["x"], data: Float64Array.of(1e-300, 2, 3, 4) },
            { name: "i", dims: ["y"], data: Int32Array.of(-7, 0, 7) },
          ],
          groups: { inner: { vars: [{ name: "z", dims: ["y"], data: Float32Array.of(1, 2, 3) }] } },
        },
      },
    });
    const f = await openNetCDF(path);
    try {
      assertEquals(f.format, "netcdf4");
      assertEquals(f.attrs, { title: "round trip", factor: 4, window: [1, 2] });
      assertEquals(f.group("").groups, ["g"]);
      assertEquals(f.group("g").dims, { y: 3, x: 4 });
      assertEquals(f.group("/g/").variables, ["f", "d", "i"]);
      assertEquals(f.group("g/inner").variables, ["z"]);
      const v = f.variable("g/f");
      assertEquals([v.dims, v.shape, v.dtype, v.attrs], [["time", "y", "x"], [2, 3, 4], "float32", {
        units: "K",
      }]);
      assertEquals(f.variable("time").dims, ["time"], "a coordinate variable is its own dimension");
      assertEquals(Array.from(f.read("g/f") as Float32Array), Array.from(field));
      assertEquals(Array.from(f.read("/g/d") as Float64Array), [1e-300, 2, 3, 4]);
      assertEquals(Array.from(f.read("g/i") as Int32Array), [-7, 0, 7]);
      assertEquals(Array.from(f.read("g/inner/z") as Float32Array), [1, 2, 3]);
      const t = f.read("time");
      assert(t instanceof BigInt64Array && t[1] === 11n, "int64 stays exact");
      assertThrows(
        () => f.variable("g/missing"),
        undefined,
        `${path}: no variable 'g/missing' (group 'g' has: f, d, i)`,
      );
      assertThrows(() => f.variable("nogroup/x"), undefined, `${path}: no group 'nogroup'`);
      assertThrows(() => f.group("nogroup"), undefined, `${path}: no group 'nogroup'`);
    } finally {
      f.close();
    }
    assertThrows(() => f.read("g/f"), undefined, "file is closed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NetCDF4: a plain HDF5 file (no dimension scales) gets phony dimension names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/plain.h5`;
    await h5wasm.ready;
    const h5 = new h5wasm.File(path, "w");
    const g = h5.create_group("grp");
    g.create_dataset({ name: "m", data: Float64Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] });
    g.create_attribute("note", "hello");
    h5.close();
    const f = await openNetCDF(path);
    assertEquals(f.variable("grp/m").dims, ["phony_dim_0", "phony_dim_1"]);
    assertEquals(f.group("grp").attrs, { note: "hello" });
    assertEquals(Array.from(f.read("grp/m") as Float64Array), [1, 2, 3, 4, 5, 6]);
    f.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NetCDF3 classic and 64-bit offset: header, record and fixed variables decode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const version of [1, 2] as const) {
      const path = `${dir}/c${version}.nc`;
      await Deno.writeFile(
        path,
        encodeNetCDF3({
          version,
          numRecs: 3,
          dims: [["t", null], ["y", 2], ["x", 3], ["len", 5]],
          attrs: { title: "classic", scale: 2.5, ints: [1, 2, 3] },
          vars: [
            {
              name: "fixed",
              dims: ["y", "x"],
              type: "double",
              data: [1, 2, 3, 4, 5, 6.5],
              attrs: { units: "m" },
            },
            { name: "b", dims: ["x"], type: "byte", data: [-1, 0, 127] },
            { name: "rec_f", dims: ["t", "x"], type: "float", data: [0, 1, 2, 10, 11, 12, 20, 21, 22] },
            { name: "rec_s", dims: ["t"], type: "short", data: [-5, 6, -7] },
            { name: "label", dims: ["y", "len"], type: "char", data: "abc\0\0hello" },
          ],
        }),
      );
      const f = await openNetCDF(path);
      assertEquals(f.format, version === 1 ? "classic" : "64bit-offset");
      assertEquals(f.attrs, { title: "classic", scale: 2.5, ints: [1, 2, 3] });
      assertEquals(f.group("").dims, { t: 3, y: 2, x: 3, len: 5 });
      assertEquals(f.variable("rec_f").shape, [3, 3]);
      assertEquals(f.variable("fixed").attrs, { units: "m" });
      assertEquals(Array.from(f.read("fixed") as Float64Array), [1, 2, 3, 4, 5, 6.5]);
      assertEquals(Array.from(f.read("b") as Int8Array), [-1, 0, 127]);
      assertEquals(Array.from(f.read("rec_f") as Float32Array), [0, 1, 2, 10, 11, 12, 20, 21, 22]);
      assertEquals(Array.from(f.read("rec_s") as Int16Array), [-5, 6, -7]);
      assertEquals(f.read("label"), ["abc", "hello"]);
      f.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NetCDF3: a single record variable has unpadded records", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/single.nc`;
    // 3 shorts per record = 6 bytes: padding each record to 8 would shift every later record.
    await Deno.writeFile(
      path,
      encodeNetCDF3({
        numRecs: 4,
        dims: [["t", null], ["x", 3]],
        vars: [{ name: "s", dims: ["t", "x"], type: "short", data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }],
      }),
    );
    const f = await openNetCDF(path);
    assertEquals(Array.from(f.read("s") as Int16Array), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assertThrows(() => f.group("input"), undefined, "no group 'input'");
    f.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openNetCDF: missing, foreign and truncated files give errors naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => openNetCDF(`${dir}/none.nc`), undefined, `${dir}/none.nc: no such NetCDF file`);
    await Deno.writeTextFile(`${dir}/text.nc`, "just text, not netcdf");
    await assertRejects(() => openNetCDF(`${dir}/text.nc`), undefined, `${dir}/text.nc: not a NetCDF file`);
    const whole = encodeNetCDF3({
      dims: [["x", 4]],
      vars: [{ name: "v", dims: ["x"], type: "double", data: [1, 2, 3, 4] }],
    });
    await Deno.writeFile(`${dir}/cut.nc`, whole.subarray(0, whole.length - 8));
    const f = await openNetCDF(`${dir}/cut.nc`);
    assertThrows(
      () => f.read("v"),
      undefined,
      `${dir}/cut.nc: cannot read variable 'v': data runs past the end`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The structure netCDF-C gives a file in the real sets' layout: checked on a small file written
// here, and on the shared ERA5 file when it is present.
Deno.test("NetCDF4 written by netCDF-C: an HRRR-mini file's structure (fixture)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { dataPath } = await writeNetcdfCFixture(dir);
    const f = await openNetCDF(dataPath);
    try {
      const H = NCC.h * NCC.f, W = NCC.w * NCC.f;
      assertEquals(f.group("").groups, ["input", "output", "invariant"]);
      assertEquals(f.group("").variables, ["time", "coord"], "dimension-only scales are not variables");
      assertEquals(f.variable("input/refc").dims, ["time", "y_lr", "x_lr"]);
      assertEquals(f.variable("output/refc").shape, [NCC_T, H, W]);
      assertEquals(f.variable("invariant/zero").shape, NCC.invShape);
      assertEquals(f.variable("time").attrs.units, "minutes since 1970-01-01 00:00:00");
      assertEquals(f.attrs.upsample_factor, NCC.f);
      assertEquals(JSON.parse(f.attrs.window_offsets_ij as string), NCC.offsets);
      assert(
        !("_NCProperties" in f.attrs) && !("DIMENSION_LIST" in f.variable("input/refc").attrs),
        "bookkeeping hidden",
      );
      const t = f.read("time") as BigInt64Array;
      assertEquals([t[0], t[NCC_T - 1]].map(Number), [NCC.start, NCC.start + 5 * (NCC.frames - 1)]);
    } finally {
      f.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  sharedDataTest(
    "NetCDF4 written by netCDF-C: the shared ERA5 file's structure",
    "era5-uk-t2m/train.nc",
    async (path) => {
      const f = await openNetCDF(path);
      try {
        assertEquals(f.group("").groups, ["input", "output", "invariant"]);
        assertEquals(f.group("").variables, ["time", "coord"], "dimension-only scales are not variables");
        assertEquals(f.variable("input/t2m").dims, ["time", "y_lr", "x_lr"]);
        assertEquals(f.variable("output/t2m").shape, [528, 32, 48]);
        assertEquals(f.variable("time").attrs.units, "hours since 1970-01-01 00:00:00");
        assertEquals(f.attrs.upsample_factor, 4);
        assert(
          !("_NCProperties" in f.attrs) && !("DIMENSION_LIST" in f.variable("input/t2m").attrs),
          "bookkeeping hidden",
        );
        const t = f.read("time") as BigInt64Array;
        // 2019-03-01T00:00Z is 430944 hours after 1970-01-01.
        assertEquals([t[0], t[527]].map(Number), [430944, 430944 + 527]);
      } finally {
        f.close();
      }
    },
  ),
);
