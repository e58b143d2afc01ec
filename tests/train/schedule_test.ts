import { learningRate, scheduleWarning } from "../../src/train/schedule.ts";
import { assert, assertAlmostEquals, assertEquals } from "../helpers/assert.ts";

const hp = { lr: 1e-3, lr_rampup: 100, lr_decay: 0.5, lr_decay_rate: 50 };

Deno.test("learning rate: linear ramp, then stepwise decay from the base rate", () => {
  assertEquals(learningRate(123, 0, hp), 0); // the reference's first step has lr 0
  assertAlmostEquals(learningRate(0, 50, hp), 5e-4, 1e-15);
  assertAlmostEquals(learningRate(0, 100, hp), 1e-3, 1e-15);
  assertAlmostEquals(learningRate(0, 149, hp), 1e-3, 1e-15);
  assertAlmostEquals(learningRate(0, 150, hp), 5e-4, 1e-15);
  assertAlmostEquals(learningRate(0, 260, hp), 1.25e-4, 1e-15); // floor(160 / 50) = 3 halvings
  assertEquals(scheduleWarning(hp), null);
});

Deno.test("learning rate: without ramp-up the decay compounds on the previous rate (reference quirk)", () => {
  const q = { lr: 1e-3, lr_rampup: 0, lr_decay: 0.5, lr_decay_rate: 10 };
  let lr = q.lr;
  const seen: number[] = [];
  for (let nimg = 0; nimg < 40; nimg += 10) seen.push(lr = learningRate(lr, nimg, q));
  // factors 0.5^0, 0.5^1, 0.5^2, 0.5^3 applied cumulatively: 1, 0.5, 0.125, 0.015625 (x 1e-3)
  assertEquals(seen.map((v) => +(v / 1e-3).toFixed(8)), [1, 0.5, 0.125, 0.015625]);
  assert(scheduleWarning(q)!.includes("compounds"));
  // lr_decay 1 (every shipped non-patched config): constant.
  assertEquals(learningRate(2e-4, 1e9, { ...q, lr: 2e-4, lr_decay: 1 }), 2e-4);
});
