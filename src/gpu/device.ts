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
  adapter: GPUAdapter;
  device: GPUDevice;
  limits: GPUSupportedLimits;
  features: ReadonlySet<string>;
  /** Human-readable adapter description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  profile: KernelProfile;
  /** Errors reported asynchronously by the device since the last check. */
  pendingErrors: string[];
  /** Set once the device is lost; every later use throws. */
  lost: string | null;
}

let gpuPromise: Promise<Gpu> | null = null;

const INSTALL_HINT = "No WebGPU adapter was found. On a Linux machine without a GPU install Mesa's software " +
  "drivers: `apt-get install -y mesa-vulkan-drivers` (Vulkan lavapipe) or libgl1-mesa-dri (OpenGL llvmpipe); " +
  "select one with DENO_WEBGPU_BACKEND=vulkan|gl.";

function profileOf(info: GPUAdapterInfo | undefined, fallback: boolean): KernelProfile {
  const forced = Deno.env.get("CORRDIFF_KERNEL_PROFILE");
  if (forced === "cpu" || forced === "gpu") return forced;
  const d = `${info?.description ?? ""} ${info?.device ?? ""} ${info?.vendor ?? ""}`.toLowerCase();
  if (fallback || /llvmpipe|lavapipe|swiftshader|softpipe|warp/.test(d)) return "cpu";
  return "gpu";
}

async function acquire(): Promise<Gpu> {
  if (!("gpu" in navigator) || !navigator.gpu) throw new Error(INSTALL_HINT);
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error(INSTALL_HINT);
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
