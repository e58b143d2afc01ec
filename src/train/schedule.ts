/**
 * The learning rate of each step, computed as train.py computes it (reference section 7.3):
 * a linear ramp over `lr_rampup` samples, then `lr_decay` every `lr_decay_rate` samples.
 */

/** The hyper-parameters the schedule reads (training.hp). */
export interface LrSchedule {
  /** Base (peak) learning rate. */
  lr: number;
  /** Samples over which the rate ramps linearly up from 0 (0: no ramp). */
  lr_rampup: number;
  /** Factor applied to the rate every `lr_decay_rate` samples after the ramp (1: no decay). */
  lr_decay: number;
  /** Samples between decays. */
  lr_decay_rate: number;
}

/**
 * The learning rate for the step taken at `curNimg` samples, given the previous step's rate.
 *
 * With `lr_rampup > 0` the rate is recomputed from the base rate every step. With `lr_rampup == 0`
 * train.py skips that assignment, so the decay factor multiplies the previous step's rate again at
 * every step (reference quirk, reproduced: the rate collapses once `lr_decay != 1` takes effect);
 * {@link scheduleWarning} says so up front.
 */
export function learningRate(prevLr: number, curNimg: number, hp: LrSchedule): number {
  let lr = prevLr;
  if (hp.lr_rampup > 0) lr = hp.lr * Math.min(curNimg / hp.lr_rampup, 1);
  if (curNimg >= hp.lr_rampup) lr *= hp.lr_decay ** Math.floor((curNimg - hp.lr_rampup) / hp.lr_decay_rate);
  return lr;
}

/** A one-line warning when the schedule hits the reference's compounding-decay quirk, else null. */
export function scheduleWarning(hp: LrSchedule): string | null {
  if (hp.lr_rampup === 0 && hp.lr_decay !== 1) {
    return `training.hp.lr_decay=${hp.lr_decay} with lr_rampup=0: as in the reference, the decay compounds every step ` +
      `after ${hp.lr_decay_rate} samples (the learning rate collapses); set lr_rampup > 0 for a stepwise decay`;
  }
  return null;
}
