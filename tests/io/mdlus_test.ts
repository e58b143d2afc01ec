/**
 * PhysicsNeMo checkpoint reading without Python: the .mdlus containers (zip, legacy tar), torch's
 * zip serialization and pickle, and the Adam state of training checkpoints, all checked against
 * the fixtures' manifest (keys in order, dtypes, shapes, sha256 of the stored elements).
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  isTar,
  networkSpecFromArgs,
  parseMdlus,
  parsePythonJson,
  readMdlus,
  readTar,
  renameLegacyKeys,
} from "../../src/io/mdlus.ts";
import {
  halfToFloat,
  type PyValue,
  readTorchZip,
  TorchStorage,
  TorchTensor,
  unpickle,
} from "../../src/io/torch_pickle.ts";
import { adamStateByParam, readTorchOptimizerState } from "../../src/io/torch_optimizer.ts";
import { ZipArchive } from "../../src/io/zip.ts";
import { writeTar, writeZip } from "../fixtures/checkpoints/archives.ts";

const DIR = new URL("../fixtures/checkpoints", import.meta.url).pathname;
const manifest = JSON.parse(Deno.readTextFileSync(`${DIR}/manifest.json`));
type Row = [string, string, number[], string, string];

async function sha16(b: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b.slice()));
  return [...d].map((x) => x.toString(16).padStart(2, "0")).join("").slice(0, 16);
}

/** model.pt of a .mdlus, through the same container logic the loader uses. */
function modelPt(bytes: Uint8Array, path: string): Uint8Array {
  return isTar(bytes) ? readTar(bytes, path).get("model.pt")! : new ZipArchive(bytes, path).read("model.pt");
}

/** One line that names the file: what every loader error must be. */
function assertOneLine(e: Error, path: string, includes: string): void {
  assert(!e.message.includes("\n"), `error spans several lines: ${e.message}`);
  assert(e.message.includes(path), `error does not name ${path}: ${e.message}`);
  assert(e.message.includes(includes), `error "${e.message}" does not mention "${includes}"`);
}

Deno.test("every .mdlus parses: format, class, args, keys in order, dtypes, shapes and stored bytes as the manifest says", async () => {
  const files = Object.entries(manifest.checkpoints) as [string, Record<string, unknown>][];
  assertEquals(files.length, 5);
  for (const [name, spec] of files) {
    const path = `${DIR}/${name}`;
    const m = readMdlus(path);
    assertEquals(m.format, spec.archive_format, name);
    assertEquals(m.className, spec.class, name);
    assertEquals(m.module, spec.class_module, name);
    assertEquals(
      m.args,
      (parsePythonJson(spec["args.json"] as string, name) as Record<string, unknown>).__args__,
      name,
    );
    assertEquals(m.metadata, JSON.parse(spec["metadata.json"] as string), name);
    const rows = (spec.state_dict as { tensors: Row[] }).tensors;
    assertEquals([...m.tensors.keys()], rows.map((r) => r[0]), `${name} keys`);
    // Hash the elements in their stored dtype, straight from the pickle's tensor views.
    const bytes = Deno.readFileSync(path);
    const sd = readTorchZip(modelPt(bytes, path), name).value as Map<string, TorchTensor>;
    for (const [key, dtype, shape, storageKey, hash] of rows) {
      const t = sd.get(key)!, mine = m.tensors.get(key)!;
      assertEquals([t.dtype, t.shape, t.storage.key], [dtype, shape, storageKey], `${name} ${key}`);
      assertEquals(await sha16(t.storedBytes()), hash, `${name} ${key} sha256`);
      assertEquals([mine.dtype, mine.shape, mine.data.length], [dtype, shape, t.numel], `${name} ${key}`);
    }
  }
});

Deno.test("float16 and bfloat16 tensors upcast exactly to the float32 values they round from", () => {
  const zip = readMdlus(`${DIR}/regression_16x24.mdlus`);
  const tar = readMdlus(`${DIR}/regression_16x24.fp16_legacy_tar.mdlus`);
  for (const [key, t] of tar.tensors) {
    const f32 = zip.tensors.get(key)!.data;
    for (let i = 0; i < f32.length; i++) {
      const err = Math.abs(t.data[i] - f32[i]);
      const bound = t.dtype === "float32"
        ? 0
        : (t.dtype === "bfloat16" ? 2 ** -8 : 2 ** -11) * Math.abs(f32[i]) + 2 ** -24;
      assert(err <= bound, `${key}[${i}] ${t.dtype}: ${t.data[i]} vs ${f32[i]}`);
    }
  }
  assertEquals([halfToFloat(0x3c00), halfToFloat(0xc000), halfToFloat(0x0001), halfToFloat(0x7c00)], [
    1,
    -2,
    2 ** -24,
    Infinity,
  ]);
});

Deno.test("tensor views honour offset and strides (transposed, channels-last, shared storage, 0-dim)", () => {
  const vals = Float32Array.from({ length: 24 }, (_, i) => i);
  const st = new TorchStorage("FloatStorage", "0", "cuda:0", 24, "v.pt", () => new Uint8Array(vals.buffer));
  // A transposed 3x4 view of elements 1..12: t[i][j] = storage[1 + i + 3j].
  assertEquals([...new TorchTensor(st, 1, [3, 4], [1, 3]).data], [1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]);
  // NCHW (1,3,2,2) saved channels-last: stride (C·H·W, 1, W·C, C).
  const cl = new TorchTensor(st, 0, [1, 3, 2, 2], [12, 1, 6, 3]);
  assertEquals([...cl.data], [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
  assertEquals([...new TorchTensor(st, 20, [], []).data], [20]);
  assertEquals([...new TorchTensor(st, 22, [2], [1]).data], [22, 23]);
  assertThrows(
    () => new TorchTensor(st, 22, [3], [1]).data,
    undefined,
    "v.pt: tensor view [3] at offset 22 exceeds storage data/0",
  );
  const half = new TorchStorage(
    "HalfStorage",
    "1",
    "cpu",
    2,
    "v.pt",
    () => new Uint8Array([0x00, 0x3c, 0x00, 0xc0]),
  );
  assertEquals([...new TorchTensor(half, 0, [2], [1]).data], [1, -2]);
  const bf = new TorchStorage("BFloat16Storage", "2", "cpu", 1, "v.pt", () => new Uint8Array([0x80, 0x3f]));
  assertEquals([...new TorchTensor(bf, 0, [1], [1]).data], [1]);
  const i64 = new TorchStorage(
    "LongStorage",
    "3",
    "cpu",
    1,
    "v.pt",
    () => new Uint8Array([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  );
  assertEquals([...new TorchTensor(i64, 0, [], []).data], [-2]);
  const cplx = new TorchStorage("ComplexFloatStorage", "4", "cpu", 1, "v.pt", () => new Uint8Array(8));
  assertThrows(
    () => new TorchTensor(cplx, 0, [1], [1]).data,
    undefined,
    "v.pt: storage data/4 has unsupported dtype torch.ComplexFloatStorage",
  );
});

Deno.test("pickle opcodes beyond the fixtures' (BININT, LONG1, NEWTRUE, TUPLE3, protocol 4 framing, bytes); foreign globals refused", () => {
  const hex = (h: string) => Uint8Array.from(h.match(/../g)!, (x) => parseInt(x, 16));
  const noStorage = { persistentLoad: (): PyValue => null };
  // pickle.dumps({'a': -5, 'b': 2**70, 'c': True, 't': (1,2,3), 'l': [1.5, None, 'é'], 'big': 70000,
  //               'neg': -2**40, 1: OrderedDict(x=1)}, protocol=2), and protocol 4 with 'by': b'xy' added.
  const p2 =
    "80027d71002858010000006171014afbffffff58010000006271028a0900000000000000004058010000006371038858010000007471044b014b024b0387710558010000006c71065d710728473ff80000000000004e5802000000c3a9710865580300000062696771094a7011010058030000006e6567710a8a060000000000ff4b0163636f6c6c656374696f6e730a4f726465726564446963740a710b2952710c580100000078710d4b0173752e";
  const p4 =
    "80049592000000000000007d94288c0161944afbffffff8c0162948a090000000000000000408c016394888c0174944b014b024b0387948c016c945d9428473ff80000000000004e8c02c3a994658c03626967944a701101008c036e6567948a060000000000ff4b018c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c0178944b01738c026279944302787994752e";
  for (const h of [p2, p4]) {
    const v = unpickle(hex(h), "p.pkl", noStorage) as Map<PyValue, PyValue>;
    assert(v.get("b") === 2n ** 70n, "LONG1 beyond 2^53 stays a bigint");
    assertEquals([v.get("a"), v.get("c"), v.get("t"), v.get("l"), v.get("big"), v.get("neg")], [
      -5,
      true,
      [1, 2, 3],
      [1.5, null, "é"],
      70000,
      -(2 ** 40),
    ]);
    assertEquals([...(v.get(1) as Map<PyValue, PyValue>)], [["x", 1]]);
  }
  assertEquals(
    [...(unpickle(hex(p4), "p.pkl", noStorage) as Map<PyValue, PyValue>).get("by") as Uint8Array],
    [0x78, 0x79],
  );
  // pickle.dumps(os.system, protocol=2)
  assertThrows(
    () => unpickle(hex("800263706f7369780a73797374656d0a71002e"), "evil.pkl", noStorage),
    undefined,
    "evil.pkl: unsupported pickle global posix.system",
  );
  assertThrows(() => unpickle(hex("80027d"), "cut.pkl", noStorage), undefined, "cut.pkl: truncated pickle");
});

Deno.test("Python's JSON: bare Infinity, -Infinity and NaN outside strings", () => {
  const v = parsePythonJson(
    '{"a": Infinity, "b": [-Infinity, NaN], "s": "Infinity \\" NaN", "n": 1.5e-3}',
  ) as Record<string, unknown>;
  assertEquals(v.a, Infinity);
  const b = v.b as number[];
  assert(b[0] === -Infinity && Number.isNaN(b[1]));
  assertEquals([v.s, v.n], ['Infinity " NaN', 0.0015]);
  assertEquals(readMdlus(`${DIR}/diffusion_16x24.mdlus`).args.sigma_max, Infinity);
  assertThrows(() => parsePythonJson("{oops}", "x/args.json"), undefined, "x/args.json: not valid JSON");
});

Deno.test("the reference's load hooks: legacy attention keys, device_buffer, deprecated class names", () => {
  const t = (k: string) => [k, k] as [string, string];
  const m = renameLegacyKeys(
    new Map([
      t("model.enc.8x8_block0.norm2.weight"),
      t("model.enc.8x8_block0.qkv.bias"),
      t("model.enc.8x8_block0.proj.weight"),
      t("model.dec.8x8_in0.attn.qkv.weight"),
      t("model.device_buffer"),
      t("device_buffer"),
      t("model.enc.8x8_block0.norm1.weight"),
    ]),
    "f.mdlus",
  );
  assertEquals([...m.keys()], [
    "model.enc.8x8_block0.attn.norm.weight",
    "model.enc.8x8_block0.attn.qkv.bias",
    "model.enc.8x8_block0.attn.proj.weight",
    "model.dec.8x8_in0.attn.qkv.weight",
    "model.enc.8x8_block0.norm1.weight",
  ]);
  const both = new Map([t("b.qkv.weight"), t("b.attn.qkv.weight")]);
  assertThrows(
    () => renameLegacyKeys(both, "f.mdlus"),
    undefined,
    "f.mdlus: both b.qkv.weight and b.attn.qkv.weight",
  );
  const unet = networkSpecFromArgs("UNet", {
    img_resolution: 16,
    img_channels: 2,
    sigma_min: 0,
    sigma_max: 1,
    sigma_data: 0.5,
    num_blocks: 1,
  });
  assertEquals(unet, { class: "CorrDiffRegressionUNet", kwargs: { img_resolution: 16, num_blocks: 1 } });
  assertEquals(networkSpecFromArgs("EDMPrecondSR", { scale_cond_input: false }), {
    class: "EDMPrecondSR",
    kwargs: { scale_cond_input: false },
  });
});

Deno.test("training checkpoints: Adam state by parameter index, epoch 4, step 2, hyper-parameters", async () => {
  for (
    const [name, spec] of Object.entries(manifest.optimizer_checkpoints) as [
      string,
      Record<string, unknown>,
    ][]
  ) {
    const s = readTorchOptimizerState(`${DIR}/${name}`);
    const pg = (spec.param_groups as Record<string, unknown>[])[0];
    const rows = spec.state as [number, string, number, number[], string, string, string, string][];
    assertEquals([s.epoch, s.step, s.lr, s.betas, s.eps, s.weightDecay, s.amsgrad], [
      4,
      2,
      pg.lr,
      pg.betas,
      pg.eps,
      0,
      false,
    ], name);
    assertEquals(s.numParams, 138, name);
    for (const [i, , step, shape, , h1, , h2] of rows) {
      assertEquals([s.steps[i], s.shapes[i]], [step, shape], `${name} state ${i}`);
      const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      assertEquals(
        [await sha16(bytes(s.exp_avg[i])), await sha16(bytes(s.exp_avg_sq[i]))],
        [h1, h2],
        `${name} state ${i}`,
      );
    }
    // Index → our parameter key, by state-dict order without buffers.
    const params = new Map(rows.map((r) => [r[1], { shape: r[3] }]));
    const byKey = adamStateByParam(s, params);
    assertEquals([...byKey.keys()], rows.map((r) => r[1]));
    assertEquals(byKey.get(rows[5][1])!.index, 5);
    const wrong = new Map(params);
    wrong.set(rows[3][1], { shape: [7] });
    const e = assertThrows(() => adamStateByParam(s, wrong));
    assertOneLine(e, name, `parameter ${rows[3][1]} is [7]`);
    wrong.delete(rows[3][1]);
    assertOneLine(
      assertThrows(() => adamStateByParam(s, wrong)),
      name,
      "covers 138 parameters, the network has 137",
    );
  }
});

Deno.test("a deflated zip .mdlus (not what PhysicsNeMo writes, but valid zip) reads the same", () => {
  const tar = readTar(Deno.readFileSync(`${DIR}/regression_16x24.fp16_legacy_tar.mdlus`), "t");
  const names = ["model.pt", "args.json", "metadata.json"];
  const deflated = parseMdlus(writeZip(names.map((n) => [n, tar.get(n)!]), true), "deflated.mdlus");
  const ref = readMdlus(`${DIR}/regression_16x24.fp16_legacy_tar.mdlus`);
  assertEquals(deflated.format, "zip");
  assertEquals([...deflated.tensors.keys()], [...ref.tensors.keys()]);
  for (const [k, t] of ref.tensors) assertEquals([...deflated.tensors.get(k)!.data], [...t.data], k);
});

Deno.test("damaged files: truncated zip and tar, random bytes, missing member, corrupt data: one line naming the file", () => {
  const zipBytes = Deno.readFileSync(`${DIR}/regression_16x24.mdlus`);
  const tarBytes = Deno.readFileSync(`${DIR}/regression_16x24.fp16_legacy_tar.mdlus`);
  const cases: [string, Uint8Array, string][] = [
    ["cut.mdlus", zipBytes.slice(0, 60000), "truncated zip archive"],
    ["cut-after-model.mdlus", zipBytes.slice(0, 94600), "truncated zip archive"],
    ["cut.tar.mdlus", tarBytes.slice(0, 40000), "truncated tar archive"],
    ["random.mdlus", crypto.getRandomValues(new Uint8Array(4096)), "neither a tar nor a zip"],
    ["empty.mdlus", new Uint8Array(0), "neither a tar nor a zip"],
  ];
  // A tar without metadata.json, and a zip whose model.pt has a flipped byte.
  const tar = readTar(tarBytes, "t");
  cases.push([
    "nometa.mdlus",
    writeTar([["args.json", tar.get("args.json")!], ["model.pt", tar.get("model.pt")!]]),
    "missing member metadata.json",
  ]);
  const pt = tar.get("model.pt")!.slice();
  pt[
    manifest.checkpoints["regression_16x24.fp16_legacy_tar.mdlus"]["model.pt"].first_data_record.data_offset
  ] ^= 0xff;
  cases.push([
    "flipped.mdlus",
    writeZip([["model.pt", pt], ["args.json", tar.get("args.json")!], [
      "metadata.json",
      tar.get("metadata.json")!,
    ]]),
    "CRC-32",
  ]);
  cases.push([
    "notpt.mdlus",
    writeZip([["model.pt", new Uint8Array(100)], ["args.json", tar.get("args.json")!], [
      "metadata.json",
      tar.get("metadata.json")!,
    ]]),
    "not a torch zip file",
  ]);
  for (const [name, bytes, msg] of cases) {
    assertOneLine(assertThrows(() => parseMdlus(bytes, `/x/${name}`)), `/x/${name}`, msg);
  }
  assertOneLine(assertThrows(() => readMdlus(`${DIR}/nope.mdlus`)), `${DIR}/nope.mdlus`, "cannot read");
  assertOneLine(
    assertThrows(() => readTorchOptimizerState(`${DIR}/regression_16x24.mdlus`)),
    "regression_16x24.mdlus",
    "not a torch zip file",
  );
});
