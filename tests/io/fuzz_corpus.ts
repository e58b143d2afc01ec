/**
 * The fuzz corpus: small valid files of every kind the program reads, and seeded corruptions of
 * them (truncations at many offsets, bit flips in headers and in data, wrong dtypes and shapes,
 * missing groups, variables, attributes and keys, NaN and infinities). Each case names the reader
 * that takes it (see `fuzz_runner.ts`) and the file its error must name.
 */
import { type NcGroupSpec, writeNetCDF4 } from "../../src/io/netcdf_write.ts";
import { readMdlus } from "../../src/io/mdlus.ts";
import { encodeSafetensors } from "../../src/io/safetensors.ts";
import { ZipArchive } from "../../src/io/zip.ts";
import { Rng } from "../../src/util/rng.ts";
import { analyticFixture, fixtureStats, hrrrMiniNc3, hrrrMiniSpec } from "../data/fixtures.ts";
import { writeZarrStore, type ZarrArraySpec } from "../data/zarr_fixture.ts";
import { writeTar, writeZip } from "../fixtures/checkpoints/archives.ts";
import { runPython } from "./python.ts";
import {
  cut,
  damage,
  editHeader,
  flipBit,
  headerEnd,
  jsonEdits,
  type Mutant,
  tailFlips,
} from "./fuzz_damage.ts";

/** The readers the runner knows (one per way the program takes a file). */
export type FuzzReader =
  | "generation"
  | "hrrr_mini"
  | "cwb"
  | "network"
  | "train_state"
  | "torch_optimizer"
  | "config"
  | "score_cli"
  | "spectra_cli";

/** One corrupted input. */
export interface FuzzCase {
  id: number;
  /** The file kind, for the per-kind counts. */
  kind: string;
  /** What was done to the valid file ("truncated to 120 bytes", "bit 3 of byte 77 flipped"). */
  mutation: string;
  reader: FuzzReader;
  /** The file (or Zarr store) under test: an error must name it. */
  path: string;
  /** Files read along with it (the statistics of a HRRR-mini file, the data of a statistics case). */
  dataPath?: string;
  statsPath?: string;
  /** Where output may be written (CLI cases); must hold nothing half-written afterwards. */
  outDir?: string;
  /** "error": the damage must be reported; "any": an error or, for a harmless flip, a normal result. */
  expect: "error" | "any";
}

const CKPT = new URL("../fixtures/checkpoints", import.meta.url).pathname;
const enc = new TextEncoder();

/** Builds every case under `dir` (one sub-directory per case), deterministically from `seed`. */
export async function buildCorpus(dir: string, seed: number): Promise<FuzzCase[]> {
  const rng = new Rng(seed);
  const cases: FuzzCase[] = [];
  const add = (c: Omit<FuzzCase, "id">) => cases.push({ ...c, id: cases.length });
  const caseDir = async () => {
    const d = `${dir}/case${String(cases.length).padStart(3, "0")}`;
    await Deno.mkdir(d, { recursive: true });
    return d;
  };
  const fileCases = async (
    kind: string,
    reader: FuzzReader,
    name: string,
    mutants: Mutant[],
    extra: (d: string) => Promise<Partial<FuzzCase>> = () => Promise.resolve({}),
  ) => {
    for (const [mutation, bytes, expect] of mutants) {
      const d = await caseDir();
      const path = `${d}/${name}`;
      await Deno.writeFile(path, bytes);
      add({ kind, mutation, reader, path, expect, ...(await extra(d)) });
    }
  };

  const seeds = `${dir}/seeds`;
  await Deno.mkdir(seeds, { recursive: true });
  // Python starts slowly: let it write its seed while the others are built.
  const genCPending = netcdfCGeneration(seeds);

  // NetCDF4 generation files: ours (h5wasm), and netCDF-C's below (other HDF5 structures: v0 superblock, B-trees).
  const gen = await ncBytes(seeds, "gen.nc", generationSpec());
  await fileCases("NetCDF4 generation file (ours)", "generation", "gen.nc", [
    ...damage(gen, rng, { truncations: 12, headerFlips: 18, dataFlips: 4, header: 4096 }),
    [
      "group 'prediction' missing",
      await ncBytes(seeds, "g1.nc", generationSpec({ drop: "prediction" })),
      "error",
    ],
    [
      "prediction variable int32",
      await ncBytes(seeds, "g2.nc", generationSpec({ intPrediction: true })),
      "error",
    ],
    [
      "prediction variable 3-D",
      await ncBytes(seeds, "g3.nc", generationSpec({ flatPrediction: true })),
      "error",
    ],
    [
      "NaN and Inf in prediction (allowed: shards hold NaN)",
      await ncBytes(seeds, "g4.nc", generationSpec({ nan: true })),
      "any",
    ],
    ["text file named .nc", enc.encode("time,t2m\n0,280\n"), "error"],
  ]);

  // HRRR-mini training data: NetCDF4 and NetCDF3, with its statistics.
  const fx = analyticFixture(2, 3, 4, 2);
  const stats = enc.encode(JSON.stringify(fixtureStats(fx)));
  const withStats = async (d: string) => {
    await Deno.writeFile(`${d}/stats.json`, stats);
    return { statsPath: `${d}/stats.json` };
  };
  const hrrr = await ncBytes(seeds, "hrrr.nc", hrrrMiniSpec(fx));
  const hrrrEdit = (name: string, edit: (s: NcGroupSpec) => void) => {
    const spec = hrrrMiniSpec(analyticFixture(2, 3, 4, 2));
    edit(spec);
    return ncBytes(seeds, name, spec);
  };
  await fileCases("NetCDF4 HRRR-mini data", "hrrr_mini", "train.nc", [
    ...damage(hrrr, rng, { truncations: 8, headerFlips: 10, dataFlips: 3, header: 4096 }),
    ["group 'invariant' missing", await hrrrEdit("h1.nc", (s) => delete s.groups!.invariant), "error"],
    [
      "variable invariant/one missing",
      await hrrrEdit("h2.nc", (s) => s.groups!.invariant.vars!.pop()),
      "error",
    ],
    ["attribute time.units missing", await hrrrEdit("h3.nc", (s) => delete s.vars![0].attrs!.units), "error"],
    ["coord stored as float64", await hrrrEdit("h4.nc", (s) => floatCoord(s)), "error"],
    ["input/a 2-D", await hrrrEdit("h5.nc", (s) => flattenFirst(s.groups!.input)), "error"],
    ["NaN in input/a", await hrrrEdit("h6.nc", (s) => poison(s.groups!.input, NaN)), "error"],
    ["Inf in output/b", await hrrrEdit("h7.nc", (s) => poison(s.groups!.output, Infinity)), "error"],
  ], withStats);
  const nanFx = analyticFixture(2, 3, 4, 2);
  nanFx.inputs.a[5] = NaN;
  await fileCases("NetCDF3 HRRR-mini data", "hrrr_mini", "train.nc", [
    ...damage(hrrrMiniNc3(fx), rng, { truncations: 10, headerFlips: 14, dataFlips: 3, header: 700 }),
    ["NaN in input_a", hrrrMiniNc3(nanFx), "error"],
    ["64-bit offset variant cut to 60%", cut(hrrrMiniNc3(fx, 2), 0.6), "error"],
  ], withStats);

  // Statistics JSON, with valid data beside it.
  const statsMutants: Mutant[] = [
    ...damage(stats, rng, { truncations: 5, headerFlips: 6, dataFlips: 0, header: stats.length }),
    ...jsonEdits(fixtureStats(fx), [
      ["group 'output' missing", (j) => delete j.output],
      ["variable input.a missing", (j) => delete j.input.a],
      ["mean is a string", (j) => (j.input.a.mean = "1.5")],
      ["std is 0", (j) => (j.output.a.std = 0)],
      ["std is negative", (j) => (j.output.a.std = -2)],
      ["entry is null", (j) => (j.invariant.ramp = null)],
    ]),
    [
      "mean is 1e999 (Infinity)",
      enc.encode(JSON.stringify(fixtureStats(fx)).replace('"mean":1.5', '"mean":1e999')),
      "error",
    ],
    ["top level is a list", enc.encode("[1, 2]"), "error"],
  ];
  await fileCases("stats.json", "hrrr_mini", "stats.json", statsMutants, async (d) => {
    await Deno.writeFile(`${d}/train.nc`, hrrr);
    return { dataPath: `${d}/train.nc` };
  });

  // Zarr stores (CWB layout): zlib chunks with per-array metadata, and raw chunks with consolidated
  // metadata (which zarr readers use instead of the per-array documents).
  for (
    const [label, opts] of [["zlib", { compressor: "zlib" }], ["raw, consolidated", {
      consolidated: true,
    }]] as const
  ) {
    for (const [mutation, edit, expect] of zarrMutations(rng, label === "zlib")) {
      const d = await caseDir();
      const path = `${d}/cwb.zarr`;
      await writeZarrStore(path, cwbArrays(mutation.startsWith("NaN")), opts);
      await edit(path);
      add({ kind: "Zarr store", mutation: `${label}: ${mutation}`, reader: "cwb", path, expect });
    }
  }

  // Network checkpoints: ours (safetensors) and PhysicsNeMo's .mdlus (zip and legacy tar).
  const mdlus = readMdlus(`${CKPT}/regression_16x24.mdlus`);
  const weights = new Map([...mdlus.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
  const netMeta = { __name__: mdlus.network.class, __args__: JSON.stringify(mdlus.network.kwargs) };
  const net = encodeSafetensors(weights, netMeta);
  const firstWeight = [...weights.keys()][0];
  await fileCases("safetensors network checkpoint", "network", "Net.0.8.safetensors", [
    ...damage(net, rng, { truncations: 12, headerFlips: 16, dataFlips: 4, header: headerEnd(net) }),
    ["__args__ metadata missing", encodeSafetensors(weights, { __name__: netMeta.__name__ }), "error"],
    ["a weight missing", encodeSafetensors(new Map([...weights].slice(1)), netMeta), "error"],
    ["dtype F16 in the header", editHeader(net, (h) => (h[firstWeight].dtype = "F16")), "error"],
    ["shape transposed", editHeader(net, (h) => h[firstWeight].shape.reverse()), "error"],
    ["NaN in a weight", encodeSafetensors(poisonMap(weights, firstWeight, NaN), netMeta), "error"],
    ["-Inf in a weight", encodeSafetensors(poisonMap(weights, firstWeight, -Infinity), netMeta), "error"],
  ]);
  const zip = Deno.readFileSync(`${CKPT}/regression_16x24.mdlus`);
  const tar = Deno.readFileSync(`${CKPT}/regression_16x24.fp16_legacy_tar.mdlus`);
  const zipMembers = members(zip);
  await fileCases("PhysicsNeMo .mdlus (zip)", "network", "Net.0.8.mdlus", [
    ...damage(zip, rng, { truncations: 10, headerFlips: 8, dataFlips: 4, header: 200 }),
    ...tailFlips(zip, rng, 6),
    ["args.json missing", writeZip(zipMembers.filter(([n]) => n !== "args.json")), "error"],
    [
      "args.json not JSON",
      writeZip(zipMembers.map(([n, b]) => [n, n === "args.json" ? b.slice(0, 20) : b])),
      "error",
    ],
    [
      "NaN in a weight of model.pt",
      writeZip(zipMembers.map(([n, b]) => [n, n === "model.pt" ? nanStorage(b) : b])),
      "error",
    ],
  ]);
  await fileCases("PhysicsNeMo .mdlus (legacy tar)", "network", "Net.0.8.mdlus", [
    ...damage(tar, rng, { truncations: 6, headerFlips: 6, dataFlips: 2, header: 512 }),
    [
      "metadata.json missing",
      writeTar(members(tar, true).filter(([n]) => !n.endsWith("metadata.json"))),
      "error",
    ],
  ]);

  // Training state: ours (safetensors) and PhysicsNeMo's checkpoint.0.<N>.pt.
  const state = trainState();
  await fileCases("training-state checkpoint (ours)", "train_state", "checkpoint.0.8.safetensors", [
    ...damage(state.bytes, rng, {
      truncations: 8,
      headerFlips: 10,
      dataFlips: 2,
      header: headerEnd(state.bytes),
    }),
    ["data_order missing", trainState({ dropOrder: true }).bytes, "error"],
    ["data_order stored as F32", trainState({ floatOrder: true }).bytes, "error"],
    ["format metadata missing", trainState({ noFormat: true }).bytes, "error"],
    ["training_state not JSON", trainState({ badJson: true }).bytes, "error"],
    ["NaN in exp_avg_sq", trainState({ nan: true }).bytes, "error"],
  ]);
  const pt = Deno.readFileSync(`${CKPT}/checkpoints_regression/checkpoint.0.4.pt`);
  await fileCases("PyTorch checkpoint.0.<N>.pt", "torch_optimizer", "checkpoint.0.4.pt", [
    ...damage(pt, rng, { truncations: 8, headerFlips: 4, dataFlips: 3, header: 200 }),
    ...tailFlips(pt, rng, 5),
    ["NaN in every stored tensor", nanStorage(pt, "all"), "error"],
  ]);

  // YAML configs, in a config tree with a group.
  const conf =
    "defaults:\n  - model: tiny\n  - _self_\n\ntraining:\n  hp:\n    lr: 0.0002\n    batch: [1, 2]\n" +
    "  io:\n    name: run_${model.name}\n";
  const confBytes = enc.encode(conf);
  const yamlMutants: Mutant[] = [
    // The start of a YAML document is often a valid document itself.
    ...damage(confBytes, rng, {
      truncations: 6,
      headerFlips: 8,
      dataFlips: 0,
      header: confBytes.length,
      cutsMayBeValid: true,
    }),
    ...([
      ["tab indentation", conf.replace("    lr", "\tlr")],
      ["unclosed flow sequence", conf.replace("[1, 2]", "[1, 2")],
      ["duplicate key", conf + "training:\n  x: 1\n"],
      ["unknown tag", conf.replace("0.0002", "!float16 0.0002")],
      ["defaults not a list", conf.replace("defaults:\n  - model: tiny\n  - _self_", "defaults: model")],
      ["unknown group option", conf.replace("model: tiny", "model: tinny")],
      ["top level is a list", "- a\n- b\n"],
      ["unresolvable interpolation", conf.replace("${model.name}", "${model.nme}")],
    ] as const).map(([m, t]): Mutant => [m, enc.encode(t), "error"]),
  ];
  await fileCases("YAML config", "config", "main.yaml", yamlMutants, async (d) => {
    await Deno.mkdir(`${d}/model`);
    await Deno.writeTextFile(`${d}/model/tiny.yaml`, "name: tiny\nchannels: 4\n");
    return {};
  });

  // Last, so that Python had time to write it.
  await fileCases(
    "NetCDF4 generation file (netCDF-C)",
    "generation",
    "gen.nc",
    damage(await genCPending, rng, { truncations: 10, headerFlips: 14, dataFlips: 3, header: 4096 }),
  );

  // The commands, as a user runs them (subprocesses): score and spectra on damaged generation files.
  // (A few: each is a process start.)
  const cli: Mutant[] = [
    ["truncated to half", gen.slice(0, gen.length >> 1), "error"],
    ["superblock checksum byte flipped", flipBit(gen, 44, 2), "error"],
    ["group 'prediction' missing", Deno.readFileSync(`${seeds}/g1.nc`), "error"],
    ["empty file", new Uint8Array(0), "error"],
  ];
  for (const reader of ["score_cli", "spectra_cli"] as const) {
    const list = reader === "score_cli" ? cli : cli.slice(0, 2);
    await fileCases(
      `${reader === "score_cli" ? "score" : "spectra"} command`,
      reader,
      "gen.nc",
      list,
      async (d) => {
        await Deno.mkdir(`${d}/out`);
        return { outDir: `${d}/out` };
      },
    );
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// NetCDF seeds

async function ncBytes(dir: string, name: string, spec: NcGroupSpec): Promise<Uint8Array> {
  await writeNetCDF4(`${dir}/${name}`, spec);
  return Deno.readFileSync(`${dir}/${name}`);
}

/** A generation file's layout (what GenerationWriter writes), with optional damage. */
function generationSpec(
  o: { drop?: string; intPrediction?: boolean; flatPrediction?: boolean; nan?: boolean } = {},
): NcGroupSpec {
  const [T, E, Y, X] = [2, 2, 6, 8];
  const field = (n: number) => Float32Array.from({ length: n }, (_, i) => 280 + (i % 13) * 0.5);
  const pred = field(E * T * Y * X);
  if (o.nan) pred.fill(NaN, 0, Y * X), pred[Y * X] = Infinity;
  const attrs = { units: "K", long_name: "2 m temperature" };
  const groups: Record<string, NcGroupSpec> = {
    input: { vars: [{ name: "t2m", dims: ["time", "y", "x"], data: field(T * Y * X), attrs }] },
    truth: { vars: [{ name: "t2m", dims: ["time", "y", "x"], data: field(T * Y * X), attrs }] },
    prediction: {
      vars: [{
        name: "t2m",
        dims: o.flatPrediction ? ["time", "y", "x"] : ["ensemble", "time", "y", "x"],
        data: o.intPrediction ? Int32Array.from(pred) : o.flatPrediction ? pred.subarray(0, T * Y * X) : pred,
        attrs,
      }],
    },
  };
  if (o.drop) delete groups[o.drop];
  const grid = (f: (y: number, x: number) => number) =>
    Float32Array.from({ length: Y * X }, (_, i) => f(Math.floor(i / X), i % X));
  return {
    attrs: { Conventions: "CF-1.8", title: "fuzz seed" },
    dims: { time: T, ensemble: E, y: Y, x: X },
    vars: [
      { name: "lat", dims: ["y", "x"], data: grid((y) => 50 + 0.03 * y), attrs: { units: "degrees_north" } },
      { name: "lon", dims: ["y", "x"], data: grid((_, x) => 0.03 * x), attrs: { units: "degrees_east" } },
      {
        name: "time",
        dims: ["time"],
        data: BigInt64Array.of(255000n, 255001n),
        attrs: { units: "hours since 1990-01-01 00:00:00", calendar: "standard" },
      },
    ],
    groups,
  };
}

/** The same layout written by netCDF-C (netCDF4-python), with a deflated variable. */
async function netcdfCGeneration(dir: string): Promise<Uint8Array> {
  const path = `${dir}/gen_c.nc`;
  await runPython(
    `
import sys, netCDF4, numpy as np
ds = netCDF4.Dataset(sys.argv[1], "w")
for d, n in [("time", 2), ("ensemble", 2), ("y", 6), ("x", 8)]: ds.createDimension(d, n)
t = ds.createVariable("time", "i8", ("time",)); t.units = "hours since 1990-01-01 00:00:00"; t[:] = [255000, 255001]
for n in ("lat", "lon"): ds.createVariable(n, "f4", ("y", "x"))[:] = np.arange(48).reshape(6, 8) * 0.01
for g in ("input", "truth", "prediction"):
    dims = ("ensemble", "time", "y", "x") if g == "prediction" else ("time", "y", "x")
    v = ds.createGroup(g).createVariable("t2m", "f4", dims, zlib=(g == "truth")); v.units = "K"
    v[:] = 280 + np.arange(np.prod([ds.dimensions[d].size for d in dims])).reshape(v.shape) % 13 * 0.5
ds.close()
`,
    [path],
  );
  return Deno.readFileSync(path);
}

function floatCoord(s: NcGroupSpec): void {
  const coord = s.vars!.find((v) => v.name === "coord")!;
  coord.data = Float64Array.from(coord.data as BigInt64Array, Number);
}

function flattenFirst(g: NcGroupSpec): void {
  const v = g.vars![0];
  g.dims = { ...g.dims, n: (v.data as Float32Array).length };
  v.dims = ["n"];
}

function poison(g: NcGroupSpec, value: number): void {
  const data = g.vars!.at(-1)!.data as Float32Array;
  data[3] = value;
}

// ---------------------------------------------------------------------------------------------
// Zarr seeds

const T = 3, C = 2, N = 4;

function cwbArrays(nan = false): Record<string, ZarrArraySpec> {
  const field = Float32Array.from({ length: T * C * N * N }, (_, i) => 280 + (i % 17));
  const era5 = field.slice();
  if (nan) era5[N * N + 5] = NaN;
  const vec = (data: number[] | string[], dtype: ZarrArraySpec["dtype"]) => ({
    shape: [data.length],
    dtype,
    data,
  });
  return {
    cwb: { shape: [T, C, N, N], chunks: [1, C, 2, 4], dtype: "<f4", data: field },
    era5: { shape: [T, C, N, N], chunks: [1, C, N, N], dtype: "<f4", data: era5 },
    cwb_center: vec([280, 285], "<f4"),
    cwb_scale: vec([5, 6], "<f4"),
    cwb_variable: vec(["temperature_2m", "eastward_wind_10m"], "<U20"),
    cwb_pressure: vec([NaN, NaN], "<f8"),
    cwb_valid: vec([1, 1, 1], "|i1"),
    era5_center: vec([280, 285], "<f4"),
    era5_scale: vec([5, 6], "<f4"),
    era5_variable: vec(["temperature", "u_component_of_wind"], "<U20"),
    era5_pressure: vec([500, NaN], "<f8"),
    era5_valid: { shape: [T, C], dtype: "|b1", data: [true, true, true, true, true, true] },
    time: {
      shape: [T],
      dtype: "<i8",
      data: [0, 12, 24],
      attrs: { units: "hours since 2019-01-01 00:00:00" },
    },
    XLAT: { shape: [N, N], dtype: "<f4", data: new Float32Array(N * N).fill(23) },
    XLONG: { shape: [N, N], dtype: "<f4", data: new Float32Array(N * N).fill(121) },
  };
}

type StoreEdit = (store: string) => Promise<void>;

/**
 * Damage to one file of a store: chunks always; the per-array documents for a store without
 * consolidated metadata, `.zmetadata` for one with it.
 */
function zarrMutations(rng: Rng, perArray: boolean): [string, StoreEdit, "error" | "any"][] {
  const edit = (file: string, f: (b: Uint8Array) => Uint8Array): StoreEdit => async (s) => {
    await Deno.writeFile(`${s}/${file}`, f(await Deno.readFile(`${s}/${file}`)));
  };
  // deno-lint-ignore no-explicit-any
  const json = (file: string, f: (j: any) => void): StoreEdit =>
    edit(file, (b) => {
      const j = JSON.parse(new TextDecoder().decode(b));
      f(j);
      return enc.encode(JSON.stringify(j));
    });
  const flip = (file: string, size: number): [string, StoreEdit, "any"] => {
    const at = Math.floor(rng.uniform() * size), bit = rng.nextU32() % 8;
    return [
      `bit ${bit} of byte ${at} of ${file} flipped`,
      edit(file, (b) => flipBit(b, Math.min(at, b.length - 1), bit)),
      "any",
    ];
  };
  const chunks: [string, StoreEdit, "error" | "any"][] = [
    ["era5/0.0.0.0 chunk truncated", edit("era5/0.0.0.0", (b) => b.slice(0, b.length >> 1)), "error"],
    ["cwb/1.0.1.0 chunk emptied", edit("cwb/1.0.1.0", () => new Uint8Array(0)), "error"],
    ["NaN in era5", () => Promise.resolve(), "error"],
    flip("era5/2.0.0.0", perArray ? 60 : 128),
    flip("cwb/0.0.0.0", perArray ? 40 : 64),
  ];
  if (!perArray) {
    return [
      ...chunks,
      // zarrita then falls back to the per-array documents, which are intact: a normal result is right.
      ["consolidated .zmetadata truncated", edit(".zmetadata", (b) => b.slice(0, 300)), "any"],
      [
        "consolidated .zmetadata not JSON",
        edit(".zmetadata", (b) => b.map((x) => (x === 0x22 ? 0x27 : x))),
        "any",
      ],
      flip(".zmetadata", 2000),
      flip(".zmetadata", 2000),
      flip(".zmetadata", 2000),
    ];
  }
  return [
    ...chunks,
    ["cwb/.zarray truncated", edit("cwb/.zarray", (b) => b.slice(0, 40)), "error"],
    ["time/.zarray emptied", edit("time/.zarray", () => new Uint8Array(0)), "error"],
    ["array 'cwb_center' missing", (s) => Deno.remove(`${s}/cwb_center`, { recursive: true }), "error"],
    ["time/.zattrs missing (no units)", (s) => Deno.remove(`${s}/time/.zattrs`), "error"],
    ["cwb dtype <f8 instead of <f4", json("cwb/.zarray", (j) => (j.dtype = "<f8")), "error"],
    ["era5 shape [3, 2, 4, 400000000]", json("era5/.zarray", (j) => (j.shape[3] = 4e8)), "error"],
    ["cwb_valid shape [300000000]", json("cwb_valid/.zarray", (j) => (j.shape = [3e8])), "error"],
    flip("cwb/.zarray", 150),
    flip("era5/.zarray", 150),
    flip("time/.zarray", 150),
    flip("XLAT/.zarray", 150),
  ];
}

// ---------------------------------------------------------------------------------------------
// Checkpoint seeds

/** The members of a zip (or tar) archive, in order. */
function members(bytes: Uint8Array, tar = false): [string, Uint8Array][] {
  if (tar) {
    const out: [string, Uint8Array][] = [];
    for (let p = 0; p + 512 <= bytes.length && bytes[p] !== 0;) {
      const name = new TextDecoder().decode(bytes.subarray(p, p + 100)).replace(/\0.*$/s, "");
      const size = parseInt(new TextDecoder().decode(bytes.subarray(p + 124, p + 136)), 8);
      out.push([name, bytes.slice(p + 512, p + 512 + size)]);
      p += 512 + Math.ceil(size / 512) * 512;
    }
    return out;
  }
  const z = new ZipArchive(bytes, "fuzz seed");
  return z.names.map((n) => [n, z.read(n)]);
}

/** A torch zip (model.pt or checkpoint .pt) with the first value of one storage (or all) set to NaN. */
function nanStorage(pt: Uint8Array, which: number | "all" = 0): Uint8Array {
  const m = members(pt);
  const storages = m.map(([n], i) => [n, i] as const).filter(([n]) => /\/data\/\d+$/.test(n));
  for (const [, index] of which === "all" ? storages : [storages.at(which)!]) {
    const data = m[index][1].slice();
    if (data.length >= 4) new DataView(data.buffer).setFloat32(0, NaN, true);
    m[index] = [m[index][0], data];
  }
  return writeZip(m);
}

function poisonMap(
  weights: Map<string, { shape: number[]; data: Float32Array }>,
  key: string,
  value: number,
): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map(weights);
  const t = weights.get(key)!;
  const data = t.data.slice();
  data[data.length - 1] = value;
  out.set(key, { shape: t.shape, data });
  return out;
}

/** A training-state file as saveCheckpoint lays it out, with optional damage. */
function trainState(
  o: { dropOrder?: boolean; floatOrder?: boolean; noFormat?: boolean; badJson?: boolean; nan?: boolean } = {},
) {
  const tensors = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
  const w = Float32Array.from({ length: 24 }, (_, i) => i * 1e-3);
  tensors.set("exp_avg.w", { shape: [24], data: w });
  tensors.set("exp_avg_sq.w", {
    shape: [24],
    data: o.nan ? w.map((x, i) => (i === 7 ? NaN : x * x)) : w.map((x) => x * x),
  });
  if (!o.dropOrder) {
    tensors.set(
      "data_order",
      o.floatOrder
        ? { shape: [4], data: Float32Array.of(2, 0, 3, 1) }
        : { shape: [4], data: BigInt64Array.of(2n, 0n, 3n, 1n) },
    );
  }
  tensors.set("data_rng_key", {
    shape: [624],
    data: BigInt64Array.from({ length: 624 }, (_, i) => BigInt(i)),
  });
  const training = {
    curNimg: 8,
    step: 2,
    lr: 2e-4,
    rng: [1, 2, 3, 4],
    nonFiniteGrads: 0,
    bestValidation: null,
    wallSeconds: 1.5,
    samplerIdx: 2,
    samplerPos: 3,
  };
  return {
    bytes: encodeSafetensors(tensors, {
      ...(o.noFormat ? {} : { format: "corrdiff-webgpu training state 1" }),
      network: "CorrDiffRegressionUNet.0.8.safetensors",
      training_state: o.badJson ? "{curNimg: 8" : JSON.stringify(training),
      config: "{}",
    }),
  };
}
