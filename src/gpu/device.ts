/**
 * The one place that acquires the WebGPU adapter and device.
 *
 * Everything else asks `getGpu()` for the shared device; nothing hard-codes a machine's limits.
 * The adapter's description decides the kernel *profile*: software rasterisers (llvmpipe, lavapipe,
 * SwiftShader) run register-blocked kernels without workgroup memory 3-4x faster, real GPUs prefer
 * tiled kernels with workgroup memory.
 */

/** Which family of kernel variants suits this adapter. */
export type KernelProfile = "cpu" | "gpu";

/** The shared device plus what kernels need to know about it. */
export interface Gpu {
  /** The adapter the device came from. */
  adapter: GPUAdapter;
  /** The shared device. */
  device: GPUDevice;
  /** The device's limits, raised to the adapter's maxima for buffers and workgroups. */
  limits: GPUSupportedLimits;
  /** Features enabled on the device ("timestamp-query" when the adapter has it). */
  features: ReadonlySet<string>;
  /** Human-readable adapter description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Kernel family chosen from the adapter (software rasteriser: "cpu"). */
  profile: KernelProfile;
  /** Errors reported asynchronously by the device since the last check. */
  pendingErrors: string[];
  /** Set once the device is lost; every later use throws. */
  lost: string | null;
}

let gpuPromise: Promise<Gpu> | null = null;

const INSTALL_HINT =
  "No WebGPU adapter was found. On a Linux machine without a GPU install Mesa's software " +
  "drivers: `apt-get install -y mesa-vulkan-drivers` (Vulkan lavapipe) or libgl1-mesa-dri (OpenGL llvmpipe); " +
  "select one with DENO_WEBGPU_BACKEND=vulkan|gl.";

/** Thrown when no WebGPU adapter can be had; its message is one line naming what to install. */
export class NoGpuError extends Error {
  override name = "NoGpuError";
  constructor() {
    super(INSTALL_HINT);
  }
}

/**
 * For command-line entry points: prints a {@link NoGpuError} as one line (not a stack trace) and exits
 * with status 1; rethrows anything else. Use as `await initRuntime().catch(exitIfNoGpu)`.
 */
export function exitIfNoGpu(e: unknown): never {
  if (!(e instanceof NoGpuError)) throw e;
  console.error(`error: ${e.message}`);
  Deno.exit(1);
}

/**
 * Gives the process a private XDG_RUNTIME_DIR when it has none. Mesa's Vulkan drivers load libwayland
 * while probing window systems at adapter request time, and libwayland prints "error: XDG_RUNTIME_DIR
 * is invalid or not set in the environment." twice when the variable is unset or not absolute (the
 * usual case in containers and over ssh). Compute needs no display, so an empty directory of our own,
 * mode 0700 as the XDG spec requires, silences it. Best effort: without env/write permission nothing
 * changes.
 */
function ensureRuntimeDir(): void {
  if (Deno.build.os === "windows" || Deno.build.os === "darwin") return;
  try {
    if (Deno.env.get("XDG_RUNTIME_DIR")?.startsWith("/")) return;
    const uid = Deno.uid();
    const base = `${Deno.env.get("TMPDIR") || "/tmp"}/corrdiff-runtime-${uid}`;
    let dir = base;
    try {
      Deno.mkdirSync(base, { mode: 0o700 });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    // Another user may own a directory of that name in a shared /tmp: then take a fresh one.
    const st = Deno.lstatSync(base);
    if (!st.isDirectory || st.uid !== uid) dir = Deno.makeTempDirSync({ prefix: "corrdiff-runtime-" });
    else if (((st.mode ?? 0) & 0o777) !== 0o700) Deno.chmodSync(base, 0o700); // whatever the umask gave
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // No permission to read/set the environment or to create the directory: keep the warning.
  }
}

/**
 * Picks Vulkan for Deno's WebGPU when the choice is left open and a Vulkan driver is installed. Left open,
 * wgpu starts every backend it finds, so a machine with Mesa's software drivers loads both lavapipe
 * (Vulkan) and llvmpipe (OpenGL, through EGL) into the process: two copies of Mesa's LLVM code generator
 * sharing one LLVM library, for an adapter that is lavapipe anyway. One driver is less to go wrong (an
 * intermittent heap corruption at exit has been seen with both loaded; see llvm/llvm-project#105547).
 * `DENO_WEBGPU_BACKEND=gl` (or any value) still decides; it must be set before the first adapter request.
 */
function preferVulkan(): void {
  if (Deno.build.os !== "linux") return;
  try {
    if (Deno.env.get("DENO_WEBGPU_BACKEND")) return;
    const manifests = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];
    const explicit = Deno.env.get("VK_DRIVER_FILES") || Deno.env.get("VK_ICD_FILENAMES");
    const found = explicit || manifests.some((dir) => {
      try {
        for (const e of Deno.readDirSync(dir)) if (e.name.endsWith(".json")) return true;
      } catch {
        // no such directory
      }
      return false;
    });
    if (found) Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
  } catch {
    // No permission to read the environment or the directories: leave the choice to wgpu.
  }
}

function profileOf(info: GPUAdapterInfo | undefined, fallback: boolean): KernelProfile {
  const forced = Deno.env.get("CORRDIFF_KERNEL_PROFILE");
  if (forced === "cpu" || forced === "gpu") return forced;
  const d = `${info?.description ?? ""} ${info?.device ?? ""} ${info?.vendor ?? ""}`.toLowerCase();
  if (fallback || /llvmpipe|lavapipe|swiftshader|softpipe|warp/.test(d)) return "cpu";
  return "gpu";
}

async function acquire(): Promise<Gpu> {
  if (!("gpu" in navigator) || !navigator.gpu) throw new NoGpuError();
  ensureRuntimeDir();
  preferVulkan();
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new NoGpuError();
  // Ask for the adapter's own maxima: the defaults (128 MiB bindings, 256 MiB buffers) are far below
  // what real GPUs, and even llvmpipe, can do.
  const want: Record<string, number> = {};
  for (
    const k of [
      "maxStorageBufferBindingSize",
      "maxBufferSize",
      "maxComputeWorkgroupStorageSize",
      "maxComputeInvocationsPerWorkgroup",
      "maxComputeWorkgroupSizeX",
      "maxComputeWorkgroupSizeY",
      "maxStorageBuffersPerShaderStage",
      "maxTextureDimension2D",
    ] as const
  ) want[k] = adapter.limits[k] as number;
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has("timestamp-query")) requiredFeatures.push("timestamp-query");
  const device = await adapter.requestDevice({ requiredLimits: want, requiredFeatures });
  const info = adapter.info;
  const gpu: Gpu = {
    adapter,
    device,
    limits: device.limits,
    features: device.features as unknown as ReadonlySet<string>,
    description: info?.description || info?.device || "unknown adapter",
    profile: profileOf(info, (info as { isFallbackAdapter?: boolean })?.isFallbackAdapter ?? false),
    pendingErrors: [],
    lost: null,
  };
  device.addEventListener("uncapturederror", (ev) => {
    gpu.pendingErrors.push((ev as GPUUncapturedErrorEvent).error.message);
  });
  device.lost.then((info) => {
    gpu.lost = `WebGPU device lost (${info.reason}): ${info.message}`;
  });
  return gpu;
}

/** The process-wide GPU, opened on first use (70-120 ms on llvmpipe). */
export function getGpu(): Promise<Gpu> {
  if (!gpuPromise) {
    gpuPromise = acquire().catch((e) => {
      gpuPromise = null;
      throw e;
    });
  }
  return gpuPromise;
}
