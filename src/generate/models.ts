/**
 * The two networks of a generation run, loaded from their checkpoints and checked against the
 * dataset and the config before any work starts, so that a wrong file fails in one line that says
 * which file and what does not fit.
 */
import { loadNetwork } from "../nn/checkpoint.ts";
import { CorrDiffRegressionUNet, EDMPrecondSuperResolution, type Network } from "../nn/wrappers.ts";

/** What the networks must fit: the dataset's channels and grid. */
export interface DataShape {
  /** Names of the dataset's input channels, in order. */
  inputNames: string[];
  /** Names of the dataset's output channels, in order. */
  outputNames: string[];
  /** Grid height, pixels. */
  H: number;
  /** Grid width, pixels. */
  W: number;
}

/** How the diffusion model is conditioned in this run. */
export interface DiffusionConditioningKind {
  /** Whether the diffusion model takes the regression mean as extra input channels. */
  hrMeanConditioning: boolean;
  /** Patched generation appends the whole-domain input resized to the patch (the "global view"). */
  patched: boolean;
}

type Role = "regression" | "diffusion";

const ROLE_KEY: Record<Role, string> = {
  regression: "generation.io.reg_ckpt_filename",
  diffusion: "generation.io.res_ckpt_filename",
};

const ROLE_CLASS: Record<Role, string> = {
  regression: "CorrDiffRegressionUNet",
  diffusion: "EDMPrecondSuperResolution",
};

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split("\n")[0];
}

/** Reads a checkpoint (file or directory) and checks that it holds a network of the role's class. */
async function openCheckpoint(path: string, role: Role): Promise<Network> {
  const key = ROLE_KEY[role];
  try {
    await Deno.stat(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "does not exist" : `cannot be read (${firstLine(e)})`;
    throw new Error(`${key}: ${role} checkpoint ${path} ${why}`);
  }
  let net: Network;
  try {
    // loadNetwork may be synchronous or asynchronous depending on the checkpoint format.
    net = (await loadNetwork(path)).net;
  } catch (e) {
    const msg = firstLine(e);
    throw new Error(
      `${key}: cannot load ${role} checkpoint ${path}: ${
        msg.startsWith(path + ": ") ? msg.slice(path.length + 2) : msg
      }`,
    );
  }
  const isReg = net instanceof CorrDiffRegressionUNet, isRes = net instanceof EDMPrecondSuperResolution;
  if ((role === "regression" && isReg) || (role === "diffusion" && isRes)) return net;
  net.ps.dispose();
  const other: Role = role === "regression" ? "diffusion" : "regression";
  if (isReg || isRes) {
    throw new Error(
      `${key}: ${path} holds the ${other} model (${ROLE_CLASS[other]}), not the ${role} one; ` +
        `are generation.io.reg_ckpt_filename and res_ckpt_filename swapped?`,
    );
  }
  throw new Error(
    `${key}: ${path} holds a ${net.constructor.name}, not a CorrDiff ${role} model (${ROLE_CLASS[role]})`,
  );
}

/** Checks grid and output channels shared by both roles; returns the conditioning channels the model takes. */
function checkCommon(
  net: CorrDiffRegressionUNet | EDMPrecondSuperResolution,
  path: string,
  role: Role,
  data: DataShape,
): number {
  const key = ROLE_KEY[role];
  const { H, W } = net.model;
  if (H !== data.H || W !== data.W) {
    throw new Error(`${key}: ${path} was built for ${H}x${W} images, the dataset's are ${data.H}x${data.W}`);
  }
  if (net.outChannels !== data.outputNames.length) {
    throw new Error(
      `${key}: ${path} predicts ${net.outChannels} output channels, the dataset has ${data.outputNames.length} ` +
        `(${data.outputNames.join(", ")})`,
    );
  }
  return net.kwargs.img_in_channels - net.model.appendedChannels;
}

function dispose<T>(net: { ps: { dispose(): void } }, check: () => T): T {
  try {
    return check();
  } catch (e) {
    net.ps.dispose();
    throw e;
  }
}

/** Loads the regression checkpoint and checks it against the dataset. */
export async function loadRegressionModel(path: string, data: DataShape): Promise<CorrDiffRegressionUNet> {
  const net = await openCheckpoint(path, "regression") as CorrDiffRegressionUNet;
  return dispose(net, () => {
    const cond = checkCommon(net, path, "regression", data);
    if (cond !== data.inputNames.length) {
      throw new Error(
        `${ROLE_KEY.regression}: ${path} takes ${cond} input channels, the dataset gives ${data.inputNames.length} ` +
          `(${data.inputNames.join(", ")})`,
      );
    }
    return net;
  });
}

/** The conditioning channels of the diffusion model for a conditioning kind, described for messages. */
function conditioningChannels(data: DataShape, k: DiffusionConditioningKind): { n: number; parts: string } {
  const cin = data.inputNames.length, cout = data.outputNames.length;
  const parts = [
    ...(k.hrMeanConditioning ? [`${cout} regression mean`] : []),
    `${cin} input`,
    ...(k.patched ? [`${cin} whole-domain input`] : []),
  ];
  return { n: (k.hrMeanConditioning ? cout : 0) + cin * (k.patched ? 2 : 1), parts: parts.join(" + ") };
}

/** Loads the diffusion checkpoint and checks it against the dataset and the conditioning of this run. */
export async function loadDiffusionModel(
  path: string,
  data: DataShape,
  kind: DiffusionConditioningKind,
): Promise<EDMPrecondSuperResolution> {
  const net = await openCheckpoint(path, "diffusion") as EDMPrecondSuperResolution;
  return dispose(net, () => {
    const got = checkCommon(net, path, "diffusion", data);
    const want = conditioningChannels(data, kind);
    if (got === want.n) return net;
    // Name the setting that would make the model fit, when one does.
    const flips: [DiffusionConditioningKind, string][] = [
      [
        { ...kind, hrMeanConditioning: !kind.hrMeanConditioning },
        `generation.hr_mean_conditioning=${!kind.hrMeanConditioning}`,
      ],
      [{ ...kind, patched: !kind.patched }, kind.patched ? "generation=non_patched" : "generation=patched"],
    ];
    const fix = flips.find(([k]) => conditioningChannels(data, k).n === got);
    throw new Error(
      `${ROLE_KEY.diffusion}: ${path} is conditioned on ${got} channels, this run gives ${want.n} (${want.parts})` +
        (fix ? `; it fits with ${fix[1]}` : ""),
    );
  });
}
