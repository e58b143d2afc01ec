/**
 * Declared ops: the one way an op meets the tape.
 *
 * An op states its tensor inputs by name (an optional one, e.g. a bias, may be null), a forward that
 * records its kernels and returns the output (and, in `saved`, tensors it made that the backward
 * reads), and a backward from the output gradient to the gradients of the inputs that need one. The
 * helper does the rest, on the host only (no GPU work of its own): it asks the active tape which
 * inputs it wants, records the backward with one gradient per present input (null for those not
 * wanted), releases the forward's and the backward's temporaries, releases `saved` when nothing is
 * recorded, and throws, naming the op and the inputs, when a tracked input meets an op without a
 * backward (which would otherwise cut the gradient silently).
 *
 * ```ts
 * const SCALE = defineOp({
 *   name: "scale",
 *   forward: ({ x }: { x: Tensor }, alpha: number) => { ...; return out; },
 *   backward: (g, { params: alpha }) => ({ x: scale(g, alpha) }),
 * });
 * export const scale = (x: Tensor, alpha: number) => SCALE({ x }, alpha);
 * ```
 */
import { rt } from "./runtime.ts";
import { Tensor } from "./tensor.ts";

/** An op's tensor inputs by name; an absent optional input is null or undefined. */
export type OpInputs = Record<string, Tensor | null | undefined>;

/** Tensors a forward made for its backward (single tensors or lists). */
export type Saved = Record<string, Tensor | readonly Tensor[]>;

/** What a backward is given besides the output gradient. */
export interface OpContext<I extends OpInputs, P, S extends Saved> {
  inputs: I;
  params: P;
  saved: S;
  out: Tensor;
  /** Which inputs the tape wants a gradient of (the others' entries are ignored). */
  need: { readonly [K in keyof I]: boolean };
}

/** An op's declaration (see the module doc). */
export interface OpSpec<I extends OpInputs, P, S extends Saved> {
  /** Names the op in errors. */
  name: string;
  /** Records the forward kernels; returns the output, or the output and what the backward reads. */
  forward: (inputs: I, params: P) => Tensor | { out: Tensor; saved: S };
  /** Gradients of the needed inputs from the output gradient; none: the op refuses tracked inputs. */
  backward?: (g: Tensor, ctx: OpContext<I, P, S>) => { [K in keyof I]?: Tensor | null };
}

/** Declares an op (see the module doc); returns the function that runs it. */
export function defineOp<I extends OpInputs, P = void, S extends Saved = Record<never, never>>(
  spec: OpSpec<I, P, S>,
): (inputs: I, params: P) => Tensor {
  return (inputs, params) => {
    const r = rt();
    const tape = r.tape;
    const names = Object.keys(inputs).filter((k) => inputs[k]);
    const wanted = tape ? names.filter((k) => tape.wants(inputs[k])) : [];
    if (wanted.length && !spec.backward) {
      throw new Error(`${spec.name} has no gradient: its input ${wanted.join(", ")} needs one`);
    }
    const res = r.scope(() => spec.forward(inputs, params));
    const out = res instanceof Tensor ? res : res.out;
    const saved = res instanceof Tensor ? ({} as S) : res.saved;
    const made = Object.values(saved).flat().filter((t) =>
      !isOneOf(t, [out, ...names.map((k) => inputs[k]!)])
    );
    if (!wanted.length) {
      for (const t of made) t.release();
      return out;
    }
    const need = Object.fromEntries(Object.keys(inputs).map((k) => [k, wanted.includes(k)])) as OpContext<
      I,
      P,
      S
    >["need"];
    const backward = spec.backward!;
    tape!.record(
      names.map((k) => inputs[k]!),
      out,
      (g) =>
        r.scope(() => {
          const grads = backward(g, { inputs, params, saved, out, need });
          return names.map((k) => (need[k] ? grads[k] ?? null : null));
        }),
      made,
    );
    return out;
  };
}

function isOneOf(t: Tensor, ts: Tensor[]): boolean {
  const b = t.base ?? t;
  return ts.some((u) => (u.base ?? u) === b);
}
