/**
 * Entry points to autograd: run a function under a tape and back-propagate a scalar.
 */
import { rt } from "./runtime.ts";
import { Tape } from "./tape.ts";
import type { Tensor } from "./tensor.ts";
import { ELEMENTWISE, launchElementwise } from "./elementwise_kernels.ts";

/** a + b into a new tensor (gradient accumulation; never recorded). */
function sum(a: Tensor, b: Tensor): Tensor {
  const out = rt().empty(a.shape);
  launchElementwise(ELEMENTWISE.axpby, { n: a.size, alpha: 1, beta: 1 }, { x: a, y: b, out });
  return out;
}

/** A tensor of `value`s (the default output gradient). */
function full(shape: readonly number[], value: number): Tensor {
  const out = rt().empty(shape);
  launchElementwise(ELEMENTWISE.fill, { n: out.size, alpha: value }, { out });
  return out;
}

function newTape(): Tape {
  return new Tape(sum); // plain kernels: accumulation is never itself recorded
}

/** Runs `fn` with `tape` as the active tape (null: no recording), restoring the previous one after. */
export function withTape<T>(tape: Tape | null, fn: () => T): T {
  const r = rt();
  const saved = r.tape;
  r.tape = tape;
  try {
    return fn();
  } finally {
    r.tape = saved;
  }
}

/** Starts recording ops (replacing no active tape). Dispose the tape when the gradients are used. */
export function startTape(): Tape {
  const r = rt();
  if (r.tape) throw new Error("a tape is already recording");
  r.tape = newTape();
  return r.tape;
}

/**
 * Gradient checkpointing: `fn(...inputs)` runs without keeping its intermediate activations; the
 * backward pass runs it again under a tape of its own and back-propagates through that. Saves the
 * memory of everything `fn` creates but its output, at the cost of a second forward. `fn` must be
 * deterministic (draw dropout masks from a seed fixed before the call).
 */
export function checkpoint(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): Tensor {
  const r = rt();
  const outer = r.tape;
  if (!outer) return fn(...inputs);
  // A probe tape learns which parameters fn reads; what it saved is freed as soon as fn returns.
  const probe = newTape();
  const out = withTape(probe, () => fn(...inputs));
  const params = probe.leaves().filter((t) => !inputs.includes(t));
  // The probe holds the inputs and the output too: those stay alive while it frees the rest.
  probe.dispose([out, ...inputs]);
  const tracked = inputs.filter((t) => outer.wants(t));
  if (!tracked.length && !params.length) return out;
  outer.record([...inputs, ...params], out, (g) => {
    const copies = inputs.map((x) => {
      const c = r.empty(x.shape);
      r.copy(x, 0, c, 0, x.size);
      c.requiresGrad = true;
      return c;
    });
    const inner = newTape();
    const grads = withTape(inner, () => inner.backward(fn(...copies), g));
    inner.dispose(grads.values());
    const result = [...copies.map((c) => grads.get(c) ?? null), ...params.map((p) => grads.get(p) ?? null)];
    for (const c of copies) c.release();
    return result;
  }, inputs);
  return out;
}

/** Stops recording (the tape keeps what it saved until disposed). */
export function stopTape(): void {
  rt().tape = null;
}

/**
 * Runs `fn` under a fresh tape, then back-propagates from its output with the given output
 * gradient (default: ones, i.e. d(sum(out))). Returns the output and the gradients of every
 * `requiresGrad` tensor; the caller releases them. The tape is disposed before returning.
 */
export function valueAndGrad(
  fn: () => Tensor,
  gradOut?: (out: Tensor) => Tensor,
): { value: Tensor; grads: Map<Tensor, Tensor> } {
  const r = rt();
  if (r.tape) throw new Error("a tape is already recording");
  const tape = newTape();
  const value = withTape(tape, fn);
  const seed = gradOut ? gradOut(value) : full(value.shape, 1);
  const grads = withTape(tape, () => tape.backward(value, seed));
  tape.dispose([value, ...grads.values()]); // the caller owns these
  return { value, grads };
}
