/**
 * The Python and torch values that src/io/torch_pickle.ts builds from a checkpoint: the pickle value
 * type, globals and objects, typed storages and tensors (`torch._utils._rebuild_tensor_v2`), and the
 * conversion of every storage type to float32.
 */

/** Element types of torch storages that convert to float32. */
export type TorchDtype =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Storage class name (`torch.<Name>`) → dtype and element size. */
const STORAGE_TYPES: Record<string, [TorchDtype, number]> = {
  FloatStorage: ["float32", 4],
  DoubleStorage: ["float64", 8],
  HalfStorage: ["float16", 2],
  BFloat16Storage: ["bfloat16", 2],
  LongStorage: ["int64", 8],
  IntStorage: ["int32", 4],
  ShortStorage: ["int16", 2],
  CharStorage: ["int8", 1],
  ByteStorage: ["uint8", 1],
  BoolStorage: ["bool", 1],
};

/** A Python value as the unpickler returns it. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | Map<PyValue, PyValue>
  | TorchTensor
  | TorchStorage
  | PyGlobal
  | PyObject;

/** A class or function named by GLOBAL that the reader does not interpret itself. */
export class PyGlobal {
  /** `module` and `name` as the GLOBAL opcode gives them. */
  constructor(readonly module: string, readonly name: string) {}
  /** `module.name`. */
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object of an uninterpreted class (from NEWOBJ), with its BUILD state. */
export class PyObject {
  /** The state set by BUILD (null until then). */
  state: PyValue = null;
  /** `cls` is the class, `args` the arguments NEWOBJ passed. */
  constructor(readonly cls: PyGlobal, readonly args: PyValue[]) {}
}

/** One storage record `<prefix>/data/<key>`, read on first use. */
export class TorchStorage {
  #bytes: Uint8Array | null = null;
  /** A storage of `numel` elements read lazily by `load`; `source` names the file in errors. */
  constructor(
    /** `torch.<typeName>`, e.g. FloatStorage. */
    readonly typeName: string,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
    readonly source: string,
    readonly load: () => Uint8Array,
  ) {}

  /** The storage's dtype and element size, or a one-line error naming the file. */
  get type(): [TorchDtype, number] {
    const t = STORAGE_TYPES[this.typeName];
    if (!t) {
      throw new Error(
        `${this.source}: storage data/${this.key} has unsupported dtype torch.${this.typeName}`,
      );
    }
    return t;
  }

  /** Raw little-endian bytes, checked against numel. */
  bytes(): Uint8Array {
    if (!this.#bytes) {
      const b = this.load();
      const need = this.numel * this.type[1];
      if (b.length < need) {
        throw new Error(`${this.source}: storage data/${this.key} has ${b.length} bytes, needs ${need}`);
      }
      this.#bytes = b;
    }
    return this.#bytes;
  }
}

/** A tensor view (`_rebuild_tensor_v2`): storage, element offset, size and stride. */
export class TorchTensor {
  #data: Float32Array | null = null;
  /** A view of `storage` from element `offset` with the given shape and strides (in elements). */
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}

  /** The stored element type (throws for storage types we cannot convert). */
  get dtype(): TorchDtype {
    return this.storage.type[0];
  }

  /** Number of elements: the product of the shape. */
  get numel(): number {
    return this.shape.reduce((a, s) => a * s, 1);
  }

  /** The elements in row-major order, converted to float32 (float16/bfloat16 exactly). Cached. */
  get data(): Float32Array {
    if (!this.#data) this.#data = toFloat32(this.dtype, this.storedBytes());
    return this.#data;
  }

  /**
   * The elements in row-major order in the stored dtype, little-endian (what the checkpoint
   * manifests hash). Honours offset and strides, so views and shared storages read correctly.
   */
  storedBytes(): Uint8Array {
    const es = this.storage.type[1];
    const src = this.storage.bytes();
    const n = this.numel;
    if (n === 0) return new Uint8Array(0);
    let last = this.offset;
    for (let d = 0; d < this.shape.length; d++) last += (this.shape[d] - 1) * this.stride[d];
    if (this.offset < 0 || last >= this.storage.numel) {
      throw new Error(
        `${this.storage.source}: tensor view [${this.shape}] at offset ${this.offset} exceeds storage data/${this.storage.key}`,
      );
    }
    if (isContiguous(this.shape, this.stride)) return src.slice(this.offset * es, (this.offset + n) * es);
    const out = new Uint8Array(n * es);
    const idx = new Array(this.shape.length).fill(0);
    let pos = this.offset;
    for (let i = 0; i < n; i++) {
      out.set(src.subarray(pos * es, pos * es + es), i * es);
      // Odometer over the indices, innermost fastest.
      for (let d = this.shape.length - 1; d >= 0; d--) {
        idx[d]++;
        pos += this.stride[d];
        if (idx[d] < this.shape[d]) break;
        pos -= idx[d] * this.stride[d];
        idx[d] = 0;
      }
    }
    return out;
  }
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) return false;
    expect *= shape[d];
  }
  return true;
}

/** IEEE binary16 bits → number (exact). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Little-endian elements of `dtype` → float32. */
function toFloat32(dtype: TorchDtype, b: Uint8Array): Float32Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (dtype) {
    case "float32":
      // storedBytes() returns a fresh array, so it is usually aligned and can be viewed in place.
      return b.byteOffset % 4 === 0
        ? new Float32Array(b.buffer, b.byteOffset, b.length / 4)
        : new Float32Array(b.slice().buffer);
    case "float64":
      return Float32Array.from({ length: b.length / 8 }, (_, i) => v.getFloat64(8 * i, true));
    case "float16":
      return Float32Array.from({ length: b.length / 2 }, (_, i) => halfToFloat(v.getUint16(2 * i, true)));
    case "bfloat16": {
      // bfloat16 is the upper half of a float32.
      const u = new Uint32Array(b.length / 2);
      for (let i = 0; i < u.length; i++) u[i] = v.getUint16(2 * i, true) << 16;
      return new Float32Array(u.buffer);
    }
    case "int64":
      return Float32Array.from({ length: b.length / 8 }, (_, i) => Number(v.getBigInt64(8 * i, true)));
    case "int32":
      return Float32Array.from({ length: b.length / 4 }, (_, i) => v.getInt32(4 * i, true));
    case "int16":
      return Float32Array.from({ length: b.length / 2 }, (_, i) => v.getInt16(2 * i, true));
    case "int8":
      return Float32Array.from({ length: b.length }, (_, i) => v.getInt8(i));
    case "uint8":
    case "bool":
      return Float32Array.from(b);
  }
}
