/**
 * Fuzz test of every reader and of the commands that take files: a seeded corpus of corrupted
 * files of every kind (fuzz_corpus.ts), fed to the program as a user would meet them, in
 * subprocesses whose whole output is captured. Each case must give a one-line error that names the
 * file (or, for a flip that leaves a valid file, a normal result), with no JS stack trace, no
 * library diagnostic on stdout or stderr, no hang and nothing left behind.
 */
import { buildCorpus, type FuzzCase } from "./fuzz_corpus.ts";
import { CASE_MARK, type FuzzResult, RESULT_MARK } from "./fuzz_runner.ts";
import { assert } from "../helpers/assert.ts";

const SEED = 20240611;
const RUNNER = new URL("./fuzz_runner.ts", import.meta.url).pathname;
const CLI = { score_cli: "../../src/cli/score.ts", spectra_cli: "../../src/cli/spectra.ts" } as const;
/** Per-case limits: the runner's start (module loading, WebGPU) counts against its first case. */
const CASE_LIMIT_MS = 10_000, START_LIMIT_MS = 60_000, CLI_LIMIT_MS = 60_000;

/** A case's outcome as the test saw it. */
interface Outcome {
  c: FuzzCase;
  ok: boolean;
  message: string;
  /** The config key a configuration error is about. */
  key?: string;
  /** Everything the program printed besides its one error line. */
  extraOutput: string[];
  leftovers: string[];
  /** Why the case could not complete (hang, crash), if it did not. */
  broken?: string;
}

Deno.test("fuzz: 200+ corrupted files of every kind give one clear line naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corrdiff_fuzz_" });
  try {
    const t0 = performance.now();
    const cases = await buildCorpus(dir, SEED);
    const casesJson = `${dir}/cases.json`;
    await Deno.writeTextFile(casesJson, JSON.stringify(cases));
    const isCli = (c: FuzzCase) => c.reader in CLI;
    const [inProcess, cli] = await Promise.all([
      runInRunner(cases, casesJson, isCli),
      runCommands(cases.filter(isCli)),
    ]);
    const outcomes = [...inProcess, ...cli].sort((a, b) => a.c.id - b.c.id);
    const problems = outcomes.flatMap(check);
    console.log(summary(outcomes, performance.now() - t0));
    assert(cases.length >= 200, `only ${cases.length} cases`);
    assert(outcomes.length === cases.length, `${cases.length - outcomes.length} cases have no outcome`);
    assert(problems.length === 0, `${problems.length} problems:\n${problems.join("\n")}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** What is wrong with an outcome (nothing, for a pass). */
function check(o: Outcome): string[] {
  const where = `case ${o.c.id} (${o.c.kind}: ${o.c.mutation})`;
  const out: string[] = [];
  if (o.broken) return [`${where}: ${o.broken}`];
  if (o.ok && o.c.expect === "error") out.push(`${where}: accepted without an error`);
  if (!o.ok) {
    if (o.message.includes("\n")) out.push(`${where}: error spans several lines: ${o.message}`);
    // A config error about a key (an unknown key, a bad interpolation) is located by the key: once
    // composed, a key no longer belongs to one file.
    const located = o.message.includes(o.c.path) || (o.key !== undefined && o.message.includes(o.key));
    if (!located) out.push(`${where}: error does not name ${o.c.path}: ${o.message}`);
    if (/\n\s+at |file:\/\//.test(o.message)) out.push(`${where}: stack trace in the error: ${o.message}`);
  }
  if (o.extraOutput.length) {
    out.push(`${where}: printed besides its result: ${o.extraOutput.slice(0, 3).join(" | ")}`);
  }
  if (o.leftovers.length) out.push(`${where}: left behind ${o.leftovers.join(", ")}`);
  return out;
}

/**
 * Runs the reader cases in fuzz_runner.ts, restarting it after a case that hangs (killed at the
 * limit) or crashes the process, and attributes stray output to the case that printed it.
 */
async function runInRunner(
  cases: FuzzCase[],
  casesJson: string,
  skip: (c: FuzzCase) => boolean,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const byId = new Map(cases.map((c) => [c.id, c]));
  let next = 0;
  while (next < cases.length) {
    if (cases.slice(next).every(skip)) break;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", RUNNER, casesJson, String(next)],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const results = new Map<number, FuzzResult>();
    const stdoutExtra = new Map<number, string[]>();
    let current = -1, hung = false;
    let timer = setTimeout(() => (hung = true, child.kill("SIGKILL")), START_LIMIT_MS);
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => (hung = true, child.kill("SIGKILL")), CASE_LIMIT_MS);
    };
    for await (const line of lines(child.stdout)) {
      if (line.startsWith(CASE_MARK)) {
        current = Number(line.slice(CASE_MARK.length));
        arm();
      } else if (line.startsWith(RESULT_MARK)) {
        const r: FuzzResult = JSON.parse(line.slice(RESULT_MARK.length));
        results.set(r.id, r);
        current = -1;
      } else if (line.trim() !== "") {
        stdoutExtra.set(current, [...stdoutExtra.get(current) ?? [], line]);
      }
    }
    clearTimeout(timer);
    const status = await child.status;
    const stderrExtra = attribute(await stderr);
    for (const [id, r] of results) {
      outcomes.push({
        c: byId.get(id)!,
        ok: r.ok,
        message: r.message ?? "",
        key: r.key,
        extraOutput: [...stdoutExtra.get(id) ?? [], ...stderrExtra.get(id) ?? []],
        leftovers: r.leftovers,
      });
    }
    if (current < 0) {
      const stray = [...stdoutExtra.get(-1) ?? [], ...stderrExtra.get(-1) ?? []];
      assert(status.success && stray.length === 0, `fuzz runner failed outside a case: ${stray.join("\n")}`);
      break;
    }
    // The case in progress hung or took the process down: record it, carry on after it.
    const tail = (stderrExtra.get(current) ?? []).slice(-3).join(" | ");
    outcomes.push({
      c: byId.get(current)!,
      ok: false,
      message: "",
      extraOutput: [],
      leftovers: [],
      broken: hung
        ? `no result within ${CASE_LIMIT_MS / 1000} s (hang)`
        : `the process died (${status.code}): ${tail}`,
    });
    next = cases.findIndex((c) => c.id === current) + 1;
  }
  return outcomes;
}

/** Output lines of the runner before any case marker belong to -1 ("outside a case"). */
function attribute(text: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  let current = -1;
  for (const line of text.split("\n")) {
    if (line.startsWith(CASE_MARK)) current = Number(line.slice(CASE_MARK.length));
    else if (line.trim() !== "") out.set(current, [...out.get(current) ?? [], line]);
  }
  return out;
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    const parts = buf.split("\n");
    buf = parts.pop()!;
    yield* parts;
  }
  if (buf) yield buf;
}

/** Runs the command cases as a user would, two at a time. */
async function runCommands(cases: FuzzCase[]): Promise<Outcome[]> {
  const queue = [...cases];
  const outcomes: Outcome[] = [];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) outcomes.push(await runCommand(c));
  };
  await Promise.all([worker(), worker()]);
  return outcomes;
}

async function runCommand(c: FuzzCase): Promise<Outcome> {
  const cli = new URL(CLI[c.reader as keyof typeof CLI], import.meta.url).pathname;
  const args = c.reader === "score_cli"
    ? [c.path, `${c.outDir}/scores.nc`]
    : [c.path, "--out", `${c.outDir}/spectra`];
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CLI_LIMIT_MS),
  }).output().catch((e) => e as Error);
  if (out instanceof Error) {
    return { c, ok: false, message: "", extraOutput: [], leftovers: [], broken: out.message };
  }
  const text = new TextDecoder();
  const stdout = text.decode(out.stdout).split("\n").filter((l) => l.trim() !== "");
  const stderr = text.decode(out.stderr).split("\n").filter((l) => l.trim() !== "");
  const leftovers = [...Deno.readDirSync(c.outDir!)].map((e) => e.name);
  if (out.code === 0) {
    // A flip that left a valid file: the run succeeds and may write; only temporaries and locks are litter.
    return {
      c,
      ok: true,
      message: "",
      extraOutput: [],
      leftovers: leftovers.filter((f) => /tmp|lock/.test(f)),
    };
  }
  const command = c.reader === "score_cli" ? "score" : "spectra";
  const [first, ...rest] = stderr;
  return {
    c,
    ok: false,
    message: first?.startsWith(`${command}: `)
      ? first
      : `no '${command}: ' error line (exit ${out.code}): ${first}`,
    extraOutput: [...stdout, ...rest],
    leftovers,
    broken: out.signal ? `killed by ${out.signal} after ${CLI_LIMIT_MS / 1000} s (hang)` : undefined,
  };
}

/** Cases per file kind, errors and normal results, the runtime, and one message per kind. */
function summary(outcomes: Outcome[], ms: number): string {
  const kinds = new Map<string, Outcome[]>();
  for (const o of outcomes) kinds.set(o.c.kind, [...kinds.get(o.c.kind) ?? [], o]);
  const rows = [...kinds].map(([k, os]) => {
    const errors = os.filter((o) => !o.ok).length;
    const example = os.find((o) => !o.ok && o.c.expect === "error" && !/empty/.test(o.message))?.message ??
      "";
    return `  ${k.padEnd(36)} ${String(os.length).padStart(3)} cases, ${
      String(errors).padStart(3)
    } errors, ` +
      `${String(os.length - errors).padStart(3)} normal results   e.g. ${example}`;
  });
  return [`fuzz: ${outcomes.length} cases in ${(ms / 1000).toFixed(1)} s (seed ${SEED})`, ...rows].join("\n");
}
