/**
 * Reverse-mode autograd on a tape.
 *
 * While a tape is active, every op whose inputs carry gradient records a node: its inputs, its
 * output and a closure that maps the output's gradient to the inputs' gradients (recording kernels,
 * never syncing). `backward` replays the nodes in reverse. Tensors an op saves for its backward
 * pass are held by the tape (scopes do not release them) until `dispose()`.
 */
import type { Tensor } from "./tensor.ts";

/** Gradient of one input, or null where the op has none (e.g. integer indices). */
export type Grad = Tensor | null;

interface Node {
  inputs: readonly Tensor[];
  output: Tensor;
  backward: (gradOut: Tensor) => Grad[];
}

/** Adds `b` into `a` (a new tensor or `a` itself), without recording. */
export type Accumulate = (a: Tensor, b: Tensor) => Tensor;

/** The recorded ops of a forward pass and their backward closures. */
export class Tape {
  #nodes: Node[] = [];
  #held = new Set<Tensor>();

  /** `accumulate` sums the gradient contributions that reach one tensor. */
  constructor(private readonly accumulate: Accumulate) {}

  /** True if `t` is saved for backward. */
  holds(t: Tensor): boolean {
    return this.#held.has(t) || (t.base !== null && this.#held.has(t.base));
  }

  /** Whether an op on these inputs should be recorded. */
  wants(...inputs: (Tensor | null | undefined)[]): boolean {
    return inputs.some((t) => t && flagged(t));
  }

  /** Records an op. `saved` are tensors its backward reads (besides the gradient). */
  record(
    inputs: readonly Tensor[],
    output: Tensor,
    backward: (gradOut: Tensor) => Grad[],
    saved: Tensor[] = [],
  ) {
    (output.base ?? output).tracked = true;
    for (const t of saved) this.#held.add(t.base ?? t);
    for (const t of inputs) this.#held.add(t.base ?? t);
    this.#held.add(output.base ?? output);
    this.#nodes.push({ inputs, output, backward });
  }

  /**
   * Back-propagates `gradOut` (d loss / d output) from `output` and returns the gradient of every
   * tensor with `requiresGrad` that the output depends on, keyed by tensor.
   */
  backward(output: Tensor, gradOut: Tensor): Map<Tensor, Tensor> {
    const grads = new Map<number, Tensor>();
    grads.set(idOf(output), gradOut);
    const leaves = new Map<number, Tensor>();
    for (let i = this.#nodes.length - 1; i >= 0; i--) {
      const node = this.#nodes[i];
      const g = grads.get(idOf(node.output));
      if (!g) continue;
      grads.delete(idOf(node.output));
      const gin = node.backward(
        g.shape.join() === node.output.shape.join() ? g : g.reshape(node.output.shape),
      );
      if (gin.length !== node.inputs.length) throw new Error("autograd: backward returned the wrong arity");
      node.inputs.forEach((inp, j) => {
        const gi = gin[j];
        if (!gi || !flagged(inp)) return;
        const id = idOf(inp);
        const prev = grads.get(id);
        grads.set(id, prev ? this.accumulate(prev, gi) : gi);
        if ((inp.base ?? inp).requiresGrad) leaves.set(id, inp.base ?? inp);
      });
    }
    // A backward may hand one gradient tensor to several inputs (e.g. x + y): every leaf gets a
    // tensor of its own, so that the caller can release each.
    const out = new Map<Tensor, Tensor>();
    const given = new Set<Tensor>();
    for (const [id, t] of leaves) {
      let g = grads.get(id);
      if (!g) continue;
      if (given.has(g.base ?? g)) {
        const c = g.rt.empty(g.shape);
        g.rt.copy(g, 0, c, 0, g.size);
        g = c;
      }
      given.add(g.base ?? g);
      out.set(t, g.shape.join() === t.shape.join() ? g : g.reshape(t.shape));
    }
    return out;
  }

  /** The distinct `requiresGrad` leaves that recorded ops read (e.g. a block's parameters). */
  leaves(): Tensor[] {
    const out = new Set<Tensor>();
    for (const n of this.#nodes) {
      for (const t of n.inputs) if ((t.base ?? t).requiresGrad) out.add(t.base ?? t);
    }
    return [...out];
  }

  /** Releases every saved tensor that is neither kept (`keep()`) nor among `spare` (handed to the caller). */
  dispose(spare: Iterable<Tensor> = []): void {
    const spared = new Set([...spare].map((t) => t.base ?? t));
    for (const t of this.#held) if (!t.persistent && !spared.has(t)) t.release();
    this.#held.clear();
    this.#nodes = [];
  }
}

/** Views are transparent: gradients flow to and from their base. */
function flagged(t: Tensor): boolean {
  const b = t.base ?? t;
  return b.requiresGrad || b.tracked;
}

/** Views share their base's identity for gradient bookkeeping. */
function idOf(t: Tensor): number {
  return (t.base ?? t).id;
}
