/** Every error path names the key, group or file at fault and, where one is close, suggests it. */
import { resolveInterpolations } from "../../src/config/interpolate.ts";
import {
  closest,
  ConfigError,
  editDistance,
  getKey,
  parseOverride,
  parseOverrideValue,
  resolveConfig,
} from "../../src/config/mod.ts";
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { withConfTree } from "./fixture.ts";

const TRAIN = "config_training_synthetic_regression";

/** Runs `fn`, expecting a ConfigError whose message holds every fragment; returns it. */
function expectConfigError(fn: () => unknown, ...fragments: string[]): ConfigError {
  const e = assertThrows(fn);
  assert(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
  for (const f of fragments) assert(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
  return e as ConfigError;
}

const r = (...overrides: string[]) => resolveConfig({ configName: TRAIN, overrides });

Deno.test("editDistance and closest", () => {
  assertEquals(editDistance("kitten", "sitting"), 3);
  assertEquals(editDistance("", "abc"), 3);
  assertEquals(editDistance("flaw", "lawn"), 2);
  assertEquals(editDistance("same", "same"), 0);
  assertEquals(closest("hrrr_mni", ["cwb", "hrrr_mini", "custom"]), "hrrr_mini");
  assertEquals(closest("lr", ["training.hp.lr_decay", "training.hp.lr"]), "training.hp.lr");
  assertEquals(closest("sampler", ["dataset", "generation/sampler"]), "generation/sampler");
  assertEquals(closest("xyzzy", ["dataset", "model"]), undefined);
});

Deno.test("unknown key: names it and suggests the closest existing key", () => {
  const e = expectConfigError(
    () => r("training.hp.lr_rampupp=5"),
    "'training.hp.lr_rampupp'",
    "Did you mean 'training.hp.lr_rampup'?",
    "+training.hp.lr_rampupp=",
  );
  assertEquals(e.key, "training.hp.lr_rampupp");
  expectConfigError(() => r("lr=0.1"), "'lr'", "Did you mean 'training.hp.lr'?");
  expectConfigError(() => r("~training.hp.nope"), "delete 'training.hp.nope'");
  expectConfigError(
    () => getKey(r(), "dataset.image_shap"),
    "'dataset.image_shap' not found",
    "'dataset.image_shape'",
  );
});

Deno.test("missing mandatory values: every ??? key is named, at resolve time and by getKey", () => {
  const e = expectConfigError(
    () => resolveConfig({ configName: "config_training_era5_uk_t2m_regression" }),
    "dataset.data_path",
    "dataset.stats_path",
    "config_training_era5_uk_t2m_regression",
  );
  assertEquals(e.key, "dataset.data_path");
  const partial = resolveConfig({ configName: "config_training_era5_uk_t2m_regression", allowMissing: true });
  expectConfigError(
    () => getKey(partial, "dataset.stats_path"),
    "Missing mandatory value 'dataset.stats_path'",
  );
  expectConfigError(
    () => resolveInterpolations({ a: "???", b: "x_${a}" }),
    "'b'",
    "refers to 'a', a missing mandatory value",
  );
});

Deno.test("type mismatch: the override's type differs from the value it replaces", () => {
  const cases: [string, string][] = [
    ["training.hp.total_batch_size=four", "string"],
    ["training.hp.lr=[1]", "list"],
    ["dataset.image_shape=64", "number"],
    ["model.hr_mean_conditioning=1", "number"],
    ["training.perf.fp_optimizations=32", "number"],
    ["training.io.checkpoint_dir={a: 1}", "mapping"],
  ];
  for (const [ov, kind] of cases) {
    const key = ov.slice(0, ov.indexOf("="));
    const e = expectConfigError(() => r(ov), `Type mismatch for '${key}'`, `gives a ${kind}`, `++${ov}`);
    assertEquals(e.key, key);
  }
});

Deno.test("add / delete preconditions", () => {
  expectConfigError(() => r("+training.hp.lr=1"), "Could not add 'training.hp.lr'", "already exists");
  expectConfigError(() => r("~dataset.seed=5"), "'dataset.seed'", "its value is 0, not 5");
  expectConfigError(() => r("+model=diffusion"), "group 'model' is already in the defaults list");
});

Deno.test("unknown group option, unknown group, nested group given by its last name", () => {
  const e = expectConfigError(
    () => r("dataset=hrrr_mni"),
    "config group 'dataset' has no option 'hrrr_mni'",
    "Did you mean 'hrrr_mini'?",
    "synthetic",
  );
  assertEquals(e.key, "dataset");
  expectConfigError(() => r("dataset={a: 1}"), "config group 'dataset' takes an option name", "synthetic");
  expectConfigError(
    () => r("generation=patched"),
    "'generation' is not in the defaults list",
    "+generation=patched",
  );
  expectConfigError(
    () => resolveConfig({ configName: "config_generate_synthetic", overrides: ["sampler=deterministic"] }),
    "Did you mean 'generation/sampler=deterministic'?",
  );
  expectConfigError(
    () => resolveConfig({ configName: "config_generate_synthetic", overrides: ["generation/sampler=heun"] }),
    "'generation/sampler' has no option 'heun'",
    "deterministic, stochastic",
  );
});

Deno.test("unknown config name, bad files and bad defaults entries name the file", async () => {
  const e = expectConfigError(
    () => resolveConfig({ configName: "config_training_hrrr_mini_regresion" }),
    "Config 'config_training_hrrr_mini_regresion' not found",
    "Did you mean 'config_training_hrrr_mini_regression'?",
  );
  assert(e.file?.endsWith("config_training_hrrr_mini_regresion.yaml"), String(e.file));
  await withConfTree({
    "broken.yaml": "a: [1, 2\nb: 3\n",
    "scalar.yaml": "- just\n- a list\n",
    "typo.yaml": "defaults:\n  - dataset: synthetc\n",
    "plain.yaml": "defaults:\n  - not_a_config\n",
    "multi.yaml": "defaults:\n  - dataset: [a, b]\n",
    "cycle.yaml": "a: ${b}\nb: ${c}\nc: ${a}\n",
    "dangling.yaml": "x: ${dataset.nme}\ndataset:\n  name: n\n",
    "resolver.yaml": "x: ${oc.evn:HOME}\ny: ${oc.env:CORRDIFF_SURELY_UNSET_VAR}\n",
    "unterminated.yaml": "x: ${a.b\n",
  }, (dir) => {
    const c = (configName: string, allowMissing = false) => () =>
      resolveConfig({ configName, configPath: dir, allowMissing });
    const f = expectConfigError(c("broken"), "Cannot parse YAML", "broken.yaml");
    assert(f.file?.endsWith("broken.yaml"), String(f.file));
    expectConfigError(c("scalar"), "scalar.yaml", "must hold a mapping");
    expectConfigError(c("typo"), "typo.yaml", "no option 'synthetc'", "Did you mean 'synthetic'?");
    expectConfigError(c("plain"), "plain.yaml", "config 'not_a_config' not found");
    expectConfigError(c("multi"), "multi.yaml", "must select one option");
    expectConfigError(c("cycle"), "Interpolation cycle", "'a' -> 'b' -> 'c' -> 'a'");
    expectConfigError(
      c("dangling"),
      "at 'x'",
      "'dataset.nme', which does not exist",
      "Did you mean 'dataset.name'?",
    );
    expectConfigError(c("resolver"), "Unknown resolver 'oc.evn'", "Did you mean 'oc.env'?");
    expectConfigError(
      () => resolveConfig({ configName: "resolver", configPath: dir, overrides: ["~x"] }),
      "CORRDIFF_SURELY_UNSET_VAR",
    );
    expectConfigError(c("unterminated"), "Unterminated interpolation", "at 'x'");
  });
});

Deno.test("malformed command-line overrides", () => {
  expectConfigError(() => parseOverride("=3"), "'=3' is not an override");
  expectConfigError(() => parseOverride("training.hp.lr"), "has no value", "training.hp.lr=<value>");
  expectConfigError(() => parseOverrideValue("[1, 2"), "Cannot parse override value '[1, 2'");
  expectConfigError(
    () => resolveConfig({ configName: TRAIN, overrides: ["--verbose"] }),
    "'--verbose' is not an override",
  );
});
