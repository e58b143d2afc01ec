/**
 * A small HRRR-mini file written by netCDF-C (through netCDF4-python), in the layout of the real sets
 * in ../shared/data: groups input/output/invariant, int64 CF time in minutes, int64 `coord` windows
 * into a larger invariant grid, dimension-only scales, zlib + shuffle chunks, an all-zero placeholder
 * invariant, `upsample_factor` and a JSON `window_offsets_ij` global attribute. Tests that check the
 * real files' layout run on it when the real files are absent. Values follow the formulas below.
 */
import { runPython } from "../io/python.ts";

/** The fixture's geometry: T samples = frames x windows, coarse h x w, factor f, invariant grid. */
export const NCC = {
  frames: 3,
  offsets: [[0, 0], [3, 5], [6, 8]] as [number, number][],
  h: 2,
  w: 3,
  f: 4,
  invShape: [14, 20] as [number, number],
  /** 2016-09-28T14:45Z in minutes since 1970-01-01; frames are five minutes apart. */
  start: Date.UTC(2016, 8, 28, 14, 45) / 60_000,
  stats: {
    input: { refc: { mean: 2, std: 4 } },
    output: { refc: { mean: 8, std: 16 } },
    invariant: { elev: { mean: 5000, std: 1000 }, zero: { mean: 0, std: 1 } },
  },
};

/** Number of samples: sample k is frame k // windows at window k % windows, as in fmi-radar. */
export const NCC_T = NCC.frames * NCC.offsets.length;
/** Coarse input `refc` at sample t, row r, column c. */
export const nccInput = (t: number, r: number, c: number) => t + 0.5 * r - 0.25 * c;
/** Fine output `refc` at sample t, row y, column x. */
export const nccOutput = (t: number, y: number, x: number) => 10 * t + y - 0.5 * x;
/** Invariant `elev` at row i, column j of the invariant grid. */
export const nccElev = (i: number, j: number) => 1000 * i + j;

const SCRIPT = `
import json, sys
import numpy as np
import netCDF4
p = json.loads(sys.argv[1])
n, (h, w), f, (Y, X) = p["T"], (p["h"], p["w"]), p["f"], p["invShape"]
H, W, nw = h * f, w * f, len(p["offsets"])
t = np.arange(n, dtype=np.float32)[:, None, None]
ds = netCDF4.Dataset(p["path"], "w", format="NETCDF4")
ds.setncatts({"Conventions": "CF-1.8", "title": "netCDF-C fixture", "upsample_factor": np.int32(f),
              "window_offsets_ij": json.dumps(p["offsets"])})
ds.createDimension("time", n)
ds.createDimension("ij", 2)
tv = ds.createVariable("time", "i8", ("time",))
tv.setncatts({"units": "minutes since 1970-01-01 00:00:00", "calendar": "standard", "axis": "T"})
tv[:] = p["start"] + 5 * (np.arange(n) // nw)
cv = ds.createVariable("coord", "i8", ("time", "ij"))
cv[:] = np.array([p["offsets"][k % nw] for k in range(n)], dtype=np.int64)
def group(name, dims, sizes):
    g = ds.createGroup(name)
    for d, s in zip(dims, sizes):
        g.createDimension(d, s)
    return g
def var(g, name, dims, data, units):
    v = g.createVariable(name, "f4", dims, zlib=True, complevel=4, shuffle=True)
    v.setncatts({"units": units, "long_name": name})
    v[:] = data
gi = group("input", ("time", "y_lr", "x_lr"), (n, h, w))
var(gi, "refc", ("time", "y_lr", "x_lr"), t + 0.5 * np.arange(h)[:, None] - 0.25 * np.arange(w), "dBZ")
go = group("output", ("time", "y", "x"), (n, H, W))
var(go, "refc", ("time", "y", "x"), 10 * t + np.arange(H)[:, None] - 0.5 * np.arange(W), "dBZ")
gv = group("invariant", ("y_inv", "x_inv"), (Y, X))
var(gv, "elev", ("y_inv", "x_inv"), 1000 * np.arange(Y)[:, None] + np.arange(X)[None, :], "m")
var(gv, "zero", ("y_inv", "x_inv"), np.zeros((Y, X), dtype=np.float32), "1")
ds.close()
`;

/** Writes the fixture (`train.nc`, `stats.json`) into `dir` with netCDF4-python; returns both paths. */
export async function writeNetcdfCFixture(dir: string): Promise<{ dataPath: string; statsPath: string }> {
  const dataPath = `${dir}/train.nc`, statsPath = `${dir}/stats.json`;
  await runPython(SCRIPT, [JSON.stringify({ ...NCC, T: NCC_T, path: dataPath })]);
  await Deno.writeTextFile(statsPath, JSON.stringify(NCC.stats));
  return { dataPath, statsPath };
}
