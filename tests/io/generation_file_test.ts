import { parse as parseYaml } from "yaml";
import {
  decodeCfTimesOrNull,
  encodeCfTimes,
  GenerationWriter,
  type GenerationWriterOptions,
} from "../../src/io/generation_file.ts";
import { GenerationReader, readGenerationFile } from "../../src/io/generation_reader.ts";
import { writeNetCDF4 } from "../../src/io/netcdf_write.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { runPython, runPythonJson } from "./python.ts";

const NY = 3, NX = 5, P = NY * NX, E = 2, T = 3;
const TIMES = [0, 1, 2].map((h) => new Date(Date.UTC(2019, 2, 1, 6 * h)));
const INPUTS = [
  { name: "t2m", units: "K", longName: "2 m temperature (input)", standardName: "air_temperature" },
  { name: "elev_mean", units: "m", longName: "mean elevation" },
];
const OUTPUTS = [
  { name: "t2m", units: "K", longName: "2 m temperature", standardName: "air_temperature" },
  { name: "refc", units: "dBZ", longName: "composite reflectivity" },
];

// Distinct, recognisable values: input 1000 + ..., truth 2000 + ..., prediction 3000 + ...
const inputAt = (t: number) => Float32Array.from({ length: 2 * P }, (_, i) => 1000 + 100 * t + i);
const truthAt = (t: number) => Float32Array.from({ length: 2 * P }, (_, i) => 2000 + 100 * t + i);
const predAt = (e: number, t: number) =>
  Float32Array.from({ length: 2 * P }, (_, i) => 3000 + 1000 * e + 100 * t + i);

function options(path: string): GenerationWriterOptions {
  return {
    path,
    ny: NY,
    nx: NX,
    lat: Float32Array.from({ length: P }, (_, i) => 50 + Math.floor(i / NX)),
    lon: Float32Array.from({ length: P }, (_, i) => -5 + (i % NX)),
    inputVariables: INPUTS,
    outputVariables: OUTPUTS,
    nEnsemble: E,
    times: TIMES,
    config: { generation: { num_ensembles: E, seeds: [0, 1] }, model: "diffusion" },
  };
}

async function writeComplete(path: string) {
  const w = await GenerationWriter.create(options(path));
  for (let t = 0; t < T; t++) {
    for (let e = 0; e < E; e++) w.writePrediction(e, t, predAt(e, t));
    w.writeTruth(t, truthAt(t));
    w.writeInput(t, inputAt(t));
  }
  await w.close();
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "gen_file_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("generation file round trip: fields, grid, times, attributes and config", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gen.nc`;
    await writeComplete(path);
    const g = await readGenerationFile(path);
    assertEquals([g.ny, g.nx, g.nEnsemble], [NY, NX, E]);
    assertEquals(g.time.dates!.map((d) => d.toISOString()), TIMES.map((d) => d.toISOString()));
    // 2019-03-01 is 10651 days after 1990-01-01.
    assertEquals(g.time.cf, {
      values: [10651 * 24, 10651 * 24 + 6, 10651 * 24 + 12],
      units: "hours since 1990-01-01 00:00:00",
      calendar: "standard",
    });
    assertEquals(Array.from(g.lat!), Array.from(options(path).lat));
    assertEquals([...g.prediction.keys()], ["t2m", "refc"]);
    assertEquals([...g.input.keys()], ["t2m", "elev_mean"]);
    const refc = g.prediction.get("refc")!;
    // (ensemble, time, y, x): member 1, time 2, pixel 4 of the second channel.
    assertEquals(refc.data[(1 * T + 2) * P + 4], 3000 + 1000 + 200 + P + 4);
    assertEquals(g.truth.get("t2m")!.data[2 * P + 7], 2000 + 200 + 7);
    assertEquals(g.input.get("elev_mean")!.data[1 * P], 1000 + 100 + P);
    assertEquals(refc.attrs, { units: "dBZ", long_name: "composite reflectivity" });
    assertEquals(g.truth.get("t2m")!.attrs.standard_name, "air_temperature");
    assertEquals(g.attrs.Conventions, "CF-1.8");
    assertEquals(parseYaml(g.attrs.cfg as string), options(path).config);
  });
});

Deno.test("xarray and netCDF4-python read our generation file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gen.nc`;
    await writeComplete(path);
    const got = await runPythonJson(
      `
import json, sys, netCDF4, xarray as xr
p = sys.argv[1]
pred = xr.open_dataset(p, group="prediction")
root = xr.open_dataset(p)
d = netCDF4.Dataset(p)
print(json.dumps({
  "dims": list(pred.refc.dims), "shape": list(pred.refc.shape), "units": pred.refc.attrs["units"],
  "long_name": pred.t2m.attrs["long_name"], "value": float(pred.refc.values[1, 2, 0, 4]),
  "truth_dims": list(d["truth/t2m"].dimensions), "truth": float(d["truth/t2m"][2, 1, 2]),
  "input_units": d["input/elev_mean"].units,
  "time": [str(t)[:19] for t in root.time.values], "lat_units": root.lat.attrs["units"],
  "conventions": d.Conventions,
}))
`,
      [path],
    );
    assertEquals(got.dims, ["ensemble", "time", "y", "x"]);
    assertEquals(got.shape, [E, T, NY, NX]);
    assertEquals([got.units, got.long_name], ["dBZ", "2 m temperature"]);
    assertEquals(got.value, 3000 + 1000 + 200 + P + 4);
    assertEquals(got.truth_dims, ["time", "y", "x"]);
    assertEquals(got.truth, 2000 + 200 + 1 * NX + 2);
    assertEquals(got.input_units, "m");
    assertEquals(got.time, ["2019-03-01T00:00:00", "2019-03-01T06:00:00", "2019-03-01T12:00:00"]);
    assertEquals([got.lat_units, got.conventions], ["degrees_north", "CF-1.8"]);
  });
});

Deno.test("we read a generation file written by netCDF4-python in the reference's layout", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/ref.nc`;
    // As the reference's NetCDFWriter does: unlimited time and ensemble, (x, y) dims declared in
    // that order, int64 hours since 1990, str(cfg), fields without units, written member by member.
    await runPython(
      `
import sys, numpy as np, netCDF4, cftime, datetime
f = netCDF4.Dataset(sys.argv[1], "w", format="NETCDF4")
f.cfg = str({"generation": {"num_ensembles": 3}})
f.createDimension("time"); f.createDimension("ensemble"); f.createDimension("x", 5); f.createDimension("y", 3)
lat = f.createVariable("lat", "f", ("y", "x")); lat.standard_name = "latitude"; lat.units = "degrees_north"
lon = f.createVariable("lon", "f", ("y", "x")); lon.standard_name = "longitude"; lon.units = "degrees_east"
lat[:] = np.full((3, 5), np.nan, "f4"); lon[:] = np.full((3, 5), np.nan, "f4")
tv = f.createVariable("time", "i8", ("time",)); tv.calendar = "standard"; tv.units = "hours since 1990-01-01 00:00:00"
truth = f.createGroup("truth"); pred = f.createGroup("prediction"); inp = f.createGroup("input")
for g, dims in ((truth, ("time", "y", "x")), (pred, ("ensemble", "time", "y", "x")), (inp, ("time", "y", "x"))):
  g.createVariable("t2m", "f", dims)
for ti, h in enumerate((0, 1)):
  for e in range(3):
    tv[ti] = cftime.date2num(datetime.datetime(2019, 3, 1, h), tv.units, tv.calendar)
    tr = np.arange(15, dtype="f4").reshape(3, 5) + 100 * ti
    if ti == 1: tr = np.ma.masked_array(tr, mask=(np.arange(15) == 7).reshape(3, 5))
    truth["t2m"][ti] = tr
    pred["t2m"][e, ti] = np.arange(15, dtype="f4").reshape(3, 5) + 1000 * e + 100 * ti
  inp["t2m"][ti] = np.ones((3, 5), "f4") * ti
f.close()
`,
      [path],
    );
    const g = await readGenerationFile(path);
    assertEquals([g.ny, g.nx, g.nEnsemble], [3, 5, 3]);
    assertEquals(g.time.labels, ["2019-03-01T00:00:00.000Z", "2019-03-01T01:00:00.000Z"]);
    assertEquals(g.prediction.get("t2m")!.data[(2 * 2 + 1) * 15 + 6], 2000 + 100 + 6);
    const truth = g.truth.get("t2m")!.data;
    assertEquals([truth[15 + 6], truth[15 + 8]], [106, 108]);
    assert(Number.isNaN(truth[15 + 7]), "a masked (fill) cell must read as NaN");
    assertEquals(g.input.get("t2m")!.data[15], 1);
    assert(g.lat!.every(Number.isNaN), "HRRR-mini style NaN latitudes");
    assert(String(g.attrs.cfg).includes("num_ensembles"), "cfg attribute");
    const r = await GenerationReader.open(path);
    try {
      assertEquals(Array.from(r.readField("prediction", "t2m", 1, 2).subarray(14, 16)), [114, 1100]);
      assertThrows(() => r.readField("prediction", "t2m", 0, 4), Error, "4 members requested, file has 3");
    } finally {
      r.close();
    }
  });
});

Deno.test("an interrupted or incomplete generation run leaves the previous file in place", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gen.nc`;
    await writeComplete(path);
    const before = await Deno.readFile(path);
    const w = await GenerationWriter.create(options(path));
    w.writePrediction(0, 0, predAt(0, 0));
    assertThrows(() => w.writePrediction(E, 0, predAt(0, 0)), Error, `member ${E} outside`);
    assertThrows(() => w.writeTruth(T, truthAt(0)), Error, `time index ${T} outside`);
    assertThrows(() => w.writeInput(0, new Float32Array(P)), Error, "input fields have 15 values");
    await assertRejects(() => w.close(), Error, "never written: input at time 0, truth at time 0");
    assertEquals(await Deno.readFile(path), before);
    const w2 = await GenerationWriter.create(options(path));
    w2.writeTruth(0, truthAt(0));
    await w2.abort();
    assertEquals(await Deno.readFile(path), before);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["gen.nc"]);
  });
});

Deno.test("CF time encoding picks an exact unit; decoding handles common unit spellings", () => {
  const fiveMin = [0, 5, 10].map((m) => new Date(Date.UTC(2020, 0, 1, 0, m)));
  assertEquals(encodeCfTimes(fiveMin).units, "minutes since 1990-01-01 00:00:00");
  assertEquals(encodeCfTimes([new Date(Date.UTC(1990, 0, 1, 0, 0, 1))]).values, [1]);
  const iso = (cf: Parameters<typeof decodeCfTimesOrNull>[0]) =>
    decodeCfTimesOrNull(cf)!.map((d) => d.toISOString());
  assertEquals(iso({ values: [1.5], units: "days since 2000-01-01" }), ["2000-01-02T12:00:00.000Z"]);
  assertEquals(iso({ values: [30], units: "minutes since 1970-01-01T00:00:00Z" }), [
    "1970-01-01T00:30:00.000Z",
  ]);
  assertEquals(iso({ values: [2], units: "hours since 1990-1-1 0:0:0" }), ["1990-01-01T02:00:00.000Z"]);
  assertEquals(iso({ values: [0], units: "seconds since 2000-01-01 06:00:00 +03:00" }), [
    "2000-01-01T03:00:00.000Z",
  ]);
  assertEquals(
    decodeCfTimesOrNull({ values: [0], units: "days since 2000-01-01", calendar: "360_day" }),
    null,
  );
  assertEquals(decodeCfTimesOrNull({ values: [0], units: "fortnights since 2000-01-01" }), null);
});

Deno.test("reading something that is not a generation file fails with a clear message", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/text.nc`, "not a netCDF file at all");
    await assertRejects(() => readGenerationFile(`${dir}/text.nc`), Error, "text.nc is not HDF5");
    await runPython(
      `import sys, netCDF4; f = netCDF4.Dataset(sys.argv[1], "w", format="NETCDF3_CLASSIC"); f.close()`,
      [`${dir}/classic.nc`],
    );
    await assertRejects(() => readGenerationFile(`${dir}/classic.nc`), Error, "is a NetCDF3 (classic) file");
    await writeNetCDF4(`${dir}/other.nc`, {
      dims: { x: 2 },
      vars: [{ name: "v", dims: ["x"], data: new Float32Array(2) }],
    });
    await assertRejects(
      () => readGenerationFile(`${dir}/other.nc`),
      Error,
      'no variables in group "prediction"',
    );
    await assertRejects(() => readGenerationFile(`${dir}/missing.nc`), Error, "cannot open generation file");
  });
});
