/**
 * The golden manifest format (see ../shared/golden/README.md): files, their networks, cases with
 * inputs/outputs and per-tensor tolerances.
 */
import { readSafetensors, type StFile, type StTensor } from "../io/safetensors.ts";

/** A tensor's tolerance: |port - golden| <= atol + rtol |golden|. */
export interface Tolerance {
  /** Absolute tolerance. */
  atol: number;
  /** Relative tolerance, times |golden|. */
  rtol: number;
  /** Absolute tolerance per sampler call (the `calls.*` tensors), to use instead of `atol`. */
  per_call_atol?: number[];
}

/** One case of a golden manifest: its description, inputs, outputs and tolerances. */
export interface CaseSpec {
  /** What the reference called, in words. */
  description: string;
  /** Mode the network ran in (GroupNorm variance, dropout). */
  mode?: "eval" | "train";
  /** Seed the reference used for the case. */
  seed?: number;
  /** Names of the input tensors in the file. */
  inputs?: string[];
  /** Names of the intermediate tensors in the file. */
  intermediates?: string[];
  /** Names of the output tensors in the file. */
  outputs: string[];
  /** Recommended tolerance per output tensor, or "exact". */
  tolerance: Record<string, Tolerance | "exact">;
  /** Parameters whose gradient is identically zero in the reference (e.g. `affine.weight`). */
  params_with_identically_zero_grad?: string[];
  /** Other case fields (`sigmas`, `draw_seed`, `sampler_kwargs`, ...). */
  [k: string]: unknown;
}

/** A network stored in a golden file: class and constructor arguments. */
export interface NetworkSpec {
  /** Reference class name (SongUNet, EDMPrecondSuperResolution, ...). */
  class: string;
  /** Exact constructor keyword arguments. */
  kwargs: Record<string, unknown>;
}

/** One safetensors file of a golden set, with its networks and cases. */
export interface FileSpec {
  /** Safetensors file name, relative to the golden directory. */
  file: string;
  /** What the file holds, in words. */
  description?: string;
  /** Networks whose weights the file holds, by prefix ("<unprefixed>" for the file's own). */
  networks?: Record<string, NetworkSpec>;
  /** File holding the network of cases that reuse another file's weights. */
  weights_file?: string;
  /** Files holding the networks of cases that use several (e.g. `net`, `regression_net`). */
  weights_files?: Record<string, string> | string[];
  /** File holding the regression network of residual-loss cases. */
  regression_weights_file?: string;
  /** The file's cases, by name. */
  cases: Record<string, CaseSpec>;
  /** Shape of every tensor in the file, by name. */
  tensors: Record<string, number[]>;
}

/** A golden set's manifest.json. */
export interface Manifest {
  /** File entries, by name. */
  files: Record<string, FileSpec>;
  /** Other top-level entries (e.g. the checkpoint set's `safetensors`). */
  [k: string]: unknown;
}

/** A golden directory: the manifest plus lazily-read safetensors files. */
export class GoldenSet {
  /** The parsed manifest.json (a checkpoint set's `safetensors` entry exposed as `files`). */
  readonly manifest: Manifest;
  #files = new Map<string, StFile>();

  /** Reads `<dir>/manifest.json`; safetensors files are read when first used. */
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
