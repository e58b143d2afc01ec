/**
 * Network checkpoints: a network's weights under the reference's state-dict keys plus what it takes
 * to rebuild it (the reference's `args.json`: class name, module and constructor arguments).
 *
 * Our own format is one safetensors file whose metadata holds `__name__`, `__module__` and
 * `__args__` (JSON), so a file is enough to rebuild the network it came from. PhysicsNeMo's own
 * `.mdlus` files (zip or legacy tar) load too, and so does a training directory (its newest
 * `<Class>.0.<N>.mdlus|safetensors`). Every failure is one line that names the file.
 */
import { parseSafetensors, type StFile, type StTensor, writeSafetensors } from "../io/safetensors.ts";
import { isTar, type MdlusFile, parseMdlus } from "../io/mdlus.ts";
import { isZip } from "../io/zip.ts";
import { buildNetwork, CorrDiffRegressionUNet, EDMPrecondSuperResolution, type Network } from "./wrappers.ts";
import { SongUNet } from "./songunet.ts";

/** The reference's class name and module of a network (what `args.json` calls `__name__`/`__module__`). */
export function networkClass(net: Network): { name: string; module: string } {
  if (net instanceof CorrDiffRegressionUNet) {
    return { name: "CorrDiffRegressionUNet", module: "physicsnemo.models.diffusion_unets.unet" };
  }
  if (net instanceof EDMPrecondSuperResolution) {
    return net.scaleCondInput
      ? { name: "EDMPrecondSR", module: "physicsnemo.diffusion.preconditioners.legacy" }
      : { name: "EDMPrecondSuperResolution", module: "physicsnemo.diffusion.preconditioners.legacy" };
  }
  if (net instanceof SongUNet) {
    return {
      name: net.posEmbd || net.gridChannels ? "SongUNetPosEmbd" : "SongUNet",
      module: "physicsnemo.models.diffusion_unets.song_unet",
    };
  }
  throw new Error("networkClass: not a network");
}

/** A checkpoint read from disk: the rebuilt network with its weights, and where it came from. */
export interface LoadedNetwork {
  /** The rebuilt network, its weights loaded. */
  net: Network;
  /** The class that was built (deprecated names mapped: `UNet` → `CorrDiffRegressionUNet`). */
  className: string;
  /** Its constructor arguments as saved, after the reference's compatibility mapping. */
  args: Record<string, unknown>;
  /** The file the weights were read from (the chosen file when a directory was given). */
  path: string;
  /** Which kind of file it was. */
  format: "safetensors" | "mdlus-zip" | "mdlus-tar";
  /** A `.mdlus`'s metadata.json (versions), or our safetensors metadata. */
  metadata: Record<string, unknown>;
}

/** Writes a network (weights + constructor arguments) as safetensors: temporary name, fsync, rename. */
export async function saveNetwork(
  net: Network,
  path: string,
  extraMetadata: Record<string, string> = {},
): Promise<void> {
  const cls = networkClass(net);
  const state = await net.ps.stateDict();
  writeSafetensors(path, state, {
    ...extraMetadata,
    __name__: cls.name,
    __module__: cls.module,
    __args__: JSON.stringify(net.kwargs),
  });
}

/** Builds a network for a checkpoint, naming the file in the error if the class or an argument is unsupported. */
function build(spec: { class: string; kwargs: Record<string, unknown> }, path: string): Network {
  try {
    return buildNetwork(spec);
  } catch (e) {
    throw new Error(`${path}: ${oneLine(e)}`);
  }
}

function oneLine(e: unknown): string {
  return ((e as Error).message ?? String(e)).split("\n")[0];
}

/** Loads a state dict into a freshly built network; on failure frees it and names the file. */
function loadState(net: Network, file: StFile, path: string): void {
  try {
    net.ps.load(file);
  } catch (e) {
    net.ps.dispose();
    throw new Error(`${path}: ${oneLine(e).replace(/^state dict: /, "")}`);
  }
}

/** Rebuilds a network from a parsed safetensors file written by {@link saveNetwork}. */
export function networkFromSafetensors(file: StFile, path: string): LoadedNetwork {
  const name = file.metadata.__name__;
  const rawArgs = file.metadata.__args__;
  if (!name || !rawArgs) {
    throw new Error(`${path}: not a network checkpoint (its safetensors metadata has no __name__/__args__)`);
  }
  let args: Record<string, unknown>;
  try {
    args = JSON.parse(rawArgs);
  } catch (e) {
    throw new Error(`${path}: __args__ metadata is not valid JSON (${oneLine(e)})`);
  }
  const net = build({ class: name, kwargs: args }, path);
  loadState(net, file, path);
  return { net, className: name, args, path, format: "safetensors", metadata: file.metadata };
}

/**
 * Constructor arguments of a saved network as our builders take them: runtime-only switches that
 * change nothing in float32 are dropped (`use_fp16`: the port computes in float32 and upcasts the
 * weights, as `Module.from_checkpoint` does into a float32 network). The lead-time arguments go to the
 * network, which accepts them active only for SongUNetPosLtEmbd (whose `lead_time_mode` is implied).
 */
function buildKwargs(kwargs: Record<string, unknown>, path: string): Record<string, unknown> {
  const kw = { ...kwargs };
  delete kw.use_fp16;
  if (kw.act !== undefined && kw.act !== "silu") {
    throw new Error(`${path}: activation act=${kw.act} is not supported (only silu)`);
  }
  if (kw.lead_time_mode && kw.model_type !== "SongUNetPosLtEmbd") {
    throw new Error(`${path}: lead_time_mode needs model_type SongUNetPosLtEmbd, not ${kw.model_type}`);
  }
  delete kw.lead_time_mode;
  return kw;
}

/** Rebuilds a network from a parsed PhysicsNeMo `.mdlus` (see {@link parseMdlus}). */
export function networkFromMdlus(file: MdlusFile): LoadedNetwork {
  const { path } = file;
  const net = build({ class: file.network.class, kwargs: buildKwargs(file.network.kwargs, path) }, path);
  const tensors = new Map<string, StTensor>();
  for (const [k, t] of file.tensors) tensors.set(k, { dtype: "F32", shape: t.shape, data: t.data });
  // Old checkpoints lack the noise embedding's frequencies; the reference recomputes them on load.
  for (const [k, b] of net.ps.buffers) {
    if (!tensors.has(k) && k.endsWith("map_noise.freqs")) {
      tensors.set(k, { dtype: "F32", shape: b.shape, data: b.data });
    }
  }
  loadState(net, { tensors, metadata: {} }, path);
  return {
    net,
    className: file.network.class,
    // After the reference's compatibility mapping (e.g. UNet's unused sigma_* dropped), as its constructor sees them.
    args: file.network.kwargs,
    path,
    format: file.format === "tar" ? "mdlus-tar" : "mdlus-zip",
    metadata: file.metadata,
  };
}

/**
 * The newest network checkpoint in a training directory: `<Class>.0.<N>.mdlus` or
 * `<Class>.0.<N>.safetensors` with the largest N (rank 0; the `checkpoint.0.<N>.*` training-state
 * files beside them are skipped). On equal N a `.safetensors` (ours) wins over a `.mdlus`.
 */
export function findLatestCheckpoint(dir: string): string {
  let best: { name: string; n: number; own: boolean } | null = null;
  for (const e of Deno.readDirSync(dir)) {
    const m = e.name.match(/^([A-Za-z_][A-Za-z0-9_]*)\.0\.(\d+)\.(mdlus|safetensors)$/);
    if (!m || !e.isFile || m[1] === "checkpoint") continue;
    const cand = { name: e.name, n: Number(m[2]), own: m[3] === "safetensors" };
    if (!best || cand.n > best.n || (cand.n === best.n && cand.own && !best.own)) best = cand;
  }
  if (!best) {
    throw new Error(
      `${dir}: no <Class>.0.<N>.mdlus or <Class>.0.<N>.safetensors network checkpoint in this directory`,
    );
  }
  return `${dir.replace(/\/+$/, "")}/${best.name}`;
}

/**
 * Loads a network checkpoint: our safetensors (from {@link saveNetwork}), a PhysicsNeMo `.mdlus`
 * (zip or legacy tar), or a directory (its newest `<Class>.0.<N>` checkpoint). The file type is
 * taken from the content, not the name. Needs the GPU runtime (`initRuntime`) to be started.
 * Throws a one-line error naming the file on any problem.
 */
export function loadNetwork(path: string): LoadedNetwork {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    throw new Error(
      `${path}: ${e instanceof Deno.errors.NotFound ? "no such file or directory" : oneLine(e)}`,
    );
  }
  if (info.isDirectory) return loadNetwork(findLatestCheckpoint(path));
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${oneLine(e)})`);
  }
  // The reference's order: tar first, then zip (a tar .mdlus contains a zip).
  if (isTar(bytes) || isZip(bytes)) return networkFromMdlus(parseMdlus(bytes, path));
  if (bytes.length >= 9 && bytes[8] === 0x7b) {
    return networkFromSafetensors(parseSafetensors(bytes, path), path);
  }
  throw new Error(`${path}: not a network checkpoint (neither safetensors nor a .mdlus zip/tar archive)`);
}
