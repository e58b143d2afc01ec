/**
 * src/gpu/device.ts picks Vulkan when DENO_WEBGPU_BACKEND is unset and a Vulkan driver is installed, so
 * that only one of Mesa's drivers (lavapipe, not also llvmpipe through EGL) is loaded into the process;
 * an explicit DENO_WEBGPU_BACKEND still decides. Checked in fresh processes through /proc/<pid>/maps.
 */
import { assert, assertEquals } from "../helpers/assert.ts";

const vulkanInstalled = Deno.build.os === "linux" && (() => {
  try {
    return [...Deno.readDirSync("/usr/share/vulkan/icd.d")].some((e) => e.name.includes("lvp"));
  } catch {
    return false;
  }
})();

const SCRIPT = `
import { initRuntime } from "${new URL("../../src/gpu/runtime.ts", import.meta.url).href}";
await initRuntime();
const maps = Deno.readTextFileSync("/proc/" + Deno.pid + "/maps");
console.log(JSON.stringify({ backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? null,
  gl: maps.includes("swrast_dri"), vulkan: maps.includes("libvulkan_lvp") }));
`;

async function drivers(backend: string | null) {
  const env = { ...Deno.env.toObject() };
  delete env.DENO_WEBGPU_BACKEND;
  if (backend) env.DENO_WEBGPU_BACKEND = backend;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", SCRIPT],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert(out.success, `the probe failed: ${new TextDecoder().decode(out.stderr).slice(0, 400)}`);
  return JSON.parse(text.split("\n").pop()!) as { backend: string | null; gl: boolean; vulkan: boolean };
}

Deno.test({
  name: "with Mesa's Vulkan driver installed, an unset backend loads lavapipe alone; gl still picks OpenGL",
  ignore: !vulkanInstalled, // needs lavapipe's manifest (Linux with mesa-vulkan-drivers)
  fn: async () => {
    assertEquals(await drivers(null), { backend: "vulkan", gl: false, vulkan: true });
    const gl = await drivers("gl");
    assertEquals(gl.backend, "gl");
    assert(gl.gl && !gl.vulkan, `DENO_WEBGPU_BACKEND=gl: ${JSON.stringify(gl)}`);
  },
});
