/**
 * Test fixtures for the data layer: small HRRR-mini files (NetCDF4 through the project's writer,
 * NetCDF3 through the hand-made encoder) and statistics files. Shared-data paths: ../helpers/shared.ts.
 */

import { type NcGroupSpec, writeNetCDF4 } from "../../src/io/netcdf_write.ts";
import { encodeNetCDF3, type Nc3Var } from "./nc3_fixture.ts";

/** A small HRRR-mini dataset in memory. */
export interface HrrrFixture {
  T: number;
  h: number;
  w: number;
  f: number;
  inputs: Record<string, Float32Array>;
  outputs: Record<string, Float32Array>;
  invariants: Record<string, Float32Array>;
  invShape: [number, number];
  /** `(T, 2)` window offsets. */
  coords: number[];
  /** Time values in `timeUnits`. */
  times: number[];
  timeUnits: string;
}

/**
 * A fixture with analytic content: input `a` is a plane in the coarse pixel-centre coordinates
 * (so bilinear up-sampling must reproduce the plane exactly), `b` a constant per time; outputs
 * `a` and `b` are the same planes/constants on the fine grid plus 0.5 K; two invariants on a larger
 * grid, `ramp = 1000 row + col` and `one = 1`; windows move with time.
 */
export function analyticFixture(T = 4, h = 3, w = 4, f = 2): HrrrFixture {
  const H = h * f, W = w * f, Y = H + T, X = W + 2 * T;
  const plane = (t: number, r: number, c: number) => 280 + t + 0.75 * r - 1.25 * c;
  const a = new Float32Array(T * h * w), b = new Float32Array(T * h * w);
  const oa = new Float32Array(T * H * W), ob = new Float32Array(T * H * W);
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) a[(t * h + r) * w + c] = plane(t, r, c), b[(t * h + r) * w + c] = 10 * t;
    }
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        // Fine pixel (r, c) sits at coarse coordinate ((r + 0.5) / f - 0.5, (c + 0.5) / f - 0.5).
        oa[(t * H + r) * W + c] = plane(t, (r + 0.5) / f - 0.5, (c + 0.5) / f - 0.5) + 0.5;
        ob[(t * H + r) * W + c] = 10 * t + 0.5;
      }
    }
  }
  const ramp = new Float32Array(Y * X), one = new Float32Array(Y * X).fill(1);
  for (let r = 0; r < Y; r++) for (let c = 0; c < X; c++) ramp[r * X + c] = 1000 * r + c;
  const coords: number[] = [];
  for (let t = 0; t < T; t++) coords.push(t, 2 * t);
  return {
    T,
    h,
    w,
    f,
    inputs: { a, b },
    outputs: { a: oa, b: ob },
    invariants: { ramp, one },
    invShape: [Y, X],
    coords,
    times: Array.from({ length: T }, (_, t) => 430944 + 6 * t),
    timeUnits: "hours since 1970-01-01 00:00:00",
  };
}

/** The HRRR-mini NetCDF4 layout of a fixture, for {@link writeNetCDF4} (tests may edit it first). */
export function hrrrMiniSpec(fx: HrrrFixture): NcGroupSpec {
  const H = fx.h * fx.f, W = fx.w * fx.f;
  const group = (vars: Record<string, Float32Array>, dims: string[]) =>
    Object.entries(vars).map(([name, data]) => ({
      name,
      dims,
      data,
      attrs: { units: "K", long_name: `field ${name}` },
    }));
  return {
    attrs: { title: "test fixture", upsample_factor: fx.f },
    dims: { time: fx.T, ij: 2 },
    vars: [
      {
        name: "time",
        dims: ["time"],
        data: BigInt64Array.from(fx.times, BigInt),
        attrs: { units: fx.timeUnits, calendar: "standard" },
      },
      { name: "coord", dims: ["time", "ij"], data: BigInt64Array.from(fx.coords, BigInt) },
    ],
    groups: {
      input: {
        dims: { time: fx.T, y_lr: fx.h, x_lr: fx.w },
        vars: group(fx.inputs, ["time", "y_lr", "x_lr"]),
      },
      output: { dims: { time: fx.T, y: H, x: W }, vars: group(fx.outputs, ["time", "y", "x"]) },
      invariant: {
        dims: { y_inv: fx.invShape[0], x_inv: fx.invShape[1] },
        vars: group(fx.invariants, ["y_inv", "x_inv"]),
      },
    },
  };
}

/** Statistics for a fixture: every variable of every group gets the given mean and std. */
export function fixtureStats(
  fx: HrrrFixture,
  mean = 1.5,
  std = 2,
): Record<string, Record<string, { mean: number; std: number }>> {
  const g = (vars: Record<string, unknown>) =>
    Object.fromEntries(Object.keys(vars).map((v) => [v, { mean, std }]));
  return { input: g(fx.inputs), output: g(fx.outputs), invariant: g(fx.invariants) };
}

/** Writes a fixture (NetCDF4) and its statistics into `dir`; returns both paths. */
export async function writeHrrrMiniFixture(
  dir: string,
  fx: HrrrFixture,
  edit: (spec: NcGroupSpec) => void = () => {},
): Promise<{ dataPath: string; statsPath: string }> {
  const spec = hrrrMiniSpec(fx);
  edit(spec);
  const dataPath = `${dir}/train.nc`, statsPath = `${dir}/stats.json`;
  await writeNetCDF4(dataPath, spec);
  await Deno.writeTextFile(statsPath, JSON.stringify(fixtureStats(fx)));
  return { dataPath, statsPath };
}

/** The same fixture as a NetCDF3 file with the `group_variable` naming. */
export function hrrrMiniNc3(fx: HrrrFixture, version: 1 | 2 = 1): Uint8Array {
  const H = fx.h * fx.f, W = fx.w * fx.f;
  const vars: Nc3Var[] = [
    { name: "time", dims: ["time"], type: "int", data: fx.times, attrs: { units: fx.timeUnits } },
    { name: "coord", dims: ["time", "ij"], type: "int", data: fx.coords },
  ];
  for (const [n, d] of Object.entries(fx.inputs)) {
    vars.push({ name: `input_${n}`, dims: ["time", "y_lr", "x_lr"], type: "float", data: d });
  }
  for (const [n, d] of Object.entries(fx.outputs)) {
    vars.push({ name: `output_${n}`, dims: ["time", "y", "x"], type: "float", data: d });
  }
  for (const [n, d] of Object.entries(fx.invariants)) {
    vars.push({ name: `invariant_${n}`, dims: ["y_inv", "x_inv"], type: "float", data: d });
  }
  return encodeNetCDF3({
    version,
    numRecs: fx.T,
    dims: [["time", null], ["ij", 2], ["y_lr", fx.h], ["x_lr", fx.w], ["y", H], ["x", W], [
      "y_inv",
      fx.invShape[0],
    ], ["x_inv", fx.invShape[1]]],
    vars,
  });
}

/** Root-mean-square difference. */
export function rms(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

/** Largest absolute difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * An HRRR-mini fixture with the given variable names: coarse `h x w` inputs, fine `(f h) x (f w)`
 * outputs (smooth waves of amplitude ~2 about 1.5, the fixture statistics), invariants on the fine
 * grid, every window at (0, 0).
 */
export function hrrrStandIn(o: {
  inputs: string[];
  outputs: string[];
  invariants: string[];
  h: number;
  w: number;
  f: number;
  times: number[];
  timeUnits: string;
}): HrrrFixture {
  const { h, w, f } = o, T = o.times.length, H = h * f, W = w * f;
  const wave = (t: number, c: number, y: number, x: number, n: number) =>
    1.5 + 2 * Math.sin(2 * Math.PI * (x / n + 0.5 * y / n) + 0.7 * t + c) +
    0.3 * Math.cos(0.9 * y - 0.4 * x + t);
  const fields = (names: string[], hh: number, ww: number, TT: number) =>
    Object.fromEntries(names.map((name, c) => {
      const a = new Float32Array(TT * hh * ww);
      for (let t = 0; t < TT; t++) {
        for (let y = 0; y < hh; y++) {
          for (let x = 0; x < ww; x++) a[(t * hh + y) * ww + x] = wave(t, c, y, x, ww);
        }
      }
      return [name, a];
    }));
  return {
    T,
    h,
    w,
    f,
    inputs: fields(o.inputs, h, w, T),
    outputs: fields(o.outputs, H, W, T),
    invariants: fields(o.invariants, H, W, 1),
    invShape: [H, W],
    coords: new Array(2 * T).fill(0),
    times: o.times,
    timeUnits: o.timeUnits,
  };
}
