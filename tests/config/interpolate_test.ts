/**
 * `${...}` interpolation. Expected values follow OmegaConf 2.2 (checked against python3-omegaconf:
 * relative `${.b}` / `${..x}`, string concatenation, `\${` escape, `oc.env` default, whole-value
 * references keeping the referenced node's type). One deliberate difference: a list or mapping inside
 * a longer string is written as JSON (`n=[10,20,30]`), where OmegaConf writes Python's repr.
 */
import { resolveInterpolations } from "../../src/config/interpolate.ts";
import { getKey, resolveConfig } from "../../src/config/mod.ts";
import { assertEquals } from "../helpers/assert.ts";
import { withConfTree } from "./fixture.ts";

Deno.test("absolute, relative, nested, concatenated and typed references", () => {
  const cfg = resolveInterpolations({
    a: { b: 1, c: "${.b}", d: "${..x}", list: [10, 20, 30] },
    x: "v",
    s: "pre_${a.b}_post",
    whole: "${a}",
    item: "${a.list.1}",
    bracket: "${a.list[2]}",
    key: "b",
    nested: "${a.${key}}",
    chain: "${chain2}",
    chain2: "${a.c}",
    inlist: ["${x}", "${a.b}"],
    escaped: "\\${a.b}",
    mixed: "n=${a.list}",
  });
  assertEquals(cfg.a, { b: 1, c: 1, d: "v", list: [10, 20, 30] });
  assertEquals(cfg.s, "pre_1_post");
  assertEquals(cfg.whole, { b: 1, c: 1, d: "v", list: [10, 20, 30] });
  assertEquals([cfg.item, cfg.bracket, cfg.nested, cfg.chain], [20, 30, 1, 1]);
  assertEquals(cfg.inlist, ["v", 1]);
  assertEquals(cfg.escaped, "${a.b}");
  assertEquals(cfg.mixed, "n=[10,20,30]");
});

Deno.test("a referenced container is a copy, not an alias", () => {
  const cfg = resolveInterpolations({ a: { b: [1, 2] }, c: "${a}" });
  (cfg.c as { b: number[] }).b.push(3);
  assertEquals(cfg.a, { b: [1, 2] });
});

Deno.test("oc.env resolver with and without default; hydra resolver", () => {
  Deno.env.set("CORRDIFF_CFG_TEST_VAR", "from_env");
  try {
    const cfg = resolveInterpolations(
      {
        set: "${oc.env:CORRDIFF_CFG_TEST_VAR}",
        dflt: "${oc.env:CORRDIFF_CFG_TEST_UNSET_VAR,fallback}",
        dir: "runs/${hydra:job.name}",
      },
      { hydra: { job: { name: "j1" } } },
    );
    assertEquals(cfg, { set: "from_env", dflt: "fallback", dir: "runs/j1" });
  } finally {
    Deno.env.delete("CORRDIFF_CFG_TEST_VAR");
  }
});

Deno.test("allowMissing leaves references to ??? as ???", () => {
  const cfg = resolveInterpolations({ a: "???", b: "${a}" }, { allowMissing: true });
  assertEquals(cfg, { a: "???", b: "???" });
});

Deno.test("interpolations in YAML files are resolved after composition and overrides", async () => {
  await withConfTree({
    "c.yaml": "defaults:\n  - part: one\n  - _self_\nname: run_${part.size}\nsize_copy: ${part.size}\n",
    "part/one.yaml": "size: 4\nlabel: ${..name}\n",
  }, (dir) => {
    const cfg = resolveConfig({ configName: "c", configPath: dir, overrides: ["part.size=7"] });
    assertEquals(cfg, { part: { size: 7, label: "run_7" }, name: "run_7", size_copy: 7 });
  });
  // A shipped config: interpolating into the composed tree from the command line.
  const cfg = resolveConfig({
    configName: "config_training_synthetic_regression",
    overrides: ["++training.io.checkpoint_dir=runs/${model.name}/${dataset.image_shape.0}"],
  });
  assertEquals(getKey(cfg, "training.io.checkpoint_dir"), "runs/regression/64");
});
