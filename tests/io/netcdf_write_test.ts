import h5wasm, { type Dataset } from "h5wasm/node";
import { h5Ready, type NcGroupSpec, NetCDF4Writer, writeNetCDF4 } from "../../src/io/netcdf_write.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { runPythonJson } from "./python.ts";

const ramp = (n: number, f = (i: number) => i) => Float32Array.from({ length: n }, (_, i) => f(i));

function sampleSpec(): NcGroupSpec {
  return {
    attrs: { title: "round trip: °C, ü", count: 3, scale: 0.5, pair: [1, 2], mixed: [1.5, -2], empty: "" },
    dims: { time: 2, y: 3, x: 4 },
    vars: [
      { name: "grid", dims: ["y", "x"], data: ramp(12, (i) => i / 4), attrs: { units: "m" } },
      {
        name: "time",
        dims: ["time"],
        data: new BigInt64Array([0n, 6n]),
        attrs: { units: "hours since 1990-01-01 00:00:00", calendar: "standard" },
      },
      { name: "y", dims: ["y"], data: new Float64Array([10, 20, 30]) },
      { name: "flags", dims: ["time"], data: new Int32Array([-1, 7]), attrs: { _FillValue: -99 } },
    ],
    groups: {
      fields: {
        dims: { member: 2 },
        vars: [{
          name: "t2m",
          dims: ["member", "time", "y", "x"],
          data: ramp(48, (i) => 270 + i),
          attrs: { units: "K" },
        }],
        groups: { deeper: { vars: [{ name: "label", dims: ["x"], data: ["a", "bb", "", "dddd"] }] } },
      },
    },
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "nc_write_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("writeNetCDF4 round trip: values, dimension scales and attributes (h5wasm)", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.nc`;
    await writeNetCDF4(path, sampleSpec());
    await h5Ready();
    const f = new h5wasm.File(path, "r");
    try {
      const ds = (p: string) => f.get(p) as Dataset;
      assertEquals(Array.from(ds("grid").value as Float32Array), Array.from(ramp(12, (i) => i / 4)));
      assertEquals(Array.from(ds("fields/t2m").value as Float32Array), Array.from(ramp(48, (i) => 270 + i)));
      assertEquals(ds("fields/t2m").shape, [2, 2, 3, 4]);
      assertEquals(Array.from(ds("time").value as BigInt64Array).map(Number), [0, 6]);
      assertEquals(ds("fields/deeper/label").value, ["a", "bb", "", "dddd"]);
      // Scales: the child-group variable attaches its own dim and the root's.
      const scales = [0, 1, 2, 3].map((i) => ds("fields/t2m").get_attached_scales(i));
      assertEquals(scales, [["/fields/member"], ["/time"], ["/y"], ["/x"]]);
      assertEquals(ds("y").get_scale_name(), "y");
      assert(
        ds("x").get_scale_name()!.startsWith("This is a netCDF dimension but not a netCDF variable."),
        "x placeholder",
      );
      assertEquals(f.attrs.title.value, "round trip: °C, ü");
      assertEquals(Number(f.attrs.count.value), 3);
      assertEquals(Array.from(f.attrs.mixed.value as Float64Array), [1.5, -2]);
      assertEquals(f.attrs.scale.metadata.size, 8);
      assertEquals(Array.from(ds("flags").attrs._FillValue.value as Int32Array), [-99]);
      assertEquals(f.keys(), ["time", "y", "x", "grid", "flags", "fields"]);
    } finally {
      f.close();
    }
  });
});

Deno.test("netCDF4-python and xarray read our files with the right dims, values and attributes", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.nc`;
    await writeNetCDF4(path, sampleSpec(), { deflate: 4 });
    const got = await runPythonJson(
      `
import json, sys, netCDF4, xarray as xr
d = netCDF4.Dataset(sys.argv[1])
g = d["fields"]
t2m = g["t2m"]
out = {
  "root_dims": {k: len(v) for k, v in d.dimensions.items()},
  "group_dims": {k: len(v) for k, v in g.dimensions.items()},
  "t2m_dims": list(t2m.dimensions), "t2m_units": t2m.units, "t2m_sum": float(t2m[:].sum()),
  "t2m_deflate": t2m.filters()["zlib"],
  "title": d.title, "count": int(d.count), "mixed": [float(x) for x in d.mixed], "empty": d.empty,
  "label": list(g["deeper"]["label"][:]), "label_dims": list(g["deeper"]["label"].dimensions),
  "flags": [int(x) for x in d["flags"][:]],
}
ds = xr.open_dataset(sys.argv[1])
out["xr_time"] = [str(t)[:19] for t in ds.time.values]
out["xr_y"] = ds.y.values.tolist()
out["xr_grid_dims"] = list(ds.grid.dims)
gx = xr.open_dataset(sys.argv[1], group="fields")
out["xr_t2m_dims"] = list(gx.t2m.dims)
out["xr_t2m_first"] = float(gx.t2m.values[1, 1, 2, 3])
print(json.dumps(out))
`,
      [path],
    );
    assertEquals(got.root_dims, { time: 2, y: 3, x: 4 });
    assertEquals(got.group_dims, { member: 2 });
    assertEquals(got.t2m_dims, ["member", "time", "y", "x"]);
    assertEquals(got.t2m_units, "K");
    assertEquals(got.t2m_sum, 48 * 270 + (47 * 48) / 2);
    assertEquals(got.t2m_deflate, true);
    assertEquals(got.title, "round trip: °C, ü");
    assertEquals([got.count, got.mixed, got.empty], [3, [1.5, -2], ""]);
    assertEquals([got.label, got.label_dims], [["a", "bb", "", "dddd"], ["x"]]);
    assertEquals(got.flags, [-1, 7]);
    assertEquals(got.xr_time, ["1990-01-01T00:00:00", "1990-01-01T06:00:00"]);
    assertEquals(got.xr_y, [10, 20, 30]);
    assertEquals(got.xr_grid_dims, ["y", "x"]);
    assertEquals(got.xr_t2m_dims, ["member", "time", "y", "x"]);
    assertEquals(got.xr_t2m_first, 270 + 1 * 24 + 1 * 12 + 2 * 4 + 3);
  });
});

Deno.test("a failed write leaves the existing file untouched and no temporary file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/keep.nc`;
    await writeNetCDF4(path, {
      dims: { x: 2 },
      vars: [{ name: "v", dims: ["x"], data: new Float32Array([1, 2]) }],
    });
    const before = await Deno.readFile(path);
    const bad: NcGroupSpec = {
      dims: { x: 2 },
      vars: [{ name: "v", dims: ["x", "z"], data: new Float32Array(4) }],
    };
    await assertRejects(() => writeNetCDF4(path, bad), Error, "dimension z is not declared");
    const wrongSize: NcGroupSpec = {
      dims: { x: 3 },
      vars: [{ name: "v", dims: ["x"], data: new Float32Array(2) }],
    };
    await assertRejects(() => writeNetCDF4(path, wrongSize), Error, "data has 2 values");
    await assertRejects(() => writeNetCDF4(`${dir}/missing/dir.nc`, bad), Error, "is not usable");
    assertEquals(await Deno.readFile(path), before);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assertEquals(names, ["keep.nc"]);
  });
});

Deno.test("NetCDF4Writer: slabs written in any order, file appears only at close, abort keeps the old file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/slabs.nc`;
    await Deno.writeTextFile(path, "previous contents");
    const layout = {
      dims: { e: 3, t: 2, y: 4, x: 5 },
      groups: {
        p: { vars: [{ name: "v", dims: ["e", "t", "y", "x"], dtype: "f4" as const, attrs: { units: "1" } }] },
      },
    };
    const w = await NetCDF4Writer.create(path, layout);
    const expected = ramp(3 * 2 * 20, (i) => i * 0.25 - 3);
    for (const t of [1, 0]) {
      for (const e of [2, 0, 1]) {
        const off = (e * 2 + t) * 20;
        w.writeSlab("p/v", [e, t, 0, 0], [1, 1, 4, 5], expected.slice(off, off + 20));
      }
    }
    assertThrows(
      () => w.writeSlab("p/v", [0, 0, 0, 0], [1, 1, 4, 5], new Float64Array(20)),
      Error,
      "is f4, slab data is f8",
    );
    assertThrows(
      () => w.writeSlab("p/v", [2, 1, 0, 1], [1, 1, 4, 5], new Float32Array(20)),
      Error,
      "outside p/v",
    );
    assertThrows(
      () => w.writeSlab("p/v", [0, 0, 0, 0], [1, 1, 4, 5], new Float32Array(19)),
      Error,
      "needs 20 values",
    );
    assertThrows(() => w.writeSlab("p/w", [0], [1], new Float32Array(1)), Error, "no variable p/w");
    assertEquals(await Deno.readTextFile(path), "previous contents");
    await w.close();
    const f = new h5wasm.File(path, "r");
    assertEquals(Array.from((f.get("p/v") as Dataset).value as Float32Array), Array.from(expected));
    f.close();

    const aborted = await NetCDF4Writer.create(path, layout);
    aborted.writeSlab("p/v", [0, 0, 0, 0], [1, 1, 4, 5], new Float32Array(20));
    await aborted.abort();
    const g = new h5wasm.File(path, "r");
    assertEquals(Array.from((g.get("p/v") as Dataset).value as Float32Array), Array.from(expected));
    g.close();
    assertEquals([...Deno.readDirSync(dir)].length, 1);
  });
});

Deno.test("deflate shrinks compressible data and keeps the values", async () => {
  await withTempDir(async (dir) => {
    const spec = (): NcGroupSpec => ({
      dims: { y: 64, x: 64 },
      vars: [{ name: "smooth", dims: ["y", "x"], data: ramp(4096, (i) => Math.floor(i / 64)) }],
    });
    await writeNetCDF4(`${dir}/plain.nc`, spec());
    await writeNetCDF4(`${dir}/zip.nc`, spec(), { deflate: 6 });
    const size = (p: string) => Deno.statSync(`${dir}/${p}`).size;
    assert(
      size("zip.nc") < size("plain.nc") - 10000,
      `deflated ${size("zip.nc")} vs plain ${size("plain.nc")}`,
    );
    const f = new h5wasm.File(`${dir}/zip.nc`, "r");
    assertEquals(
      Array.from((f.get("smooth") as Dataset).value as Float32Array),
      Array.from(spec().vars![0].data as Float32Array),
    );
    f.close();
    await assertRejects(
      () => writeNetCDF4(`${dir}/bad.nc`, spec(), { deflate: 12 }),
      Error,
      "deflate level 12",
    );
  });
});
