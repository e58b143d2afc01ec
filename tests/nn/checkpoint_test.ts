/**
 * Network checkpoints end to end: PhysicsNeMo `.mdlus` files (zip, legacy tar, float16/bfloat16,
 * legacy names) rebuild networks that reproduce the reference's forward outputs, training
 * directories resolve to their newest checkpoint, our own format round-trips bit for bit, the Adam
 * state maps onto our parameters, and every broken input fails with one line naming the file.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { formatResult, runGolden } from "../../src/golden/runner.ts";
import "../../src/golden/all_handlers.ts";
import { findLatestCheckpoint, loadNetwork, saveNetwork } from "../../src/nn/checkpoint.ts";
import { EDMPrecondSuperResolution } from "../../src/nn/wrappers.ts";
import { readTar } from "../../src/io/mdlus.ts";
import { ZipArchive } from "../../src/io/zip.ts";
import { adamStateByParam, readTorchOptimizerState } from "../../src/io/torch_optimizer.ts";
import { binunicode, replaceBytes, writeTar, writeZip } from "../fixtures/checkpoints/archives.ts";

const DIR = new URL("../fixtures/checkpoints", import.meta.url).pathname;
const manifest = JSON.parse(Deno.readTextFileSync(`${DIR}/manifest.json`));
const enc = new TextEncoder();

type State = Map<string, { shape: number[]; data: Float32Array }>;

function assertBitExact(a: State, b: State, what: string): void {
  assertEquals([...a.keys()], [...b.keys()], `${what} keys`);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    assertEquals(u.shape, t.shape, `${what} ${k}`);
    const x = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
    const y = new Uint32Array(u.data.buffer, u.data.byteOffset, u.data.length);
    assert(x.every((v, i) => v === y[i]), `${what} ${k}: values differ`);
  }
}

function assertOneLine(e: Error, path: string, includes: string): void {
  assert(!e.message.includes("\n"), `error spans several lines: ${e.message}`);
  assert(e.message.includes(path), `error does not name ${path}: ${e.message}`);
  assert(e.message.includes(includes), `error "${e.message}" does not mention "${includes}"`);
}

/** The legacy-tar fixture's members, to build variants from. */
function tarMembers(): Map<string, Uint8Array> {
  return readTar(Deno.readFileSync(`${DIR}/regression_16x24.fp16_legacy_tar.mdlus`), "tar");
}

/** model.pt with its data.pkl passed through `edit` (records otherwise unchanged). */
function editPickle(pt: Uint8Array, edit: (pkl: Uint8Array) => Uint8Array): Uint8Array {
  const z = new ZipArchive(pt, "pt");
  return writeZip(z.names.map((n) => [n, n.endsWith("/data.pkl") ? edit(z.read(n)) : z.read(n)]));
}

Deno.test("every fixture .mdlus rebuilds its network and reproduces the reference's forward (manifest tolerances)", async () => {
  await initRuntime();
  const results = await runGolden(DIR);
  assertEquals(results.length, 5);
  for (const r of results) assert(r.status === "PASS", formatResult(r));
  assertEquals(loadNetwork(`${DIR}/regression_16x24.fp16_legacy_tar.mdlus`).format, "mdlus-tar");
  const d = loadNetwork(`${DIR}/diffusion_16x24.mdlus`);
  assert(d.net instanceof EDMPrecondSuperResolution && d.net.sigmaMax === Infinity && !d.net.scaleCondInput);
  assertEquals([d.format, d.className, d.metadata.mdlus_file_version], [
    "mdlus-zip",
    "EDMPrecondSuperResolution",
    "0.1.0",
  ]);
  d.net.ps.dispose();
});

Deno.test("a training directory loads its newest <Class>.0.<N> checkpoint, .mdlus or ours", async () => {
  await initRuntime();
  const a = loadNetwork(`${DIR}/checkpoints_regression`);
  assertEquals(a.path, `${DIR}/checkpoints_regression/CorrDiffRegressionUNet.0.4.mdlus`);
  const dir = await Deno.makeTempDir();
  try {
    Deno.copyFileSync(a.path, `${dir}/CorrDiffRegressionUNet.0.4.mdlus`);
    Deno.copyFileSync(`${DIR}/checkpoints_regression/checkpoint.0.4.pt`, `${dir}/checkpoint.0.4.pt`);
    await saveNetwork(a.net, `${dir}/CorrDiffRegressionUNet.0.12.safetensors`);
    Deno.writeFileSync(`${dir}/checkpoint.0.16.safetensors`, new Uint8Array(16)); // a state file, never a network
    assertEquals(findLatestCheckpoint(dir), `${dir}/CorrDiffRegressionUNet.0.12.safetensors`);
    const b = loadNetwork(dir);
    assertEquals([b.format, b.className], ["safetensors", "CorrDiffRegressionUNet"]);
    assertBitExact(await a.net.ps.stateDict(), await b.net.ps.stateDict(), "directory");
    b.net.ps.dispose();
    const empty = await Deno.makeTempDir({ dir });
    assertOneLine(assertThrows(() => loadNetwork(empty)), empty, "no <Class>.0.<N>.mdlus");
  } finally {
    a.net.ps.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveNetwork → loadNetwork round-trips bit for bit (float16 weights, Infinity sigma_max included)", async () => {
  await initRuntime();
  const dir = await Deno.makeTempDir();
  try {
    for (
      const f of [
        "regression_16x24.fp16_legacy_tar.mdlus",
        "checkpoints_diffusion/EDMPrecondSuperResolution.0.4.mdlus",
      ]
    ) {
      const a = loadNetwork(`${DIR}/${f}`);
      const path = `${dir}/net.safetensors`;
      await saveNetwork(a.net, path);
      const b = loadNetwork(path);
      assertEquals(b.className, a.className);
      assertBitExact(await a.net.ps.stateDict(), await b.net.ps.stateDict(), f);
      if (b.net instanceof EDMPrecondSuperResolution) assertEquals(b.net.sigmaMax, Infinity);
      a.net.ps.dispose();
      b.net.ps.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a legacy file (class UNet, modulus module, v0.1.0 args, root-level attention keys) loads the same weights", async () => {
  await initRuntime();
  const m = tarMembers();
  const args = JSON.parse(new TextDecoder().decode(m.get("args.json")!));
  const legacyArgs = {
    __name__: "UNet",
    __module__: "modulus.models.diffusion.unet",
    __args__: { ...args.__args__, img_channels: 2, sigma_min: 0, sigma_max: Infinity, sigma_data: 0.5 },
  };
  const argsText = JSON.stringify(legacyArgs).replace("null", "Infinity"); // as Python writes it
  const pt = editPickle(m.get("model.pt")!, (pkl) => {
    for (
      const key
        of (manifest.checkpoints["regression_16x24.fp16_legacy_tar.mdlus"].state_dict.tensors as [string][])
          .map((r) => r[0])
    ) {
      const old = key.replace(".attn.norm.", ".norm2.").replace(".attn.qkv.", ".qkv.").replace(
        ".attn.proj.",
        ".proj.",
      );
      if (old !== key) pkl = replaceBytes(pkl, binunicode(key), binunicode(old));
    }
    return pkl;
  });
  assert(!new TextDecoder().decode(pt).includes(".attn.qkv.weight"), "the pickle still has new-style keys");
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/legacy.mdlus`;
    Deno.writeFileSync(
      path,
      writeTar([["args.json", enc.encode(argsText)], ["metadata.json", m.get("metadata.json")!], [
        "model.pt",
        pt,
      ]]),
    );
    const legacy = loadNetwork(path);
    const ref = loadNetwork(`${DIR}/regression_16x24.fp16_legacy_tar.mdlus`);
    assertEquals(legacy.className, "CorrDiffRegressionUNet");
    assertBitExact(await ref.net.ps.stateDict(), await legacy.net.ps.stateDict(), "legacy");
    legacy.net.ps.dispose();
    ref.net.ps.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the Adam state of checkpoint.0.4.pt maps onto our parameters in order, with matching shapes", async () => {
  await initRuntime();
  for (
    const [model, pt] of [["regression", "CorrDiffRegressionUNet"], [
      "diffusion",
      "EDMPrecondSuperResolution",
    ]]
  ) {
    const name = `checkpoints_${model}/checkpoint.0.4.pt`;
    const state = readTorchOptimizerState(`${DIR}/${name}`);
    const { net } = loadNetwork(`${DIR}/checkpoints_${model}/${pt}.0.4.mdlus`);
    const byKey = adamStateByParam(state, net.ps.params);
    const names = (manifest.optimizer_checkpoints[name].state as [number, string][]).map((r) => r[1]);
    assertEquals([...byKey.keys()], names, name);
    assertEquals([state.epoch, state.step, byKey.size], [4, 2, 138]);
    const w = byKey.get("model.enc.16x16_conv.weight")!;
    assertEquals([w.index, w.exp_avg.length, w.exp_avg_sq.length], [
      0,
      net.ps.params.get("model.enc.16x16_conv.weight")!.size,
      w.exp_avg.length,
    ]);
    net.ps.dispose();
  }
});

Deno.test("broken checkpoints fail with one line naming the file", async () => {
  await initRuntime();
  const dir = await Deno.makeTempDir();
  const m = tarMembers();
  const args = JSON.parse(new TextDecoder().decode(m.get("args.json")!));
  const withArgs = (a: unknown, pt = m.get("model.pt")!) =>
    writeTar([["args.json", enc.encode(JSON.stringify(a))], ["metadata.json", m.get("metadata.json")!], [
      "model.pt",
      pt,
    ]]);
  const zip = Deno.readFileSync(`${DIR}/regression_16x24.mdlus`);
  const ours = `${dir}/ours.safetensors`;
  const ref = loadNetwork(`${DIR}/regression_16x24.mdlus`);
  await saveNetwork(ref.net, ours);
  ref.net.ps.dispose();
  const complex = editPickle(
    m.get("model.pt")!,
    (pkl) =>
      replaceBytes(pkl, enc.encode("torch\nHalfStorage\n"), enc.encode("torch\nComplexFloatStorage\n")),
  );
  const cases: [string, Uint8Array | null, string][] = [
    ["missing.mdlus", null, "no such file or directory"],
    ["truncated.mdlus", zip.slice(0, zip.length - 500), "truncated zip archive"],
    ["truncated.safetensors", Deno.readFileSync(ours).slice(0, 20000), "truncated safetensors file"],
    ["random.bin", crypto.getRandomValues(new Uint8Array(3000)), "not a network checkpoint"],
    [
      "shape.mdlus",
      withArgs({ ...args, __args__: { ...args.__args__, model_channels: 8 } }),
      "tensor model.enc.16x16_conv.weight has shape [4,9,3,3], the model expects [8,9,3,3]",
    ],
    ["class.mdlus", withArgs({ ...args, __name__: "DhariwalUNet" }), "unknown network class DhariwalUNet"],
    [
      "dtype.mdlus",
      withArgs(args, complex),
      "unsupported dtype torch.ComplexFloatStorage (tensor model.enc.16x16_block0.norm0.weight)",
    ],
    ["state.pt", Deno.readFileSync(`${DIR}/checkpoints_regression/checkpoint.0.4.pt`), "a torch.save file"],
    [
      "lead_time.mdlus",
      withArgs({ ...args, __args__: { ...args.__args__, lead_time_mode: true } }),
      "lead_time_mode needs model_type SongUNetPosLtEmbd",
    ],
  ];
  try {
    for (const [name, bytes, msg] of cases) {
      const path = `${dir}/${name}`;
      if (bytes) Deno.writeFileSync(path, bytes);
      assertOneLine(assertThrows(() => loadNetwork(path)), path, msg);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
