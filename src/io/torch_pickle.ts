/**
 * Reader for PyTorch's zip serialization (`torch.save` since 1.6: `model.pt` inside a `.mdlus`,
 * `checkpoint.0.<N>.pt`), without Python: the ZIP container, the subset of pickle that state dicts
 * and optimizer states use, and `torch._utils._rebuild_tensor_v2` over typed storages.
 *
 * Python values map to: dict/OrderedDict → Map (keys keep their type, int keys stay numbers),
 * list/tuple → array, int → number (bigint beyond 2^53), float → number, str → string,
 * bytes → Uint8Array, None → null, tensor → {@link TorchTensor}. Only the globals a checkpoint
 * needs are known; anything else is refused, as `torch.load(weights_only=True)` would.
 */
import { isZip, ZipArchive } from "./zip.ts";
import { PyGlobal, PyObject, type PyValue, TorchStorage, TorchTensor } from "./torch_values.ts";

export {
  halfToFloat,
  PyGlobal,
  PyObject,
  type PyValue,
  type TorchDtype,
  TorchStorage,
  TorchTensor,
} from "./torch_values.ts";

/** Callbacks that give the unpickler its torch semantics. */
export interface UnpickleHooks {
  /** Resolves a persistent id (BINPERSID), e.g. a storage tuple, to the object it stands for. */
  persistentLoad(pid: PyValue): PyValue;
}

const MARK = Symbol("mark");

/** Pickle opcode names, for error messages. */
const OPNAMES: Record<number, string> = {};

/**
 * Unpickles protocol ≤ 4 bytes (the subset torch checkpoints use). `source` names the file in
 * errors; unknown opcodes and globals are refused with their name and byte position.
 */
export function unpickle(bytes: Uint8Array, source: string, hooks: UnpickleHooks): PyValue {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const td = new TextDecoder();
  let stack: (PyValue | typeof MARK)[] = [];
  const marks: (PyValue | typeof MARK)[][] = [];
  const memo = new Map<number, PyValue>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.length) throw new Error(`${source}: truncated pickle (needs ${n} more bytes at ${p})`);
  };
  const u8 = () => (need(1), bytes[p++]);
  const u16 = () => (need(2), p += 2, v.getUint16(p - 2, true));
  const u32 = () => (need(4), p += 4, v.getUint32(p - 4, true));
  const u64 = () => (need(8), p += 8, Number(v.getBigUint64(p - 8, true)));
  const take = (n: number) => (need(n), p += n, bytes.subarray(p - n, p));
  const line = () => {
    const e = bytes.indexOf(0x0a, p);
    if (e < 0) throw new Error(`${source}: truncated pickle (unterminated GLOBAL at ${p})`);
    const s = td.decode(bytes.subarray(p, e));
    p = e + 1;
    return s;
  };
  const pop = (): PyValue => {
    const x = stack.pop();
    if (x === undefined || x === MARK) {
      throw new Error(`${source}: malformed pickle (stack underflow at ${p})`);
    }
    return x;
  };
  const top = (): PyValue => {
    const x = stack[stack.length - 1];
    if (x === undefined || x === MARK) throw new Error(`${source}: malformed pickle (empty stack at ${p})`);
    return x;
  };
  const popMark = (): PyValue[] => {
    const items = stack as PyValue[];
    const prev = marks.pop();
    if (!prev) throw new Error(`${source}: malformed pickle (no MARK at ${p})`);
    stack = prev;
    return items;
  };
  const setItems = (d: PyValue, items: PyValue[]) => {
    if (!(d instanceof Map)) throw new Error(`${source}: malformed pickle (SETITEM on a non-dict at ${p})`);
    for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
  };
  const append = (l: PyValue, items: PyValue[]) => {
    if (!Array.isArray(l)) throw new Error(`${source}: malformed pickle (APPEND on a non-list at ${p})`);
    l.push(...items);
  };
  const long = (b: Uint8Array): number | bigint => {
    let x = 0n;
    for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
    if (b.length && b[b.length - 1] & 0x80) x -= 1n << BigInt(8 * b.length);
    return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
  };

  for (;;) {
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        u64();
        break; // FRAME
      case 0x2e:
        return pop(); // STOP
      case 0x63: {
        const mod = line();
        stack.push(findGlobal(mod, line(), source));
        break;
      } // GLOBAL
      case 0x93: {
        const name = pop(), mod = pop();
        stack.push(findGlobal(String(mod), String(name), source));
        break;
      } // STACK_GLOBAL
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
      case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) throw new Error(`${source}: malformed pickle (memo ${i} unset at ${at})`);
        stack.push(memo.get(i)!);
        break;
      }
      case 0x28:
        marks.push(stack);
        stack = [];
        break; // MARK: items after it collect on a fresh stack
      case 0x74: {
        const t = popMark();
        stack.push(t);
        break;
      } // TUPLE (popMark swaps `stack`: call it first)
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop(), a = pop();
        stack.push([a, b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop(), b = pop(), a = pop();
        stack.push([a, b, c]);
        break;
      } // TUPLE3
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4a:
        stack.push(u32() | 0);
        break; // BININT (signed)
      case 0x8a:
        stack.push(long(take(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(long(take(u32())));
        break; // LONG4
      case 0x47:
        need(8);
        stack.push(v.getFloat64(p, false));
        p += 8;
        break; // BINFLOAT: big-endian
      case 0x58:
        stack.push(td.decode(take(u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(td.decode(take(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(td.decode(take(u64())));
        break; // BINUNICODE8
      case 0x42:
        stack.push(take(u32()).slice());
        break; // BINBYTES
      case 0x43:
        stack.push(take(u8()).slice());
        break; // SHORT_BINBYTES
      case 0x8e:
        stack.push(take(u64()).slice());
        break; // BINBYTES8
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x64: {
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      } // DICT
      case 0x6c: {
        const l = popMark();
        stack.push(l);
        break;
      } // LIST
      case 0x73: {
        const val = pop(), key = pop();
        setItems(top(), [key, val]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      case 0x61: {
        const x = pop();
        append(top(), [x]);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        append(top(), items);
        break;
      } // APPENDS
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x51:
        stack.push(hooks.persistentLoad(pop()));
        break; // BINPERSID
      case 0x52:
      case 0x81: { // REDUCE, NEWOBJ
        const args = pop(), fn = pop();
        if (!Array.isArray(args)) {
          throw new Error(`${source}: malformed pickle (call arguments are not a tuple at ${at})`);
        }
        stack.push(call(fn, args, source, op === 0x81));
        break;
      }
      case 0x62: {
        const state = pop();
        build(top(), state);
        break;
      } // BUILD
      default:
        throw new Error(
          `${source}: unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}${
            OPNAMES[op] ? ` (${OPNAMES[op]})` : ""
          } at byte ${at}`,
        );
    }
  }
}

/** Globals a checkpoint may name; everything else is refused (as `weights_only` loading does). */
function findGlobal(module: string, name: string, source: string): PyGlobal {
  const q = `${module}.${name}`;
  const ok = q === "collections.OrderedDict" || q === "torch._utils._rebuild_tensor_v2" ||
    q === "torch._utils._rebuild_parameter" || q === "torch.device" ||
    (module === "torch" && name.endsWith("Storage"));
  if (!ok) throw new Error(`${source}: unsupported pickle global ${q} (not part of a state dict)`);
  return new PyGlobal(module, name);
}

function call(fn: PyValue, args: PyValue[], source: string, newobj: boolean): PyValue {
  if (!(fn instanceof PyGlobal)) throw new Error(`${source}: malformed pickle (call of a non-class)`);
  switch (fn.qualname) {
    case "collections.OrderedDict": {
      const d = new Map<PyValue, PyValue>();
      // OrderedDict(iterable of pairs) is allowed; torch always passes ().
      for (const kv of (args[0] ?? []) as PyValue[][]) d.set(kv[0], kv[1]);
      return d;
    }
    case "torch._utils._rebuild_tensor_v2": {
      const [storage, offset, size, stride] = args;
      if (
        !(storage instanceof TorchStorage) || typeof offset !== "number" || !Array.isArray(size) ||
        !Array.isArray(stride)
      ) {
        throw new Error(`${source}: malformed _rebuild_tensor_v2 arguments`);
      }
      return new TorchTensor(storage, offset, size.map(Number), stride.map(Number));
    }
    case "torch._utils._rebuild_parameter":
      return args[0]; // (data, requires_grad, backward_hooks): the parameter is its data here
    case "torch.device":
      return String(args[0]);
    default:
      if (newobj) return new PyObject(fn, args);
      throw new Error(`${source}: unsupported pickle call ${fn.qualname}`);
  }
}

function build(obj: PyValue, state: PyValue): void {
  // OrderedDict's BUILD sets attributes (torch's `_metadata` version map): nothing we need.
  if (obj instanceof PyObject) obj.state = state;
}

/** What {@link readTorchZip} returns. */
export interface TorchZip {
  /** The unpickled object. */
  value: PyValue;
  /** The record prefix (`archive`, or the file stem when saved to a path). */
  prefix: string;
}

/**
 * `torch.load` of the bytes of a zip-serialized file: parses the container, then unpickles
 * `<prefix>/data.pkl` with storages resolved to `<prefix>/data/<key>` (read lazily).
 * `source` names the file in every error.
 */
export function readTorchZip(bytes: Uint8Array, source: string): TorchZip {
  if (!isZip(bytes)) {
    if (bytes[0] === 0x80) {
      throw new Error(`${source}: legacy (pre-1.6, non-zip) torch serialization is not supported`);
    }
    throw new Error(`${source}: not a torch zip file`);
  }
  const zip = new ZipArchive(bytes, source);
  if (!zip.names.length) throw new Error(`${source}: empty zip archive`);
  // PyTorch takes the prefix from the first record's name.
  const prefix = zip.names[0].split("/")[0];
  const bo = `${prefix}/byteorder`;
  if (zip.has(bo)) {
    const order = new TextDecoder().decode(zip.read(bo)).trim();
    if (order !== "little") {
      throw new Error(`${source}: byte order "${order}" is not supported (little-endian only)`);
    }
  }
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || !(pid[1] instanceof PyGlobal)) {
      throw new Error(`${source}: unsupported persistent id in data.pkl (not a storage)`);
    }
    const [, cls, key, location, numel] = pid;
    const k = String(key);
    let s = storages.get(k);
    if (!s) {
      s = new TorchStorage(
        cls.name,
        k,
        String(location),
        Number(numel),
        source,
        () => zip.read(`${prefix}/data/${k}`),
      );
      storages.set(k, s);
    }
    return s;
  };
  const pkl = `${prefix}/data.pkl`;
  if (!zip.has(pkl)) throw new Error(`${source}: not a torch zip file (no ${pkl} record)`);
  const value = unpickle(zip.read(pkl), source, { persistentLoad });
  return { value, prefix };
}

/** Reads a torch zip file from disk (see {@link readTorchZip}). */
export function readTorchFile(path: string): TorchZip {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message.split("\n")[0]})`);
  }
  return readTorchZip(bytes, path);
}

Object.assign(OPNAMES, {
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x92: "NEWOBJ_EX",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
  0x50: "PERSID",
  0x49: "INT",
  0x4c: "LONG",
  0x46: "FLOAT",
  0x53: "STRING",
  0x56: "UNICODE",
  0x55: "SHORT_BINSTRING",
  0x54: "BINSTRING",
  0x69: "INST",
  0x6f: "OBJ",
  0x67: "GET",
  0x70: "PUT",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
});
