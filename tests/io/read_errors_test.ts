/**
 * The messages of damaged inputs, word for word where it matters: one line, the file, what was
 * expected and what was found; HDF5's own error stack only with --verbose.
 */
import { resolveConfig } from "../../src/config/mod.ts";
import { GenerationReader } from "../../src/io/generation_reader.ts";
import { hdf5Error } from "../../src/io/hdf5.ts";
import { parseMdlus } from "../../src/io/mdlus.ts";
import { openNetCDF } from "../../src/io/netcdf_read.ts";
import { writeNetCDF4 } from "../../src/io/netcdf_write.ts";
import { encodeSafetensors, parseSafetensors, writeFileAtomic } from "../../src/io/safetensors.ts";
import { ZipArchive } from "../../src/io/zip.ts";
import { writeZip } from "../fixtures/checkpoints/archives.ts";
import { analyticFixture, hrrrMiniNc3 } from "../data/fixtures.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";

const SCORE = new URL("../../src/cli/score.ts", import.meta.url).pathname;
const CKPT = new URL("../fixtures/checkpoints", import.meta.url).pathname;

/** A small NetCDF4 generation file's bytes. */
async function generationBytes(dir: string): Promise<Uint8Array> {
  const f = (n: number) => new Float32Array(n).fill(280);
  await writeNetCDF4(`${dir}/seed.nc`, {
    dims: { time: 1, ensemble: 2, y: 4, x: 4 },
    vars: [{
      name: "time",
      dims: ["time"],
      data: BigInt64Array.of(1n),
      attrs: { units: "hours since 1990-01-01" },
    }],
    groups: {
      truth: { vars: [{ name: "t2m", dims: ["time", "y", "x"], data: f(16) }] },
      prediction: { vars: [{ name: "t2m", dims: ["ensemble", "time", "y", "x"], data: f(32) }] },
    },
  });
  return Deno.readFileSync(`${dir}/seed.nc`);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "corrdiff_errors_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("score on a cut generation file: one line with the sizes; the HDF5 stack only with --verbose", () =>
  withDir(async (dir) => {
    const gen = await generationBytes(dir);
    await Deno.writeFile(`${dir}/cut.nc`, gen.slice(0, gen.length >> 1));
    const run = async (...extra: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", SCORE, `${dir}/cut.nc`, `${dir}/scores.nc`, ...extra],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return {
        code: out.code,
        stdout: new TextDecoder().decode(out.stdout),
        stderr: new TextDecoder().decode(out.stderr),
      };
    };
    const quiet = await run();
    const kb = (n: number) => `${(n / 1000).toFixed(1)} kB`;
    assertEquals(quiet.code, 1);
    assertEquals(quiet.stdout, "");
    assertEquals(
      quiet.stderr,
      `score: ${dir}/cut.nc: truncated NetCDF4/HDF5 file (${kb(gen.length >> 1)} of the expected ${
        kb(gen.length)
      })\n`,
    );
    const verbose = await run("--verbose");
    assert(verbose.stderr.includes("HDF5-DIAG: Error detected in HDF5"), verbose.stderr);
    assert(verbose.stderr.includes("truncated NetCDF4/HDF5 file"), verbose.stderr);
    assertEquals(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["cut.nc", "seed.nc"],
      "output left behind",
    );
  }));

Deno.test("a damaged HDF5 header: checksum mismatch, or the deepest HDF5 message, naming the file", () =>
  withDir(async (dir) => {
    const gen = await generationBytes(dir);
    const bad = gen.slice();
    bad[44] ^= 4; // inside the version 2/3 superblock's checksum
    await Deno.writeFile(`${dir}/flip.nc`, bad);
    const e = await assertRejects(() => GenerationReader.open(`${dir}/flip.nc`));
    assertEquals(e.message, `${dir}/flip.nc: HDF5 metadata checksum mismatch: the file is damaged`);
    const nc = await assertRejects(() => openNetCDF(`${dir}/flip.nc`));
    assertEquals(nc.message, e.message);
    const diag =
      "HDF5-DIAG: Error detected in HDF5 (2.0.0):\n  #000: H5D.c line 1 in H5Dread(): can't read data\n" +
      "    major: Dataset\n  #001: H5Dint.c line 9 in H5D__read(): addr overflow, addr = 123\n";
    assertEquals(
      hdf5Error("f.nc", diag, new Error("error - name not defined!"), "reading truth/t2m").message,
      "f.nc: damaged NetCDF4/HDF5 file while reading truth/t2m (HDF5: addr overflow, addr = 123)",
    );
  }));

Deno.test("NetCDF3: a cut file names the variable whose data is missing", () =>
  withDir(async (dir) => {
    const nc3 = hrrrMiniNc3(analyticFixture(2, 3, 4, 2));
    await Deno.writeFile(`${dir}/cut.nc`, nc3.slice(0, nc3.length - 40));
    const f = await openNetCDF(`${dir}/cut.nc`);
    const e = assertThrows(() => f.group("").variables.forEach((v) => f.read(v)));
    assert(
      /^.*cut\.nc: cannot read variable '[a-z_]+': data runs past the end of the file .*truncated NetCDF3 file$/
        .test(e.message),
      e.message,
    );
  }));

Deno.test("safetensors: truncation, a bad header entry and NaN weights are one line each", () => {
  const t = new Map([["w", { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, NaN) }]]);
  const bytes = encodeSafetensors(t, { a: "b" });
  assertEquals(
    assertThrows(() => parseSafetensors(bytes, "net.safetensors")).message,
    "net.safetensors: tensor w has 1 NaN/infinite value(s) among 6",
  );
  assertEquals(parseSafetensors(bytes, "x", { allowNonFinite: true }).tensors.get("w")!.data.length, 6);
  assertEquals(
    assertThrows(() => parseSafetensors(bytes.slice(0, bytes.length - 4), "net.safetensors")).message,
    `net.safetensors: truncated safetensors file (tensor w needs ${bytes.length} bytes, the file has ${
      bytes.length - 4
    })`,
  );
  const text = new TextDecoder().decode(bytes).replace('"shape":[2,3]', '"shape":"23"  ');
  assertEquals(
    assertThrows(() => parseSafetensors(new TextEncoder().encode(text), "net.safetensors")).message,
    'net.safetensors: damaged safetensors header (tensor w: shape "23" is not a list of sizes)',
  );
});

Deno.test(".mdlus: a NaN weight is reported with the tensor name and count", () => {
  const zip = Deno.readFileSync(`${CKPT}/regression_16x24.mdlus`);
  const outer = new ZipArchive(zip, "outer");
  const members = outer.names.map((n): [string, Uint8Array] => {
    if (n !== "model.pt") return [n, outer.read(n)];
    const inner = new ZipArchive(outer.read(n), "inner");
    return [
      n,
      writeZip(inner.names.map((m): [string, Uint8Array] => {
        const b = inner.read(m).slice();
        if (/\/data\/0$/.test(m)) new DataView(b.buffer).setFloat32(0, Infinity, true);
        return [m, b];
      })),
    ];
  });
  const e = assertThrows(() => parseMdlus(writeZip(members), "net.mdlus"));
  assert(
    /^net\.mdlus \[model\.pt\]: tensor \S+ has 1 NaN\/infinite value\(s\) among \d+$/.test(e.message),
    e.message,
  );
});

Deno.test("YAML: a syntax error is one line naming the file, line and column", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/main.yaml`, "a:\n  b: [1, 2\nc: 3\n");
    const e = assertThrows(() => resolveConfig({ configName: "main", configPath: dir }));
    assert(!e.message.includes("\n"), e.message);
    assert(
      e.message.startsWith(`Cannot parse YAML in '${dir}/main.yaml': `) &&
        /line \d+, column \d+$/.test(e.message),
      e.message,
    );
    await Deno.writeTextFile(`${dir}/main.yaml`, "a: !half 1\n");
    const tag = assertThrows(() => resolveConfig({ configName: "main", configPath: dir }));
    assert(tag.message.includes("Unresolved tag: !half"), tag.message);
  }));

Deno.test("writeFileAtomic: a failed write leaves the old file and no temporary", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/target`); // renaming a file onto a directory fails
    await Deno.writeTextFile(`${dir}/target/keep`, "old");
    assertThrows(() => writeFileAtomic(`${dir}/target`, new Uint8Array(10)));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["target"]);
    assertEquals(await Deno.readTextFile(`${dir}/target/keep`), "old");
  }));
