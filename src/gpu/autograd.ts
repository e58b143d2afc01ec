/**
 * Entry points to autograd: run a function under a tape and back-propagate a scalar.
 */
import { rt } from "./runtime.ts";
import { Tape } from "./tape.ts";
import type { Tensor } from "./tensor.ts";
import { axpby, full } from "../ops/elementwise.ts";

/** Starts recording ops (replacing no active tape). Dispose the tape when the gradients are used. */
export function startTape(): Tape {
  const r = rt();
  if (r.tape) throw new Error("a tape is already recording");
  r.tape = new Tape((a, b) => {
    const t = r.tape;
    r.tape = null; // accumulation is not itself differentiated
    try {
      return axpby(1, a, 1, b);
    } finally {
      r.tape = t;
    }
  });
  return r.tape;
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
  const tape = startTape();
  let value: Tensor;
  try {
    value = fn();
  } finally {
    stopTape();
  }
  value.persistent = true; // survives tape disposal; caller owns it
  const seed = gradOut ? gradOut(value) : full(value.shape, 1);
  r.tape = tape;
  let grads: Map<Tensor, Tensor>;
  try {
    grads = tape.backward(value, seed);
  } finally {
    r.tape = null;
  }
  for (const g of grads.values()) g.persistent = true;
  tape.dispose();
  value.persistent = false;
  for (const g of grads.values()) g.persistent = false;
  return { value, grads };
}
