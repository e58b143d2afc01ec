/** End to end: `deno task spectra` on a small generation file written with our GenerationWriter. */

import { GenerationWriter } from "../../src/io/generation_file.ts";
import { openNetCDF } from "../../src/io/netcdf_read.ts";
import {
  autocorrelation,
  averagePowerSpectrum,
  correlationLength,
  haversine,
  radialPowerSpectrum,
  swapLastAxes,
} from "../../src/metrics/spectra.ts";
import { assert, assertAlmostEquals, assertEquals } from "../helpers/assert.ts";
import { pngInfo } from "./png.ts";

const CLI = new URL("../../src/cli/spectra.ts", import.meta.url).pathname;
const H = 64, W = 48, T = 3, E = 3;
const PLANE = H * W;

function normals(seed: number, n: number): Float64Array {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Float64Array.from(
    { length: n },
    () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
  );
}

/** Periodic Gaussian smoothing (std `sigma` pixels) of one (H, W) field, separably. */
function smooth(field: Float64Array, sigma: number): Float64Array {
  const radius = Math.ceil(4 * sigma);
  const kernel = Array.from(
    { length: 2 * radius + 1 },
    (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)),
  );
  const rows = new Float64Array(PLANE), out = new Float64Array(PLANE);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      let s = 0;
      for (let k = -radius; k <= radius; k++) s += kernel[k + radius] * field[i * W + ((j + k + W * 8) % W)];
      rows[i * W + j] = s;
    }
  }
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      let s = 0;
      for (let k = -radius; k <= radius; k++) s += kernel[k + radius] * rows[((i + k + H * 8) % H) * W + j];
      out[i * W + j] = s;
    }
  }
  return out;
}

/** Truth, input and members: members are truth plus smooth noise, so truth - mean is smooth noise. */
function synthetic(offset: number, seed: number) {
  const truth = new Float32Array(T * PLANE),
    input = new Float32Array(T * PLANE),
    prediction = new Float32Array(E * T * PLANE);
  for (let t = 0; t < T; t++) {
    const base = smooth(normals(seed + t, PLANE), 6);
    for (let p = 0; p < PLANE; p++) {
      truth[t * PLANE + p] = offset + 10 * base[p];
      input[t * PLANE + p] = offset + 8 * base[p];
    }
    for (let m = 0; m < E; m++) {
      const noise = smooth(normals(1000 * seed + 10 * t + m, PLANE), 2);
      for (let p = 0; p < PLANE; p++) prediction[(m * T + t) * PLANE + p] = truth[t * PLANE + p] + noise[p];
    }
  }
  return { truth, input, prediction };
}

async function writeFile(path: string, withLatLon: boolean) {
  const lat = new Float32Array(PLANE), lon = new Float32Array(PLANE);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      lat[i * W + j] = withLatLon ? 10 - 0.018 * i : NaN;
      lon[i * W + j] = withLatLon ? 20 + 0.018 * j : NaN;
    }
  }
  const t2m = synthetic(280, 1), refc = synthetic(0, 2);
  const writer = await GenerationWriter.create({
    path,
    ny: H,
    nx: W,
    lat,
    lon,
    inputVariables: [{ name: "t2m", units: "K", longName: "2 m temperature" }],
    outputVariables: [
      { name: "t2m", units: "K", longName: "2 m temperature" },
      { name: "refc", units: "dBZ", longName: "composite reflectivity" },
    ],
    nEnsemble: E,
    times: Array.from({ length: T }, (_, t) => new Date(Date.UTC(2020, 1, 2, t))),
  });
  const stack = (a: Float32Array, b: Float32Array, start: number) => {
    const out = new Float32Array(2 * PLANE);
    out.set(a.subarray(start, start + PLANE), 0);
    out.set(b.subarray(start, start + PLANE), PLANE);
    return out;
  };
  for (let t = 0; t < T; t++) {
    writer.writeInput(t, t2m.input.slice(t * PLANE, (t + 1) * PLANE));
    writer.writeTruth(t, stack(t2m.truth, refc.truth, t * PLANE));
    for (let m = 0; m < E; m++) {
      writer.writePrediction(m, t, stack(t2m.prediction, refc.prediction, (m * T + t) * PLANE));
    }
  }
  await writer.close();
  return { t2m, refc, lat, lon };
}

async function runCli(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

function maxRelative(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assertEquals(actual.length, expected.length, "length");
  let err = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return err / scale;
}

Deno.test("spectra CLI: spectra.nc, charts, sample map and the patch suggestion", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { t2m, refc, lat, lon } = await writeFile(`${dir}/gen.nc`, true);
    const run = await runCli([`${dir}/gen.nc`, "--out", `${dir}/out`, "--sample-map", "1"]);
    assertEquals(run.code, 0, `CLI failed: ${run.stderr}`);

    // Spacing from the lat/lon grid: mean haversine between neighbours.
    let dxSum = 0;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j + 1 < W; j++) {
        dxSum += haversine(lat[i * W + j], lon[i * W + j], lat[i * W + j + 1], lon[i * W + j + 1]);
      }
    }
    const dx = dxSum / (H * (W - 1)) / 1000, dy = haversine(10, 20, 10 - 0.018, 20) / 1000;

    const nc = await openNetCDF(`${dir}/out/spectra.nc`);
    try {
      assertAlmostEquals(nc.attrs.dx_km as number, dx, 1e-6);
      assertAlmostEquals(nc.attrs.dy_km as number, dy, 1e-4);
      assertEquals(nc.group("").groups.sort(), ["refc", "t2m"]);
      assertEquals(nc.hasVariable("refc/spectrum_input"), false);
      const dims = [T, H, W];
      // What the file says must be what the library gives on the same fields.
      const truth1d = averagePowerSpectrum(t2m.truth, dims, dx);
      assert(maxRelative(nc.read("t2m/freq") as Float64Array, truth1d.freqs) < 1e-7, "freq");
      assert(
        maxRelative(nc.read("t2m/spectrum_truth") as Float64Array, truth1d.spectrum) < 1e-6,
        "truth spectrum",
      );
      const members = averagePowerSpectrum(refc.prediction, [E, ...dims], dx);
      assert(
        maxRelative(nc.read("refc/spectrum_prediction") as Float64Array, members.spectrum) < 1e-6,
        "members spectrum",
      );
      const radial = radialPowerSpectrum(t2m.input, dims, dy, dx);
      assert(
        maxRelative(nc.read("t2m/radial_spectrum_input") as Float64Array, radial.spectrum) < 1e-6,
        "radial input",
      );
      assert(
        maxRelative(nc.read("t2m/acf_truth") as Float64Array, autocorrelation(truth1d.spectrum, W)) < 1e-6,
        "acf",
      );

      // Residual truth - ensemble mean, and its correlation length at the default threshold 0.1.
      const residual = Float64Array.from(refc.truth, (v, i) => {
        let mean = 0;
        for (let m = 0; m < E; m++) mean += refc.prediction[m * T * PLANE + i] / E;
        return v - mean;
      });
      const acfX = autocorrelation(averagePowerSpectrum(residual, dims, dx).spectrum, W);
      const acfY = autocorrelation(
        averagePowerSpectrum(swapLastAxes(residual, dims), [T, W, H], dy).spectrum,
        H,
      );
      assert(maxRelative(nc.read("refc/residual_acf_y") as Float64Array, acfY) < 1e-6, "residual acf y");
      const lengthX = correlationLength(acfX, 0.1)!;
      assertAlmostEquals(
        nc.variable("refc/residual_acf_x").attrs.correlation_length_pixels as number,
        lengthX,
        1e-9,
      );
      assert(
        lengthX > 2 && lengthX < 16,
        `residual correlation length ${lengthX} px for noise smoothed with sigma 2 px`,
      );
      assert(run.stdout.includes(`refc: x ${lengthX.toFixed(1)} px`), run.stdout);
      assert(run.stdout.includes("suggested minimum patch size: 32x32 px"), run.stdout);
      assertEquals(nc.attrs.suggested_patch_size, 32);
    } finally {
      nc.close();
    }

    const files = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort();
    const expected = ["spectra.nc", "sample_map_t1.png", "sample_map_t1.svg"];
    for (const v of ["refc", "t2m"]) {
      for (const c of ["acf", "radial_spectra", "spectra"]) expected.push(`${v}_${c}.png`, `${v}_${c}.svg`);
    }
    assertEquals(files, expected.sort());
    const svg = await Deno.readTextFile(`${dir}/out/t2m_spectra.svg`);
    assert(
      svg.includes("Frequency (1/km)") && svg.includes("K") && svg.includes("ensemble mean"),
      "spectra SVG titles",
    );
    const map = await pngInfo(await Deno.readFile(`${dir}/out/sample_map_t1.png`));
    assert(map.nonWhite > 0.1 * map.width * map.height, "sample map drawn");
    assert(
      (await Deno.readTextFile(`${dir}/out/sample_map_t1.svg`)).includes("2020-02-02T01:00:00"),
      "time in title",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spectra CLI: without lat/lon it asks for --dx, and honours it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeFile(`${dir}/gen.nc`, false);
    const refused = await runCli([`${dir}/gen.nc`, "--out", `${dir}/out`]);
    assertEquals(refused.code, 1);
    assert(refused.stderr.includes("pass --dx KM"), refused.stderr);
    const run = await runCli([
      `${dir}/gen.nc`,
      "--out",
      `${dir}/out`,
      "--dx",
      "3",
      "--residual",
      "member-mean",
      "--threshold",
      "0.3679",
    ]);
    assertEquals(run.code, 0, run.stderr);
    const nc = await openNetCDF(`${dir}/out/spectra.nc`);
    try {
      assertEquals([nc.attrs.dx_km, nc.attrs.dy_km, nc.attrs.residual], [3, 3, "member-mean"]);
      const lag = nc.read("t2m/lag_y") as Float64Array;
      assertEquals(Array.from(lag.slice(0, 3)), [0, 3, 6]);
      assertEquals(lag.length, H / 2 + 1);
    } finally {
      nc.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
