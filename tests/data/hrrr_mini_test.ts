import { createDataset, HrrrMiniDataset } from "../../src/data/mod.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../helpers/assert.ts";
import { analyticFixture, fixtureStats, hrrrMiniNc3, maxAbsDiff, writeHrrrMiniFixture } from "./fixtures.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Expected raw input of the analytic fixture: the fine plane, the constant, and the invariant windows. */
function expectedInput(fx: ReturnType<typeof analyticFixture>, t: number): Float32Array {
  const H = fx.h * fx.f, W = fx.w * fx.f, [, X] = fx.invShape;
  const out = new Float32Array(4 * H * W);
  const [i, j] = [fx.coords[2 * t], fx.coords[2 * t + 1]];
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const p = r * W + c;
      out[p] = fx.outputs.a[(t * H + r) * W + c] - 0.5; // the plane itself, extrapolated at the edges
      out[H * W + p] = 10 * t;
      out[2 * H * W + p] = fx.invariants.ramp[(i + r) * X + j + c];
      out[3 * H * W + p] = 1;
    }
  }
  return out;
}

Deno.test("hrrr_mini: shapes, channels, times and exact items on an analytic NetCDF4 file", async () => {
  await withTempDir(async (dir) => {
    const fx = analyticFixture();
    const paths = await writeHrrrMiniFixture(dir, fx);
    const ds = await createDataset({
      type: "hrrr_mini",
      data_path: "train.nc",
      stats_path: "stats.json",
      invariant_variables: ["ramp", "one"],
    }, { baseDir: dir });
    assert(ds instanceof HrrrMiniDataset);
    assertEquals(ds.length, 4);
    assertEquals(ds.imageShape(), [6, 8]);
    assertEquals(ds.upsampleFactor, 2);
    assertEquals(ds.inputChannels().map((c) => [c.name, c.auxiliary, c.units]), [
      ["a", false, "K"],
      ["b", false, "K"],
      ["ramp", true, "K"],
      ["one", true, "K"],
    ]);
    assertEquals(ds.outputChannels().map((c) => c.name), ["a", "b"]);
    assertEquals(ds.time().map((d) => d.toISOString()), [
      "2019-03-01T00:00:00.000Z",
      "2019-03-01T06:00:00.000Z",
      "2019-03-01T12:00:00.000Z",
      "2019-03-01T18:00:00.000Z",
    ]);
    assert(
      ds.latitude().data.every(Number.isNaN) && ds.longitude().shape.join() === "6,8",
      "NaN lat/lon (reference)",
    );
    for (let t = 0; t < fx.T; t++) {
      const raw = ds.rawItem(t);
      // A plane is reproduced exactly by bilinear interpolation with linear extrapolation.
      assert(maxAbsDiff(raw.input, expectedInput(fx, t)) < 1e-4, `input of sample ${t}`);
      const item = await ds.item(t);
      const H = 6, W = 8;
      for (let k = 0; k < 2 * H * W; k++) {
        const want = Math.fround(Math.fround(raw.target[k] - 1.5) / 2);
        if (item.target[k] !== want) throw new Error(`target ${t}/${k}: ${item.target[k]} != ${want}`);
      }
      assertAlmostEquals(item.input[2 * H * W + 9], (raw.input[2 * H * W + 9] - 1.5) / 2, 1e-3);
      const back = ds.denormalizeInput(item.input);
      assert(maxAbsDiff(back, raw.input) < 1e-3, "denormalize inverts normalize");
    }
    assertEquals(paths.dataPath, `${dir}/train.nc`);
  });
});

Deno.test("hrrr_mini: variables default to the whole group in file order; [] invariants allowed", async () => {
  await withTempDir(async (dir) => {
    const fx = analyticFixture(2);
    const { dataPath, statsPath } = await writeHrrrMiniFixture(dir, fx);
    const all = await HrrrMiniDataset.open({ dataPath, statsPath, invariantVariables: null });
    assertEquals(all.inputChannels().map((c) => c.name), ["a", "b", "ramp", "one"]);
    const none = await HrrrMiniDataset.open({
      dataPath,
      statsPath,
      inputVariables: ["b"],
      invariantVariables: [],
    });
    assertEquals(none.inputChannels().map((c) => c.name), ["b"]);
    assertEquals((await none.item(1)).input.length, 6 * 8);
    await assertRejects(
      () => HrrrMiniDataset.open({ dataPath, statsPath }),
      undefined,
      `${dataPath}: no variable 'elev_mean' in group 'invariant' (it has: ramp, one)`,
    );
  });
});

Deno.test("hrrr_mini: a NetCDF3 file with group-prefixed names gives the same items", async () => {
  await withTempDir(async (dir) => {
    const fx = analyticFixture();
    const nc4 = await writeHrrrMiniFixture(dir, fx);
    await Deno.writeFile(`${dir}/train3.nc`, hrrrMiniNc3(fx, 2));
    const opts = { statsPath: nc4.statsPath, invariantVariables: ["ramp", "one"] };
    const a = await HrrrMiniDataset.open({ dataPath: nc4.dataPath, ...opts });
    const b = await HrrrMiniDataset.open({ dataPath: `${dir}/train3.nc`, ...opts });
    assertEquals(b.time().map(Number), a.time().map(Number));
    for (let t = 0; t < fx.T; t++) {
      const [x, y] = [await a.item(t), await b.item(t)];
      assertEquals(maxAbsDiff(x.input, y.input), 0);
      assertEquals(maxAbsDiff(x.target, y.target), 0);
    }
  });
});

Deno.test("hrrr_mini: bad data gives errors naming the file and the variable", async () => {
  await withTempDir(async (dir) => {
    const fx = analyticFixture(2);
    const open = (dataPath: string, statsPath = `${dir}/stats.json`) =>
      HrrrMiniDataset.open({ dataPath, statsPath, invariantVariables: ["ramp", "one"] });
    const good = await writeHrrrMiniFixture(dir, fx);

    await assertRejects(() => open(`${dir}/missing.nc`), undefined, `${dir}/missing.nc: no such NetCDF file`);
    await assertRejects(
      () => open(good.dataPath, `${dir}/none.json`),
      undefined,
      `${dir}/none.json: no such statistics file`,
    );

    const stats = fixtureStats(fx);
    delete stats.input.b;
    await Deno.writeTextFile(`${dir}/partial.json`, JSON.stringify(stats));
    await assertRejects(
      () => open(good.dataPath, `${dir}/partial.json`),
      undefined,
      `${dir}/partial.json: no statistics for input variable 'b' (input has: a)`,
    );
    const zeroStd = fixtureStats(fx);
    zeroStd.output.a.std = 0;
    await Deno.writeTextFile(`${dir}/zero.json`, JSON.stringify(zeroStd));
    await assertRejects(() => open(good.dataPath, `${dir}/zero.json`), undefined, "std of 'output/a' is 0");

    const variant = async (name: string, edit: Parameters<typeof writeHrrrMiniFixture>[2]) => {
      await Deno.mkdir(`${dir}/${name}`);
      return (await writeHrrrMiniFixture(`${dir}/${name}`, fx, edit)).dataPath;
    };
    const noGroup = await variant("nogroup", (s) => delete s.groups!.output);
    await assertRejects(() => open(noGroup), undefined, `${noGroup}: no group 'output'`);

    const flat = await variant("flat", (s) => {
      s.groups!.input.vars![0] = { name: "a", dims: ["y_lr", "x_lr"], data: new Float32Array(fx.h * fx.w) };
    });
    await assertRejects(
      () => open(flat),
      undefined,
      `${flat}: variable 'input/a' has dims (y_lr, x_lr) shape [3,4]; expected 3 dims (time, y, x)`,
    );

    const odd = await variant("odd", (s) => {
      s.groups!.input.dims = { time: fx.T, y_lr: 2, x_lr: 3 };
      s.groups!.input.vars = s.groups!.input.vars!.map((v) => ({ ...v, data: new Float32Array(fx.T * 6) }));
    });
    await assertRejects(
      () => open(odd),
      undefined,
      `${odd}: output width 8 / input width 3 = 2.6666666666666665 is not an integer`,
    );

    const nan = await variant("nan", (s) => {
      const data = new Float32Array(s.groups!.output.vars![1].data as Float32Array);
      data[1 * 48 + 2 * 8 + 5] = NaN;
      s.groups!.output.vars![1] = { ...s.groups!.output.vars![1], data };
    });
    await assertRejects(
      () => open(nan),
      undefined,
      `${nan}: variable 'output/b' has 1 NaN/infinite value(s), the first at [time=1, y=2, x=5]`,
    );

    const outside = await variant("outside", (s) => {
      s.vars![1] = { ...s.vars![1], data: BigInt64Array.of(0n, 0n, 0n, 99n) };
    });
    await assertRejects(
      () => open(outside),
      undefined,
      `${outside}: variable 'coord': sample 1 window 6x8 at (0, 99) leaves the 8x12 invariant grid`,
    );

    await assertRejects(
      () =>
        createDataset({
          type: "hrrr_mini",
          data_path: good.dataPath,
          stats_path: good.statsPath,
          input_vars: ["a"],
        }),
      undefined,
      "dataset (hrrr_mini): unknown option(s) 'input_vars'",
    );
    await assertRejects(
      () => createDataset({ type: "hrrr_mini", stats_path: "x" }),
      undefined,
      "missing required key 'data_path'",
    );
  });
});
