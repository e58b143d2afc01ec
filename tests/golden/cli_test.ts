/** The golden and bench CLIs answer bad arguments with one line (and the usage), exit code 2, no stack trace. */
import { assert, assertEquals } from "../helpers/assert.ts";

async function run(cli: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`../../src/cli/${cli}.ts`, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr).replace(/^.*XDG_RUNTIME_DIR.*\n/gm, ""),
  };
}

Deno.test("golden and bench CLIs: unknown options, a missing set, a bad --filter or --repeats fail in one line", async () => {
  const cases: [string, string[], string][] = [
    ["golden", ["--bogus"], "golden: Unknown option '--bogus'"],
    ["golden", ["/nonexistent/set"], "golden: /nonexistent/set/manifest.json not found"],
    ["golden", ["tests/fixtures/golden", "--filter", "("], "golden: --filter (: Invalid regular expression"],
    ["bench", ["--bogus"], "bench: Unknown option '--bogus'"],
    ["bench", ["--repeats", "0"], "bench: --repeats must be a positive integer, got 0"],
  ];
  for (const [cli, args, want] of cases) {
    const { code, stderr } = await run(cli, args);
    assertEquals(code, 2, `${cli} ${args.join(" ")}: ${stderr}`);
    assert(stderr.startsWith(want), `${cli} ${args.join(" ")}: ${stderr}`);
    assert(!/\bat \S+:\d+|Uncaught/.test(stderr), `stack trace from ${cli} ${args.join(" ")}: ${stderr}`);
  }
});
