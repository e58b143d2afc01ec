/**
 * Parameters and persistent buffers under the reference's state-dict keys.
 *
 * Layers register what they own here when they are built; a checkpoint (safetensors) is then a
 * plain map from those keys to tensors, loadable from the reference's golden files as they are.
 */
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { readSafetensors, type StFile, writeSafetensors } from "../io/safetensors.ts";
import { Rng } from "../util/rng.ts";

/** The reference's `_weight_init` modes (weight_init.py). */
export type InitMode = "xavier_uniform" | "xavier_normal" | "kaiming_uniform" | "kaiming_normal";

/** How a weight starts: distribution, fans and the `init_weight` multiplier. Biases start at 0. */
export interface InitSpec {
  /** Weight distribution (uniform or normal, Xavier or Kaiming scaling). */
  mode: InitMode;
  /** Fan-in: input features times kernel area. */
  fanIn: number;
  /** Fan-out: output features times kernel area. */
  fanOut: number;
  /** Multiplier of the drawn values (the reference's `init_weight`); 1 when absent. */
  gain?: number;
}

/** Keys present in old or reference checkpoints that carry nothing we use. */
const IGNORED_KEYS = /(^|\.)device_buffer$/;

/** A network's parameters and persistent buffers, by state-dict key, with init, load and save. */
export class ParamStore {
  /** Trainable parameters in registration (= state-dict) order. */
  readonly params = new Map<string, Tensor>();
  /** Persistent non-trainable buffers kept on the host (map_noise.freqs, resample_filter). */
  readonly buffers = new Map<string, { shape: number[]; data: Float32Array }>();
  readonly #rng: Rng;

  /** `seed` seeds the generator that draws every weight initialisation, in registration order. */
  constructor(seed = 0) {
    this.#rng = new Rng(seed);
  }

  /** Registers a parameter initialised per `init` (a weight) or to `fill` (biases, norms). */
  param(key: string, shape: number[], init: InitSpec | { fill: number }): Tensor {
    if (this.params.has(key)) throw new Error(`parameter ${key} registered twice`);
    const n = shape.reduce((a, s) => a * s, 1);
    const data = new Float32Array(n);
    if ("fill" in init) data.fill(init.fill);
    else {
      const g = init.gain ?? 1;
      const { fanIn, fanOut } = init;
      for (let i = 0; i < n; i++) {
        switch (init.mode) {
          case "xavier_uniform":
            data[i] = g * Math.sqrt(6 / (fanIn + fanOut)) * (2 * this.#rng.uniform() - 1);
            break;
          case "xavier_normal":
            data[i] = g * Math.sqrt(2 / (fanIn + fanOut)) * this.#rng.normal();
            break;
          case "kaiming_uniform":
            data[i] = g * Math.sqrt(3 / fanIn) * (2 * this.#rng.uniform() - 1);
            break;
          case "kaiming_normal":
            data[i] = g * Math.sqrt(1 / fanIn) * this.#rng.normal();
            break;
        }
      }
    }
    const t = rt().upload(data, shape).keep();
    t.name = key;
    this.params.set(key, t);
    return t;
  }

  /** Registers a persistent host buffer with its default contents. */
  buffer(key: string, shape: number[], data: Float32Array): Float32Array {
    this.buffers.set(key, { shape, data });
    return data;
  }

  /** Number of trainable scalars. */
  get numParameters(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  /** Marks every parameter as needing a gradient (training) or not. */
  setRequiresGrad(on: boolean): void {
    for (const t of this.params.values()) t.requiresGrad = on;
  }

  /**
   * Loads parameters and buffers from a safetensors file or parsed file. Every registered key must
   * be present with the right shape; `prefix` is prepended to our keys when looking them up (e.g.
   * "layers.conv3." for a golden layer case). Extra keys in the file are an error unless `strict`
   * is false, except known-unused ones (device_buffer).
   */
  load(source: string | StFile, opts: { prefix?: string; strict?: boolean } = {}): void {
    const file = typeof source === "string" ? readSafetensors(source) : source;
    const where = typeof source === "string" ? source : "state dict";
    const prefix = opts.prefix ?? "";
    const used = new Set<string>();
    const fetch = (key: string, shape: readonly number[]) => {
      const t = file.tensors.get(prefix + key);
      if (!t) throw new Error(`${where}: missing tensor ${prefix + key}`);
      if (t.dtype !== "F32") throw new Error(`${where}: tensor ${prefix + key} is ${t.dtype}, expected F32`);
      if (t.shape.join() !== shape.join()) {
        throw new Error(
          `${where}: tensor ${prefix + key} has shape [${t.shape}], the model expects [${shape}]`,
        );
      }
      used.add(prefix + key);
      return t.data as Float32Array;
    };
    for (const [key, p] of this.params) rt().write(p, fetch(key, p.shape));
    for (const [key, b] of this.buffers) b.data.set(fetch(key, b.shape));
    if (opts.strict !== false && prefix === "") {
      const extra = [...file.tensors.keys()].filter((k) => !used.has(k) && !IGNORED_KEYS.test(k));
      if (extra.length) {
        throw new Error(
          `${where}: ${extra.length} tensors the model does not have, e.g. ${extra.slice(0, 3).join(", ")}`,
        );
      }
    }
  }

  /** The state dict (parameters and buffers, read back from the device) in registration order. */
  async stateDict(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    const data = await rt().readAll([...this.params.values()]);
    [...this.params].forEach(([key, p], i) => out.set(key, { shape: [...p.shape], data: data[i] }));
    for (const [key, b] of this.buffers) out.set(key, { shape: b.shape, data: b.data });
    return out;
  }

  /** Saves the state dict as safetensors (temporary name, then rename). */
  async save(path: string, metadata?: Record<string, string>): Promise<void> {
    writeSafetensors(path, await this.stateDict(), metadata);
  }

  /** Releases every parameter's device buffer. */
  dispose(): void {
    for (const t of this.params.values()) {
      t.release();
    }
  }
}
