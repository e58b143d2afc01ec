/**
 * Device time per kernel, from WebGPU timestamp queries: while a profiler is attached, every dispatch
 * runs in its own compute pass whose start and end are stamped. Used by `deno task bench --profile`;
 * it changes scheduling (one pass per dispatch), so profiled totals run a little above plain ones.
 */

/** Accumulated device time of one kernel entry point. */
export interface KernelTime {
  /** Kernel entry point label. */
  label: string;
  /** Total device time, milliseconds. */
  ms: number;
  /** Number of dispatches timed. */
  count: number;
}

const QUERIES = 4096; // timestamps per query set: 2048 dispatches between resolves

/** Collects begin/end timestamps for each recorded dispatch and sums them per kernel label. */
export class DispatchProfiler {
  #device: GPUDevice;
  #set: GPUQuerySet;
  #labels: string[] = [];
  #pending: Promise<void>[] = [];
  #totals = new Map<string, KernelTime>();

  /** Creates the query set on `device`, which must have the "timestamp-query" feature. */
  constructor(device: GPUDevice) {
    if (!device.features.has("timestamp-query")) {
      throw new Error("profiling needs the adapter feature 'timestamp-query', which this adapter lacks");
    }
    this.#device = device;
    this.#set = device.createQuerySet({ type: "timestamp", count: QUERIES });
  }

  /** True when the query set is full and must be resolved (the runtime then flushes). */
  get full(): boolean {
    return this.#labels.length * 2 >= QUERIES;
  }

  /** The timestamp writes for the pass of the next dispatch, labelled `label`. */
  next(label: string): GPUComputePassTimestampWrites {
    const i = this.#labels.length;
    this.#labels.push(label);
    return { querySet: this.#set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Records the resolve of this command buffer's timestamps (called just before it is finished). */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.#labels.length;
    if (n === 0) return;
    const bytes = n * 2 * 8;
    const resolved = this.#device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readback = this.#device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.#set, 0, n * 2, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, readback, 0, bytes);
    const labels = this.#labels;
    this.#labels = [];
    // Mapping waits for the submit that follows this call, so start it only after the caller submitted.
    this.#pending.push(
      Promise.resolve().then(async () => {
        await readback.mapAsync(GPUMapMode.READ);
        const t = new BigUint64Array(readback.getMappedRange().slice(0));
        readback.unmap();
        readback.destroy();
        resolved.destroy();
        labels.forEach((label, k) => {
          const ms = Number(t[2 * k + 1] - t[2 * k]) / 1e6;
          const e = this.#totals.get(label) ?? { label, ms: 0, count: 0 };
          e.ms += ms;
          e.count++;
          this.#totals.set(label, e);
        });
      }),
    );
  }

  /** Waits for every resolved batch and returns the totals per kernel, slowest first. */
  async totals(): Promise<KernelTime[]> {
    await Promise.all(this.#pending);
    this.#pending = [];
    return [...this.#totals.values()].sort((a, b) => b.ms - a.ms);
  }

  /** Forgets the totals collected so far (e.g. after a warm-up pass). */
  async reset(): Promise<void> {
    await this.totals();
    this.#totals.clear();
  }
}

/** Device time of a group of kernels (an op family). */
export interface FamilyTime {
  family: string;
  ms: number;
  dispatches: number;
}

/**
 * Sums kernel times into families: `families` maps a family name to a test on the kernel label
 * (`file.wgsl:entry`); the first match wins, unmatched kernels are grouped by their file.
 */
export function groupByFamily(
  totals: readonly KernelTime[],
  families: readonly [string, (label: string) => boolean][],
): FamilyTime[] {
  const out = new Map<string, FamilyTime>();
  for (const t of totals) {
    const family = families.find(([, test]) => test(t.label))?.[0] ?? t.label.split(":")[0];
    const e = out.get(family) ?? { family, ms: 0, dispatches: 0 };
    e.ms += t.ms;
    e.dispatches += t.count;
    out.set(family, e);
  }
  return [...out.values()].sort((a, b) => b.ms - a.ms);
}
