/**
 * Every way a generation run can be set up wrong fails before any work, in one line that names the
 * key or file and what does not fit; the command line prints just that line.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { tinyConfig, writeTinyModels } from "./fixtures.ts";
import { generate } from "../../src/generate/run.ts";

const dir = await Deno.makeTempDir({ prefix: "generate_errors_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const models = await writeTinyModels(dir);

/** Runs generate and returns its error message, checked to be one line. */
async function failure(overrides: string[], m = models, size = 16): Promise<string> {
  const e = await assertRejects(() => generate(tinyConfig(m, `${dir}/out.nc`, overrides, size)));
  assert(!e.message.includes("\n"), `not one line: ${e.message}`);
  return e.message;
}

function expectMatch(message: string, re: RegExp): void {
  assert(re.test(message), `"${message}" does not match ${re}`);
}

Deno.test("checkpoints: missing, unreadable, swapped", async () => {
  expectMatch(
    await failure([`generation.io.reg_ckpt_filename=${dir}/nope.safetensors`]),
    /^generation\.io\.reg_ckpt_filename: regression checkpoint .*nope\.safetensors does not exist$/,
  );
  await Deno.writeTextFile(`${dir}/garbage.safetensors`, "this is not a checkpoint");
  expectMatch(
    await failure([`generation.io.res_ckpt_filename=${dir}/garbage.safetensors`]),
    /^generation\.io\.res_ckpt_filename: cannot load diffusion checkpoint .*garbage\.safetensors: /,
  );
  expectMatch(
    await failure([
      `generation.io.reg_ckpt_filename=${models.res}`,
      `generation.io.res_ckpt_filename=${models.reg}`,
    ]),
    /^generation\.io\.reg_ckpt_filename: .*res\.safetensors holds the diffusion model \(EDMPrecondSuperResolution\), not the regression one; are generation\.io\.reg_ckpt_filename and res_ckpt_filename swapped\?$/,
  );
  expectMatch(
    await failure([`generation.io.res_ckpt_filename=${models.reg}`]),
    /^generation\.io\.res_ckpt_filename: .*reg\.safetensors holds the regression model \(CorrDiffRegressionUNet\), not the diffusion one/,
  );
});

Deno.test("checkpoints that do not fit the dataset or the config: channels, image size, conditioning", async () => {
  expectMatch(
    await failure([
      "dataset.output_variables=[u10m]",
      "dataset.input_variables=[u10m]",
      "dataset.invariant_variables=[orography, lsm]",
    ]),
    /^generation\.io\.reg_ckpt_filename: .* predicts 2 output channels, the dataset has 1 \(u10m\)$/,
  );
  expectMatch(
    await failure(["dataset.invariant_variables=[]"]),
    /^generation\.io\.reg_ckpt_filename: .* takes 3 input channels, the dataset gives 2 \(u10m, v10m\)$/,
  );
  expectMatch(
    await failure([], models, 32),
    /^generation\.io\.reg_ckpt_filename: .* was built for 16x16 images, the dataset's are 32x32$/,
  );
  expectMatch(
    await failure(["generation.hr_mean_conditioning=false"]),
    /^generation\.io\.res_ckpt_filename: .* is conditioned on 5 channels, this run gives 3 \(3 input\); it fits with generation\.hr_mean_conditioning=true$/,
  );
});

Deno.test("times, output path and patch shape", async () => {
  expectMatch(
    await failure(['generation.times=["2001-01-01T00:00:00"]']),
    /^generation\.times: 2001-01-01T00:00:00 is not a time of the dataset \(the dataset has 4 times, 2000-01-01T00:00:00 to 2000-01-01T03:00:00\)$/,
  );
  expectMatch(
    await failure([`generation.io.output_filename=${dir}/no/such/dir/out.nc`]),
    /^cannot write .*no\/such\/dir\/out\.nc: directory .* is not usable/,
  );
  const patched = await writeTinyModels(await Deno.makeTempDir({ dir }), { patched: true });
  const patch = (
    y: number,
    x: number,
  ) => ["generation=patched", `generation.patch_shape_y=${y}`, `generation.patch_shape_x=${x}`];
  expectMatch(
    await failure(patch(32, 16), patched),
    /^generation\.patch_shape_y\/x: patch 32x16 is larger than the 16x16 domain/,
  );
  expectMatch(
    await failure(patch(15, 16), patched),
    /^generation\.patch_shape_y\/x: patch 15x16 is not a multiple of 2/,
  );
  expectMatch(
    await failure([...patch(8, 8), "generation.boundary_pix=3"], patched),
    /^generation\.overlap_pix\/boundary_pix: .*must exceed/,
  );
  // A patched model asked for whole-domain generation says which setting fits.
  expectMatch(await failure([], patched), /it fits with generation=patched$/);
  // Nothing is left behind by a failed run.
  assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.includes("out.nc")), []);
});

Deno.test("the command line prints the one line and exits 1", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../src/cli/generate.ts", import.meta.url).pathname,
      "--config-name=config_generate_synthetic.yaml",
      `++generation.io.reg_ckpt_filename=${dir}/missing.safetensors`,
      `++generation.io.res_ckpt_filename=${models.res}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 1);
  const err = new TextDecoder().decode(out.stderr).trim();
  expectMatch(
    err,
    /^generate: generation\.io\.reg_ckpt_filename: regression checkpoint .*missing\.safetensors does not exist$/,
  );
});

Deno.test("NaN in an input field is refused, naming the time and channel; a second run on the same output is refused", async () => {
  const nanDs = new URL("../train/nan_dataset.ts", import.meta.url).pathname;
  expectMatch(
    await failure([`dataset.type=${nanDs}::NanDataset`, "++dataset.nan_sample=0"]),
    /^input at time 2000-01-01T00:00:00Z \(sample 0\) has non-finite values: 1 in u10m$/,
  );
  // A live lock on the output (this process, this host) stands for a run in progress.
  const out = `${dir}/locked.nc`;
  const lockFile = `${out}.lock`;
  const { acquireLock } = await import("../../src/util/lock.ts");
  const held = acquireLock(out, { purpose: "test" });
  try {
    const e = await assertRejects(() => generate(tinyConfig(models, out, [], 16)));
    assert(e.message.includes(lockFile) || e.message.includes("lock"), e.message);
    assert(!e.message.includes("\n"), e.message);
  } finally {
    held.release();
  }
});
