/**
 * Tensor data movement with gradients: channel concat/slice, batch broadcast/tiling, and the pixel
 * gather that cuts positional-grid patches (kernels in kernels/tensor_ops.wgsl).
 */
import type { KernelProfile } from "../gpu/device.ts";
import { rt } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { declareKernel } from "../gpu/kernel.ts";
import { sumLeading, zeros } from "./elementwise.ts";

const ROW_PARAMS = {
  rows: "u32",
  row_len: "u32",
  src_stride: "u32",
  src_off: "u32",
  dst_stride: "u32",
  dst_off: "u32",
  chunk: "u32",
  nchunks: "u32",
} as const;
/** Row entry points; override VEC4 moves vec4s through src4 and dst4, the same buffers as src and dst. */
const rowKernelOf = (entry: string) =>
  declareKernel({ file: "tensor_ops", entry, params: ROW_PARAMS, bindings: ["src", "dst", "src4", "dst4"] });
const ROW_KERNELS = { copy_rows: rowKernelOf("copy_rows"), embed_rows: rowKernelOf("embed_rows") };
const GATHER_PARAMS = { pixels: "u32", hpwp: "u32", channels: "u32", height: "u32", width: "u32" } as const;
const GATHER = declareKernel({
  file: "tensor_ops",
  entry: "gather_pixels",
  uniform: "gp",
  params: GATHER_PARAMS,
  bindings: ["grid", "index", "gathered"],
});
const SCATTER = declareKernel({
  file: "tensor_ops",
  entry: "scatter_add_pixels",
  uniform: "gp",
  params: GATHER_PARAMS,
  bindings: ["index", "dgathered", "dgrid"],
});
/** Values per thread in the cpu family (see kernels/tensor_ops.wgsl); the gpu family moves one vec4. */
const CPU_CHUNK = 256;

/** A strided row copy, in float32 elements (see the kernel file's header). */
interface Rows {
  rows: number;
  rowLen: number;
  srcStride: number;
  srcOff: number;
  dstStride: number;
  dstOff: number;
}

/**
 * Row counts up to which, and row lengths (floats) from which, one copyBufferToBuffer per row beats
 * the copy kernel. Measured on llvmpipe: a copy command costs about 5 us and runs at memcpy speed
 * (about 20 GB/s), the kernel costs about 50 us per dispatch and moves about 2.5 GB/s; so copies win
 * for a few rows or rows of 16 KiB and more (e.g. [8,128,32,32] x 2 concatenated: 0.7 ms by copies,
 * 5 ms by the kernel; 1024 rows of 256 floats: 6.5 ms by copies, 1.2 ms by the kernel).
 */
const COPY_MAX_ROWS = 8;
const COPY_MIN_ROW = 4096;

/** Copies rows by copy commands or by the copy kernel, whichever suits the row sizes. */
function copyRows(src: Tensor, dst: Tensor, m: Rows, profile?: KernelProfile): void {
  const r = rt();
  if (m.rows <= COPY_MAX_ROWS || m.rowLen >= COPY_MIN_ROW) {
    for (let i = 0; i < m.rows; i++) {
      r.copy(src, i * m.srcStride + m.srcOff, dst, i * m.dstStride + m.dstOff, m.rowLen);
    }
  } else {
    rowKernel("copy_rows", src, dst, m, profile);
  }
}

/** Dispatches copy_rows or embed_rows, in vec4 units when every length and offset allows it. */
function rowKernel(
  entry: "copy_rows" | "embed_rows",
  src: Tensor,
  dst: Tensor,
  m: Rows,
  profile?: KernelProfile,
): void {
  const r = rt();
  const fields = [m.rowLen, m.srcStride, m.srcOff, m.dstStride, m.dstOff];
  const w = fields.every((v) => v % 4 === 0) ? 4 : 1;
  // Every thread of embed_rows writes a chunk of a dst row; copy_rows threads cover src rows.
  const len = (entry === "embed_rows" ? m.dstStride : m.rowLen) / w;
  const chunk = Math.max(1, (profile ?? r.gpu.profile) === "cpu" ? Math.min(len, CPU_CHUNK / w) : 1);
  const nchunks = Math.ceil(len / chunk);
  const [row_len, src_stride, src_off, dst_stride, dst_off] = fields.map((v) => v / w);
  const k = ROW_KERNELS[entry].with({ VEC4: w === 4 });
  const params = { rows: m.rows, row_len, src_stride, src_off, dst_stride, dst_off, chunk, nchunks };
  k.run(params, { src, dst, src4: src, dst4: dst }, k.grid(m.rows * nchunks));
}

function requireNchw(op: string, what: string, t: Tensor): void {
  if (t.shape.length !== 4) throw new Error(`${op}: ${what} must be [B, C, H, W], got [${t.shape}]`);
}

/**
 * Concatenates [B, Ci, H, W] tensors along the channel axis into [B, sum Ci, H, W].
 * `profile` forces a kernel family (default: the adapter's).
 */
export function concatChannels(parts: Tensor[], profile?: KernelProfile): Tensor {
  if (parts.length === 0) throw new Error("concatChannels: no tensors given");
  parts.forEach((t, i) => requireNchw("concatChannels", `part ${i}`, t));
  const [B, , H, W] = parts[0].shape;
  parts.forEach((t, i) => {
    if (t.shape[0] !== B || t.shape[2] !== H || t.shape[3] !== W) {
      throw new Error(
        `concatChannels: part ${i} [${t.shape}] does not match part 0 [${parts[0].shape}] outside channels`,
      );
    }
  });
  const hw = H * W;
  const total = parts.reduce((a, t) => a + t.shape[1], 0);
  const r = rt();
  const out = r.empty([B, total, H, W]);
  const offsets: number[] = [];
  let c0 = 0;
  for (const t of parts) {
    offsets.push(c0);
    const len = t.shape[1] * hw;
    copyRows(t, out, {
      rows: B,
      rowLen: len,
      srcStride: len,
      srcOff: 0,
      dstStride: total * hw,
      dstOff: c0 * hw,
    }, profile);
    c0 += t.shape[1];
  }
  if (r.tape?.wants(...parts)) {
    const needed = parts.map((t) => r.tape!.wants(t));
    r.tape.record(
      parts,
      out,
      (g) => parts.map((t, i) => needed[i] ? sliceChannels(g, offsets[i], t.shape[1], profile) : null),
    );
  }
  return out;
}

/** x[:, start:start+count] of x [B, C, H, W], as a new [B, count, H, W] tensor. */
export function sliceChannels(x: Tensor, start: number, count: number, profile?: KernelProfile): Tensor {
  requireNchw("sliceChannels", "x", x);
  const [B, C, H, W] = x.shape;
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > C) {
    throw new Error(`sliceChannels: channels [${start}, ${start + count}) are outside x [${x.shape}]`);
  }
  const hw = H * W;
  const r = rt();
  const out = r.empty([B, count, H, W]);
  const rows: Rows = {
    rows: B,
    rowLen: count * hw,
    srcStride: C * hw,
    srcOff: start * hw,
    dstStride: count * hw,
    dstOff: 0,
  };
  copyRows(x, out, rows, profile);
  if (r.tape?.wants(x)) {
    r.tape.record([x], out, (g) => {
      const gx = r.empty(x.shape);
      rowKernel("embed_rows", g, gx, {
        ...rows,
        srcStride: count * hw,
        srcOff: 0,
        dstStride: C * hw,
        dstOff: start * hw,
      }, profile);
      return [gx];
    });
  }
  return out;
}

/** The listed channels of x [B, C, H, W], in the listed order: [B, channels.length, H, W]. */
export function pickChannels(x: Tensor, channels: readonly number[]): Tensor {
  if (channels.length === 0) throw new Error(`pickChannels: no channels listed for ${x}`);
  return concatChannels(channels.map((c) => sliceChannels(x, c, 1)));
}

/**
 * Repeats x along the batch: [P, ...] → [P * times, ...], output sample i = input sample i % P
 * ("b-major" tiling of patches). The gradient sums the copies.
 */
export function tileBatch(x: Tensor, times: number, profile?: KernelProfile): Tensor {
  if (!Number.isInteger(times) || times < 1) {
    throw new Error(`tileBatch: times must be a positive integer, got ${times}`);
  }
  if (x.shape.length < 1) throw new Error("tileBatch: x must have a batch axis");
  const r = rt();
  const out = r.empty([x.shape[0] * times, ...x.shape.slice(1)]);
  copyRows(x, out, {
    rows: times,
    rowLen: x.size,
    srcStride: 0,
    srcOff: 0,
    dstStride: x.size,
    dstOff: 0,
  }, profile);
  if (r.tape?.wants(x)) {
    r.tape.record([x], out, (g) => [sumLeading(g, times).reshape(x.shape)]);
  }
  return out;
}

/** [1, C, H, W] (or [C, H, W]) repeated to [batch, C, H, W]. The gradient sums over the batch. */
export function broadcastBatch(x: Tensor, batch: number, profile?: KernelProfile): Tensor {
  const ok = x.shape.length === 3 || (x.shape.length === 4 && x.shape[0] === 1);
  if (!ok) throw new Error(`broadcastBatch: x must be [1, C, H, W] or [C, H, W], got [${x.shape}]`);
  const x4 = x.shape.length === 3 ? x.reshape([1, ...x.shape]) : x;
  return tileBatch(x4, batch, profile);
}

/**
 * Gathers patches of a grid: grid [C, H, W], index [P, 2, Hp, Wp] → [P, C, Hp, Wp] with
 * out[p, c, y, x] = grid[c, index[p, 0, y, x], index[p, 1, y, x]].
 *
 * The index is a float32 tensor holding integer row (channel 0) and column (channel 1) positions,
 * exact up to 2^24 (build it with `indexTensor`); positions outside the grid gather zeros. The
 * gradient scatter-adds back into the grid (for the learnable positional grid). The scatter uses a
 * float compare-and-swap loop, so repeated indices sum in an unspecified order: gradients may differ
 * in the last bits from run to run.
 */
export function gatherPixels(grid: Tensor, index: Tensor): Tensor {
  if (grid.shape.length !== 3) throw new Error(`gatherPixels: grid must be [C, H, W], got [${grid.shape}]`);
  if (index.shape.length !== 4 || index.shape[1] !== 2) {
    throw new Error(`gatherPixels: index must be [P, 2, Hp, Wp], got [${index.shape}]`);
  }
  const [C, H, W] = grid.shape;
  const [P, , Hp, Wp] = index.shape;
  const r = rt();
  const out = r.empty([P, C, Hp, Wp]);
  const params = { pixels: P * Hp * Wp, hpwp: Hp * Wp, channels: C, height: H, width: W };
  GATHER.run(params, { grid, index, gathered: out }, GATHER.grid(P * Hp * Wp));
  if (r.tape?.wants(grid)) {
    r.tape.record([grid, index], out, (g) => {
      const dgrid = zeros(grid.shape);
      SCATTER.run(params, { index, dgathered: g, dgrid }, SCATTER.grid(P * Hp * Wp));
      return [dgrid, null];
    }, [index]);
  }
  return out;
}

/**
 * Uploads integer positions (e.g. a patching's int64 `global_index` [P, 2, Hp, Wp]) as the float32
 * index tensor `gatherPixels` takes; errors if a value is not exactly representable (|v| > 2^24).
 */
export function indexTensor(values: ArrayLike<number | bigint>, shape: readonly number[]): Tensor {
  const data = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (!Number.isInteger(v) || Math.abs(v) > 2 ** 24) {
      throw new Error(`indexTensor: value ${values[i]} at ${i} is not an integer within ±2^24`);
    }
    data[i] = v;
  }
  return rt().upload(data, shape);
}
