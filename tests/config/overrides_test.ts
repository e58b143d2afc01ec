/** Command-line parsing and every override kind, applied to shipped configs. */
import {
  getKey,
  loadConfigFromArgs,
  parseOverrides,
  parseOverrideValue,
  resolveConfig,
} from "../../src/config/mod.ts";
import { assertEquals } from "../helpers/assert.ts";

const NAME = "config_training_synthetic_regression";
const r = (...overrides: string[]) => resolveConfig({ configName: NAME, overrides });

Deno.test("parseOverrides: --config-name / --config-path in both spellings, overrides, rest", () => {
  const p = parseOverrides([
    "--config-name=a",
    "x.y=1",
    "--help",
    "+y.z=[1,2]",
    "--config-path",
    "my/conf",
    "++b=null",
    "~c",
    "~d=3",
    "dataset=cwb",
    "positional",
    "-cn",
    "b",
  ]);
  assertEquals(p.configName, "b");
  assertEquals(p.configPath, "my/conf");
  assertEquals(p.rest, ["--help", "positional"]);
  assertEquals(
    p.overrides.map((o) => [o.kind, o.key, o.hasValue, o.value ?? "-"]),
    [
      ["set", "x.y", true, 1],
      ["add", "y.z", true, [1, 2]],
      ["force", "b", true, "-"],
      ["delete", "c", false, "-"],
      ["delete", "d", true, 3],
      ["set", "dataset", true, "cwb"],
    ],
  );
  assertEquals(p.overrides[2].value, null);
});

Deno.test("parseOverrideValue: YAML scalars and flow collections; other text stays a string", () => {
  const cases: [string, unknown][] = [
    ["[1,2]", [1, 2]],
    ["[10u, 10v]", ["10u", "10v"]],
    ["null", null],
    ["1e-3", 0.001],
    ["5e5", 500000],
    ["-7", -7],
    ["true", true],
    ["'123'", "123"],
    ['"a b"', "a b"],
    ["", ""],
    ["a: b", "a: b"],
    ["- x", "- x"],
    ["2020-02-02T00:00:00", "2020-02-02T00:00:00"],
    ["{a: 1, b: [x]}", { a: 1, b: ["x"] }],
    ["${model.name}", "${model.name}"],
    ["[${a}, 1]", "[${a}, 1]"],
    ["/abs/path/file.nc", "/abs/path/file.nc"],
  ];
  for (const [text, expected] of cases) assertEquals(parseOverrideValue(text), expected, text);
});

Deno.test("key=value replaces an existing value; numbers mix; 'auto' and null take numbers", () => {
  const cfg = r(
    "training.hp.lr=1e-3",
    "training.hp.lr_decay=0.5",
    "training.hp.batch_size_per_gpu=2",
    "training.hp.grad_clip_threshold=1e6",
    "dataset.image_shape=[32,32]",
    "dataset.output_variables=[t2m]",
    "training.perf.fp_optimizations=fp16",
    "training.hp.total_batch_size=8",
    "training.hp.total_batch_size=16",
  );
  assertEquals(getKey(cfg, "training.hp.lr"), 0.001);
  assertEquals(getKey(cfg, "training.hp.lr_decay"), 0.5);
  assertEquals(getKey(cfg, "training.hp.batch_size_per_gpu"), 2);
  assertEquals(getKey(cfg, "training.hp.grad_clip_threshold"), 1_000_000);
  assertEquals(getKey(cfg, "dataset.image_shape"), [32, 32]);
  assertEquals(getKey(cfg, "dataset.output_variables"), ["t2m"]);
  assertEquals(getKey(cfg, "training.perf.fp_optimizations"), "fp16");
  assertEquals(getKey(cfg, "training.hp.total_batch_size"), 16, "later override wins");
  assertEquals(getKey(r("training.hp.lr=1"), "training.hp.lr"), 1, "int into float");
  assertEquals(
    getKey(r("training.io.regression_checkpoint_path=/x.mdlus"), "training.io.regression_checkpoint_path"),
    "/x.mdlus",
  );
  assertEquals(getKey(r("dataset.image_shape.0=128"), "dataset.image_shape"), [128, 64], "list element");
});

Deno.test("+key adds, ++key sets or adds, ~key deletes (optionally checking the value)", () => {
  const cfg = r(
    "+training.hp.seed=3",
    "+extra.section.name=demo",
    "++dataset.num_samples=16",
    "++brand_new=[1, 2]",
    "~training.io.validation_steps",
    "~dataset.seed=0",
  );
  assertEquals(getKey(cfg, "training.hp.seed"), 3);
  assertEquals(cfg.extra, { section: { name: "demo" } });
  assertEquals(getKey(cfg, "dataset.num_samples"), 16);
  assertEquals(cfg.brand_new, [1, 2]);
  assertEquals("validation_steps" in (cfg.training as { io: object }).io, false);
  assertEquals("seed" in (cfg.dataset as object), false);
  // ++ also replaces regardless of type.
  assertEquals(getKey(r("++training.hp.lr=fast"), "training.hp.lr"), "fast");
});

Deno.test("override values may interpolate; they are resolved after all overrides", () => {
  const cfg = r(
    "++run_name=${model.name}_${dataset.num_samples}",
    "dataset.num_samples=8",
    "++shape=${dataset.image_shape}",
  );
  assertEquals(cfg.run_name, "regression_8");
  assertEquals(cfg.shape, [64, 64]);
});

Deno.test("loadConfigFromArgs: config name, overrides and leftover flags from one argv", () => {
  const out = loadConfigFromArgs([
    "--config-name",
    NAME,
    "training.hp.lr=0.01",
    "--verbose",
    "model_size=mini",
  ], "nope");
  assertEquals(out.configName, NAME);
  assertEquals(out.rest, ["--verbose"]);
  assertEquals(getKey(out.config, "training.hp.lr"), 0.01);
  assertEquals(getKey(out.config, "model.model_args.model_channels"), 64);
  const dflt = loadConfigFromArgs([], "config_training_synthetic_diffusion", { allowMissing: true });
  assertEquals(getKey(dflt.config, "model.name"), "diffusion");
});
