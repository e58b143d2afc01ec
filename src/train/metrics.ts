/**
 * The run's record: metrics as JSON lines (`metrics.jsonl` beside the checkpoints) and the loss
 * curve (`loss_curve.svg` / `.png`), redrawn at every checkpoint.
 */
import { join } from "node:path";
import { lossCurveChart } from "../plot/charts.ts";
import { writeChart } from "../plot/render.ts";

/** One line of metrics.jsonl. */
export interface MetricsRecord {
  /** A training-loss record or a validation record. */
  kind: "train" | "validation";
  /** Training samples seen when it was written (`cur_nimg`). */
  samples: number;
  /** Optimiser steps taken when it was written. */
  step: number;
  /** The metrics themselves (`loss`, `lr`, `grad_norm`, `rmse`, ...). */
  [metric: string]: unknown;
}

/** `metrics.jsonl` and the loss curve of a training run. */
export class MetricsLog {
  /** Path of `metrics.jsonl`. */
  readonly path: string;
  /** Every record of the run, the kept ones from before a resume included. */
  readonly records: MetricsRecord[] = [];

  /**
   * Opens `<dir>/metrics.jsonl`. On resume, records past `resumedAt` samples (written after the
   * checkpoint the run resumes from) are dropped, so the log matches an uninterrupted run.
   */
  constructor(readonly dir: string, resumedAt: number) {
    this.path = join(dir, "metrics.jsonl");
    let text = "";
    try {
      text = Deno.readTextFileSync(this.path);
    } catch { /* a new run */ }
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const rec = JSON.parse(line) as MetricsRecord;
        if (rec.samples <= resumedAt) this.records.push(rec);
      } catch { /* a line cut by a kill: dropped */ }
    }
    if (resumedAt === 0) this.records.length = 0;
    Deno.mkdirSync(dir, { recursive: true });
    Deno.writeTextFileSync(this.path, this.records.map((r) => JSON.stringify(r) + "\n").join(""));
  }

  /** Appends a record (one write, so a kill can cut at most the last line). */
  add(rec: MetricsRecord): void {
    this.records.push(rec);
    Deno.writeTextFileSync(this.path, JSON.stringify(rec) + "\n", { append: true });
  }

  /** Redraws `loss_curve.svg` and `loss_curve.png`; returns their base path. */
  async plot(title: string): Promise<string> {
    const series = (["train", "validation"] as const).map((kind) => {
      const recs = this.records.filter((r) => r.kind === kind && typeof r.loss === "number");
      return {
        name: kind === "train" ? "training loss" : "validation loss",
        x: recs.map((r) => r.samples),
        y: recs.map((r) => r.loss as number),
      };
    }).filter((s) => s.x.length > 0);
    const base = join(this.dir, "loss_curve");
    if (series.length) await writeChart(lossCurveChart(series, { title }), base);
    return base;
  }
}
