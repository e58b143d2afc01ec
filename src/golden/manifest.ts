/**
 * The golden manifest format (see ../shared/golden/README.md): files, their networks, cases with
 * inputs/outputs and per-tensor tolerances.
 */
import { readSafetensors, type StFile, type StTensor } from "../io/safetensors.ts";

/** A tensor's tolerance: |port - golden| <= atol + rtol |golden|. */
export interface Tolerance {
  atol: number;
  rtol: number;
  per_call_atol?: number[];
}

/** One case of a golden manifest: its description, inputs, outputs and tolerances. */
export interface CaseSpec {
  description: string;
  mode?: "eval" | "train";
  seed?: number;
  inputs?: string[];
  intermediates?: string[];
  outputs: string[];
  tolerance: Record<string, Tolerance | "exact">;
  params_with_identically_zero_grad?: string[];
  [k: string]: unknown;
}

/** A network stored in a golden file: class and constructor arguments. */
export interface NetworkSpec {
  class: string;
  kwargs: Record<string, unknown>;
}

/** One safetensors file of a golden set, with its networks and cases. */
export interface FileSpec {
  file: string;
  description?: string;
  networks?: Record<string, NetworkSpec>;
  weights_file?: string;
  weights_files?: Record<string, string> | string[];
  regression_weights_file?: string;
  cases: Record<string, CaseSpec>;
  tensors: Record<string, number[]>;
}

/** A golden set's manifest.json. */
export interface Manifest {
  files: Record<string, FileSpec>;
  [k: string]: unknown;
}

/** A golden directory: the manifest plus lazily-read safetensors files. */
export class GoldenSet {
  readonly manifest: Manifest;
  #files = new Map<string, StFile>();

  constructor(readonly dir: string) {
    const path = `${dir}/manifest.json`;
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (e) {
      throw new Error(`cannot read golden manifest ${path}: ${(e as Error).message}`);
    }
    this.manifest = JSON.parse(text);
    // The checkpoint set (golden/checkpoints) lists its golden files under "safetensors", each with
    // the same {file, tensors, cases} shape; its cases name a `checkpoint` to load.
    if (!this.manifest.files && this.manifest.safetensors) {
      this.manifest.files = this.manifest.safetensors as Record<string, FileSpec>;
    }
    if (!this.manifest.files) throw new Error(`${path}: no "files" entry`);
  }

  /** The parsed safetensors of a manifest file entry (by entry name or file name). */
  file(name: string): StFile {
    const spec = this.manifest.files[name];
    const fname = spec?.file ?? (name.endsWith(".safetensors") ? name : `${name}.safetensors`);
    let f = this.#files.get(fname);
    if (!f) {
      f = readSafetensors(`${this.dir}/${fname}`);
      this.#files.set(fname, f);
    }
    return f;
  }

  /** A tensor of a file, with a clear error when absent. */
  tensor(file: string, name: string): StTensor {
    const t = this.file(file).tensors.get(name);
    if (!t) throw new Error(`golden ${file}: no tensor ${name}`);
    return t;
  }

  /** Float32 data of a tensor (I64 converted). */
  f32(file: string, name: string): Float32Array {
    const t = this.tensor(file, name);
    return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data, (v) => Number(v));
  }
}
