/**
 * Network checkpoints: a network's weights under the reference's state-dict keys plus what it takes
 * to rebuild it (the reference's `args.json`: class name, module and constructor arguments).
 *
 * Our own format is one safetensors file whose metadata holds `__name__`, `__module__` and
 * `__args__` (JSON), so a file is enough to rebuild the network it came from.
 */
import { readSafetensors, type StFile, writeSafetensors } from "../io/safetensors.ts";
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
    return { name: net.posEmbd || net.gridChannels ? "SongUNetPosEmbd" : "SongUNet", module: "physicsnemo.models.diffusion_unets.song_unet" };
  }
  throw new Error("networkClass: not a network");
}

/** A checkpoint read from disk: the rebuilt network with its weights, and where it came from. */
export interface LoadedNetwork {
  net: Network;
  className: string;
  args: Record<string, unknown>;
  /** The file the weights were read from. */
  path: string;
}

/** Writes a network (weights + constructor arguments) as safetensors: temporary name, fsync, rename. */
export async function saveNetwork(net: Network, path: string, extraMetadata: Record<string, string> = {}): Promise<void> {
  const cls = networkClass(net);
  const state = await net.ps.stateDict();
  writeSafetensors(path, state, {
    ...extraMetadata,
    __name__: cls.name,
    __module__: cls.module,
    __args__: JSON.stringify(net.kwargs),
  });
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
    throw new Error(`${path}: __args__ metadata is not valid JSON (${(e as Error).message})`);
  }
  const net = buildNetwork({ class: name, kwargs: args });
  try {
    net.ps.load(file);
  } catch (e) {
    net.ps.dispose();
    throw new Error(`${path}: ${(e as Error).message.replace(/^state dict: /, "")}`);
  }
  return { net, className: name, args, path };
}

/** Loads a network checkpoint file written by {@link saveNetwork}. */
export function loadNetwork(path: string): LoadedNetwork {
  return networkFromSafetensors(readSafetensors(path), path);
}
