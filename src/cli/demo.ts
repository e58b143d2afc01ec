/**
 * `deno task demo [--out DIR]`: the whole CorrDiff job on the built-in synthetic data, in a few
 * minutes on a CPU: a small regression U-Net and a small diffusion model trained, an ensemble
 * generated for held-back times, scored against the bilinear baseline, spectra and maps drawn.
 * Everything goes into DIR (default ./demo_output); the pipeline is src/demo/pipeline.ts.
 */
import { parseArgs } from "node:util";
import { exitIfNoGpu } from "../gpu/device.ts";
import { initRuntime } from "../gpu/runtime.ts";
import { createProgress } from "../generate/progress.ts";
import { DEMO_DEFAULTS, demoSettings, formatDemoReport, runDemo } from "../demo/pipeline.ts";

const USAGE = `usage: deno task demo [--out DIR]

Trains a small regression U-Net and a small residual diffusion model on the built-in synthetic data
(${DEMO_DEFAULTS.regression.steps} + ${DEMO_DEFAULTS.diffusion.steps} steps, a few minutes on a CPU), generates ${DEMO_DEFAULTS.members} members at each of ${DEMO_DEFAULTS.testTimes}
held-back times, scores them against the bilinear upsampled input and the regression mean, and
draws spectra and maps (PNG and SVG).

  --out DIR   output folder (default ./${DEMO_DEFAULTS.out}); the demo's previous checkpoints there are replaced`;

async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: { out: { type: "string", default: DEMO_DEFAULTS.out }, help: { type: "boolean", short: "h" } },
    }).values;
  } catch (e) {
    console.error(`demo: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const r = await initRuntime().catch(exitIfNoGpu);
  const s = demoSettings({ out: values.out });
  console.log(
    `corrdiff demo: the whole job on synthetic data, into ${s.out}/ (WebGPU adapter: ${r.gpu.description})`,
  );
  const result = await runDemo(s, { generationProgress: createProgress() });
  for (const line of formatDemoReport(result)) console.log(line);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`demo: ${(e as Error).message.split("\n")[0]}`);
    if (Deno.env.get("CORRDIFF_DEBUG")) console.error(e);
    Deno.exit(1);
  }
}
