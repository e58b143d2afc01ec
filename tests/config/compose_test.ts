/** Composition on small config trees: packages, `_self_`, defaults interpolation, group overrides. */
import { getKey, resolveConfig } from "../../src/config/mod.ts";
import { assertEquals } from "../helpers/assert.ts";
import { withConfTree } from "./fixture.ts";

const TREE = {
  "app.yaml": `
defaults:
  - db: mysql
  - server: apache
  - size: small
  - train: \${db}
  - optional extra: not_there
  - _self_
top: 1
db:
  port: 3307
`,
  "db/mysql.yaml": "host: localhost\nport: 3306\nengine: innodb\n",
  "db/postgres.yaml": "host: pg\nport: 5432\n",
  // No header: lands in its group's package, `server`; its own `db` group goes to `server.db`.
  "server/apache.yaml": "defaults:\n  - db: postgres\n  - base\nname: apache\n",
  "server/base.yaml": "name: base\nthreads: 4\n",
  "server/db/postgres.yaml": "user: admin\n",
  "server/db/sqlite.yaml": "user: none\n",
  "size/small.yaml":
    "# @package _global_.db\n# a leading comment block may hold the header anywhere\npool: 2\n",
  "train/mysql.yaml": "lr: 0.1\n",
  "train/postgres.yaml": "lr: 0.2\n",
  "glob/g.yaml": "# @package _global_\nfrom_glob: true\n",
  "lit/l.yaml": "# @package some.where\nx: 1\n",
  "grp/nested/n.yaml": "# @package _group_\ny: 2\n",
  "pkgs.yaml": `
defaults:
  - glob: g
  - lit: l
  - grp/nested: n
  - db@replica: postgres
  - db@_global_.primary: mysql
`,
  "self_first.yaml": "defaults:\n  - _self_\n  - db: mysql\ndb:\n  port: 1\n",
  "hydra_node.yaml":
    "hydra:\n  job:\n    name: myjob\n  run:\n    dir: out/${hydra:job.name}\nname: ${hydra:job.name}\n",
  "disabled.yaml": "defaults:\n  - db: null\nk: 1\n",
};

Deno.test("packages: group default, nested group, _global_, _global_.x, literal, _group_, @pkg", async () => {
  await withConfTree(TREE, (dir) => {
    const app = resolveConfig({ configName: "app", configPath: dir });
    // The primary's own `db.port` comes last (implicit/explicit _self_ at the end) and wins.
    assertEquals(app.db, { host: "localhost", port: 3307, engine: "innodb", pool: 2 });
    assertEquals(app.server, { db: { user: "admin" }, name: "apache", threads: 4 });
    assertEquals(app.train, { lr: 0.1 });
    assertEquals(app.top, 1);
    assertEquals("extra" in app, false);

    const p = resolveConfig({ configName: "pkgs", configPath: dir });
    assertEquals(p, {
      from_glob: true,
      some: { where: { x: 1 } },
      grp: { nested: { y: 2 } },
      replica: { host: "pg", port: 5432 },
      primary: { host: "localhost", port: 3306, engine: "innodb" },
    });
  });
});

Deno.test("_self_ first lets the defaults override the primary; a null option disables an entry", async () => {
  await withConfTree(TREE, (dir) => {
    assertEquals(getKey(resolveConfig({ configName: "self_first", configPath: dir }), "db.port"), 3306);
    assertEquals(resolveConfig({ configName: "disabled", configPath: dir }), { k: 1 });
  });
});

Deno.test("defaults interpolation follows group overrides; an explicit override wins", async () => {
  await withConfTree(TREE, (dir) => {
    const a = resolveConfig({ configName: "app", configPath: dir, overrides: ["db=postgres"] });
    assertEquals(a.train, { lr: 0.2 });
    assertEquals(a.db, { host: "pg", port: 3307, pool: 2 });
    const b = resolveConfig({
      configName: "app",
      configPath: dir,
      overrides: ["db=postgres", "train=mysql"],
    });
    assertEquals(b.train, { lr: 0.1 });
  });
});

Deno.test("group overrides: nested group path, +group, ++group, ~group, ~group=option", async () => {
  await withConfTree(TREE, (dir) => {
    const r = (...overrides: string[]) => resolveConfig({ configName: "app", configPath: dir, overrides });
    assertEquals(getKey(r("server/db=sqlite"), "server.db"), { user: "none" });
    assertEquals(getKey(r("+glob=g"), "from_glob"), true);
    assertEquals(getKey(r("++glob=g"), "from_glob"), true);
    assertEquals(getKey(r("++db=postgres"), "db.host"), "pg");
    // ++ on a nested group that is selected re-selects it in place (nothing appended at the top).
    const forced = r("++server/db=sqlite");
    assertEquals(getKey(forced, "server.db"), { user: "none" });
    assertEquals(Object.keys(forced), ["db", "server", "train", "top"]);
    assertEquals("train" in r("~train"), false);
    assertEquals("server" in r("~server=apache"), false);
    // Removing the size group removes its `_global_.db` contribution only.
    assertEquals(getKey(r("~size"), "db"), { host: "localhost", port: 3307, engine: "innodb" });
  });
});

Deno.test("a user's config directory can select the shipped groups; the hydra node is removed", async () => {
  await withConfTree({
    ...TREE,
    "mine.yaml":
      "defaults:\n  - dataset: synthetic\n  - model_size: tiny\n  - _self_\ndataset:\n  num_samples: 8\n",
  }, (dir) => {
    const cfg = resolveConfig({ configName: "mine.yaml", configPath: dir });
    assertEquals(getKey(cfg, "dataset.type"), "synthetic");
    assertEquals(getKey(cfg, "dataset.num_samples"), 8);
    assertEquals(getKey(cfg, "model.model_args.channel_mult"), [1, 2, 2]);
    assertEquals(resolveConfig({ configName: "hydra_node", configPath: dir }), { name: "myjob" });
  });
});
