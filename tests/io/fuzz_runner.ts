/**
 * Runs fuzz cases in a process of its own, so that the test sees exactly what a user would on the
 * terminal: `deno run -A fuzz_runner.ts <cases.json> <first index>`. Before each case it writes a
 * marker line to stdout and to stderr (so any other output can be attributed to the case that
 * printed it), then feeds the file to its reader and writes one result line to stdout.
 */
import { dirname } from "node:path";
import { ConfigError, resolveConfig } from "../../src/config/mod.ts";
import { CwbDataset } from "../../src/data/cwb.ts";
import { HrrrMiniDataset } from "../../src/data/hrrr_mini.ts";
import { initRuntime } from "../../src/gpu/runtime.ts";
import { readGenerationFile } from "../../src/io/generation_reader.ts";
import { readTorchOptimizerState } from "../../src/io/torch_optimizer.ts";
import { loadNetwork } from "../../src/nn/checkpoint.ts";
import { loadTrainState } from "../../src/train/checkpoint.ts";
import type { FuzzCase, FuzzReader } from "./fuzz_corpus.ts";

/** What the runner reports per case. */
export interface FuzzResult {
  id: number;
  ok: boolean;
  /** The error's whole message (the test checks it is one line). */
  message?: string;
  errorName?: string;
  /** The config key a ConfigError names (config errors about a key locate it by the key). */
  key?: string;
  /** Entries of the case's directory that were not there before. */
  leftovers: string[];
  ms: number;
}

/** Result lines start with this; case markers with {@link CASE_MARK}. */
export const RESULT_MARK = "@@fuzz-result ";
export const CASE_MARK = "@@fuzz-case ";

const READERS: Partial<Record<FuzzReader, (c: FuzzCase) => Promise<unknown>>> = {
  generation: async (c) => await readGenerationFile(c.path),
  hrrr_mini: async (c) => {
    const ds = await HrrrMiniDataset.open({
      dataPath: c.dataPath ?? c.path,
      statsPath: c.statsPath ?? c.path,
      invariantVariables: ["ramp", "one"],
    });
    for (let i = 0; i < ds.length; i++) await ds.item(i);
  },
  cwb: async (c) => {
    const ds = await CwbDataset.open({
      dataPath: c.path,
      allTimes: true,
      inChannels: [0, 1],
      outChannels: [0, 1],
      imgShapeX: 4,
      imgShapeY: 4,
    });
    for (let i = 0; i < ds.length; i++) await ds.item(i);
  },
  network: async (c) => {
    await initRuntime();
    loadNetwork(c.path).net.ps.dispose();
  },
  train_state: (c) => Promise.resolve(loadTrainState(c.path)),
  torch_optimizer: (c) => Promise.resolve(readTorchOptimizerState(c.path)),
  config: (c) => Promise.resolve(resolveConfig({ configName: "main", configPath: dirname(c.path) })),
};

function listing(dir: string, prefix = ""): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) =>
    e.isDirectory
      ? [`${prefix}${e.name}/`, ...listing(`${dir}/${e.name}`, `${prefix}${e.name}/`)]
      : [`${prefix}${e.name}`]
  );
}

const write = (stream: typeof Deno.stdout, text: string) => {
  const b = new TextEncoder().encode(text);
  for (let off = 0; off < b.length;) off += stream.writeSync(b.subarray(off));
};

if (import.meta.main) {
  const cases: FuzzCase[] = JSON.parse(Deno.readTextFileSync(Deno.args[0]));
  for (const c of cases.slice(Number(Deno.args[1] ?? 0))) {
    const read = READERS[c.reader];
    if (!read) continue;
    write(Deno.stdout, `\n${CASE_MARK}${c.id}\n`);
    write(Deno.stderr, `\n${CASE_MARK}${c.id}\n`);
    const dir = dirname(c.path);
    const before = new Set(listing(dir));
    const t0 = performance.now();
    const result: FuzzResult = { id: c.id, ok: true, leftovers: [], ms: 0 };
    try {
      await read(c);
    } catch (e) {
      result.ok = false;
      result.message = e instanceof Error ? e.message : String(e);
      result.errorName = e instanceof Error ? e.constructor.name : typeof e;
      if (e instanceof ConfigError) result.key = e.key;
    }
    result.ms = performance.now() - t0;
    result.leftovers = listing(dir).filter((f) => !before.has(f));
    write(Deno.stdout, `${RESULT_MARK}${JSON.stringify(result)}\n`);
  }
}
