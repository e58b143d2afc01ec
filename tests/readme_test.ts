/**
 * Every `deno task` command of the README works: its task exists, its arguments parse and its
 * config resolves (every key, group and `???` checked), and the quick ones run. The long ones
 * (training and generation on real data) run in their own tests at small sizes.
 */
import { loadConfigFromArgs } from "../src/config/mod.ts";
import { assert, assertEquals } from "./helpers/assert.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const README = Deno.readTextFileSync(`${ROOT}README.md`);
const TASKS = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks as Record<string, string>;

/** The `deno task ...` commands of the README's shell blocks, continuation lines joined. */
function readmeCommands(): string[][] {
  const out: string[][] = [];
  for (const block of README.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)) {
    const text = block[1].replace(/\\\n\s*/g, " ");
    for (const line of text.split("\n")) {
      const m = /(?:^|\s)deno task (.*)$/.exec(line.replace(/#.*$/, "").trim());
      if (!m) continue;
      // Shell words; $D and ${...} stand for paths the user chooses.
      const words = m[1].match(/"[^"]*"|'[^']*'|\S+/g)!.map((w) => w.replace(/^["']|["']$/g, ""));
      out.push(words);
    }
  }
  return out;
}

const commands = readmeCommands();

Deno.test("the README's deno task commands name existing tasks", () => {
  assert(commands.length >= 10, `${commands.length} commands found`);
  for (const [task] of commands) assert(task in TASKS, `README uses 'deno task ${task}', not in deno.json`);
});

Deno.test("every README train and generate command resolves its config", () => {
  let n = 0;
  for (const [task, ...args] of commands) {
    if (task !== "train" && task !== "generate") continue;
    const argv = args.filter((a) =>
      !a.startsWith("--shard") && !/^\$|^\d+\/\d+$/.test(a) && !a.includes("${")
    );
    const cfg = loadConfigFromArgs(
      argv,
      task === "train" ? "config_training_synthetic_regression" : "config_generate_synthetic",
    );
    assertEquals(cfg.rest, [], `deno task ${task} ${args.join(" ")}`);
    n++;
  }
  assert(n >= 8, `${n} train/generate commands checked`);
});

Deno.test("the README's checkpoint golden command passes", async () => {
  const cmd = commands.find(([t, d]) => t === "golden" && d === "tests/fixtures/checkpoints");
  assert(cmd, "the README shows deno task golden tests/fixtures/checkpoints");
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["task", ...cmd],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(res.stdout);
  assert(res.success, text + new TextDecoder().decode(res.stderr));
  assert(/\d+ passed, 0 failed/.test(text), text);
});
