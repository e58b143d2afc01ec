import { fileURLToPath } from "node:url";
import { resolveConfig } from "../../src/config/resolve.ts";
import { createDataset, createTrainValidDatasets, SyntheticDataset } from "../../src/data/mod.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../helpers/assert.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BASE_URL = new URL("../../src/data/base.ts", import.meta.url).href;

Deno.test("custom dataset: the example config builds examples/custom_dataset.ts::TravellingWaves", async () => {
  const cfg = resolveConfig({
    configName: "config_training_custom_example",
    configPath: `${REPO}/examples/conf`,
  });
  const dataset = cfg.dataset as Record<string, unknown>;
  assertEquals(dataset.type, "examples/custom_dataset.ts::TravellingWaves");
  const ds = await createDataset(dataset, { baseDir: REPO });
  assertEquals([ds.length, ...ds.imageShape()], [48, 32, 32]);
  assertEquals(ds.inputChannels().map((c) => `${c.name}:${c.auxiliary}`), [
    "height_long:false",
    "ridge:true",
  ]);
  assertAlmostEquals(ds.latitude().data[32], 49.75, 1e-12);

  // Denormalised, the target is the analytic sum at every pixel: check one.
  const t = 3, [i, j] = [5, 7];
  const target = ds.denormalizeOutput((await ds.item(t)).target);
  const ridge = Math.exp(-(((j - 16) / 4) ** 2));
  const want = Math.sin(2 * Math.PI * (j / 32 + i / 64) - 0.9) +
    0.3 * Math.sin(2 * Math.PI * (5 * j / 32 - 3 * i / 32) - 3.3) +
    0.5 * ridge;
  assertAlmostEquals(target[i * 32 + j], want, 1e-5);

  // Its analytic statistics normalise the set to about mean 0, std 1.
  let s = 0, ss = 0, n = 0;
  for (let k = 0; k < ds.length; k++) for (const v of (await ds.item(k)).target) s += v, ss += v * v, n++;
  assertAlmostEquals(s / n, 0, 0.05);
  assertAlmostEquals(Math.sqrt(ss / n - (s / n) ** 2), 1, 0.05);

  await assertRejects(
    () => createDataset({ ...dataset, amplitude: 2 }, { baseDir: REPO }),
    undefined,
    "TravellingWaves: unknown option(s) amplitude",
  );
});

Deno.test("custom dataset: static open(), relative module paths, and clear errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/mine.ts`,
      `import { DownscalingDatasetBase, nanGrid } from "${BASE_URL}";
export class Opened extends DownscalingDatasetBase {
  constructor(readonly options) { super(); }
  static async open(options, context) { return new Opened({ ...options, baseDir: context.baseDir }); }
  get length() { return this.options.n; }
  longitude() { return nanGrid([2, 2]); }
  latitude() { return nanGrid([2, 2]); }
  inputChannels() { return []; }
  outputChannels() { return []; }
  time() { return []; }
  imageShape() { return [2, 2]; }
  item() { return Promise.resolve({ target: new Float32Array(4), input: new Float32Array(4) }); }
}
export class Incomplete { get length() { return 1; } item() {} }
export const notAClass = 3;
`,
    );
    const ds = await createDataset({ type: "mine.ts::Opened", n: 7 }, { baseDir: dir });
    assertEquals(ds.length, 7);
    assertEquals((ds as unknown as { options: Record<string, unknown> }).options, { n: 7, baseDir: dir });

    await assertRejects(
      () => createDataset({ type: "mine.ts::Missing" }, { baseDir: dir }),
      undefined,
      `${dir}/mine.ts has no exported class 'Missing' (it exports: Incomplete, Opened, notAClass)`,
    );
    await assertRejects(
      () => createDataset({ type: "mine.ts::Incomplete" }, { baseDir: dir }),
      undefined,
      "does not implement DownscalingDataset (missing: longitude, latitude",
    );
    await assertRejects(
      () => createDataset({ type: "nowhere.ts::X" }, { baseDir: dir }),
      undefined,
      `custom dataset module ${dir}/nowhere.ts (from type 'nowhere.ts::X') does not exist`,
    );
    await assertRejects(
      () => createDataset({ type: "mine.ts::" }, { baseDir: dir }),
      undefined,
      "is not path/to/file.ts::ClassName",
    );
    await assertRejects(
      () => createDataset({ type: "hrrr-mini" }),
      undefined,
      "dataset: unknown type 'hrrr-mini' (built in: hrrr_mini, cwb, synthetic",
    );
    await assertRejects(() => createDataset({ data_path: "x.nc" }), undefined, "dataset: missing 'type'");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createTrainValidDatasets: the validation section updates the training one", async () => {
  const cfg = {
    type: "synthetic",
    num_samples: 6,
    image_shape: [16, 16],
    seed: 1,
    validation: { seed: 2, num_samples: 3 },
  };
  const { train, valid } = await createTrainValidDatasets(cfg);
  assert(train instanceof SyntheticDataset && valid instanceof SyntheticDataset, "both synthetic");
  assertEquals([train.length, train.seed, valid.length, valid.seed, ...valid.imageShape()], [
    6,
    1,
    3,
    2,
    16,
    16,
  ]);
  const none = await createTrainValidDatasets({ type: "synthetic", num_samples: 2, image_shape: [16, 16] });
  assertEquals(none.valid, null);
});
