/**
 * Vega-Lite specs of the demo and the notebooks: training losses of both models, scores per time
 * next to the baselines, the summary against the baselines, and the rank histogram.
 */
import type { MetricsRecord } from "../train/metrics.ts";
import { FORECAST_LABELS, type ForecastName, type GenerationEvaluation } from "./evaluate.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const FORECASTS: ForecastName[] = ["ensemble", "regression", "bilinear"];
const COLORS = { domain: FORECASTS.map((f) => FORECAST_LABELS[f]), range: ["#d62728", "#1f77b4", "#7f7f7f"] };

/**
 * Training and validation loss against samples seen, one panel per model (the two losses differ in
 * scale), log scale. `runs` maps a model name ("regression", "diffusion") to its metrics.jsonl records.
 */
export function trainingLossChart(
  runs: Record<string, readonly MetricsRecord[]>,
  title = "Training",
): object {
  const values = Object.entries(runs).flatMap(([model, recs]) =>
    recs.filter((r) => typeof r.loss === "number" && (r.loss as number) > 0 && Number.isFinite(r.loss))
      .map((r) => ({
        model,
        series: r.kind === "train" ? "training loss" : "validation loss",
        samples: r.samples,
        loss: r.loss,
      }))
  );
  return {
    $schema: SCHEMA,
    title,
    data: { values },
    facet: { column: { field: "model", type: "nominal", title: null, sort: Object.keys(runs) } },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 300,
      height: 200,
      mark: { type: "line", point: { size: 18 }, strokeWidth: 1.6 },
      encoding: {
        x: { field: "samples", type: "quantitative", title: "samples seen" },
        y: { field: "loss", type: "quantitative", title: "loss", scale: { type: "log", nice: false } },
        color: { field: "series", type: "nominal", title: null, sort: ["training loss", "validation loss"] },
      },
    },
  };
}

/** CRPS, MAE, RMSE and the spread-skill ratio against time: a row per variable, a line per forecast. */
export function scoresByTimeChart(ev: GenerationEvaluation): object {
  const metrics = ["CRPS", "MAE", "RMSE", "spread/skill"];
  const dated = ev.times.every((t) => !Number.isNaN(Date.parse(t)));
  const values = ev.variables.flatMap((v) =>
    FORECASTS.flatMap((f) =>
      (v.perTime[f] ?? []).flatMap((s, t) =>
        [s.crps, s.mae, s.rmse, f === "ensemble" ? s.spreadSkill : NaN].map((value, m) => ({
          variable: v.units ? `${v.name} (${v.units})` : v.name,
          forecast: FORECAST_LABELS[f],
          metric: metrics[m],
          time: ev.times[t],
          value,
        })).filter((r) => Number.isFinite(r.value))
      )
    )
  );
  return {
    $schema: SCHEMA,
    title: `Scores per time (${ev.nEnsemble} members; lower is better, spread/skill 1 is calibrated)`,
    data: { values },
    facet: {
      row: { field: "variable", type: "nominal", title: null },
      column: { field: "metric", type: "nominal", title: null, sort: metrics },
    },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 170,
      height: 120,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "time", type: dated ? "temporal" : "ordinal", title: "time" },
        y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
        color: { field: "forecast", type: "nominal", title: null, scale: COLORS },
      },
    },
  };
}

/** CRPS, MAE and RMSE over all times, per variable: the ensemble next to the baselines. */
export function scoreSummaryChart(ev: GenerationEvaluation): object {
  const values = ev.variables.flatMap((v) =>
    FORECASTS.flatMap((f) => {
      const s = v.summary[f];
      if (!s) return [];
      return (["CRPS", "MAE", "RMSE"] as const).map((metric) => ({
        variable: v.units ? `${v.name} (${v.units})` : v.name,
        forecast: FORECAST_LABELS[f],
        metric,
        value: metric === "CRPS" ? s.crps : metric === "MAE" ? s.mae : s.rmse,
      }));
    })
  );
  return {
    $schema: SCHEMA,
    title: "Scores over all times (lower is better; a deterministic field's CRPS is its MAE)",
    data: { values },
    facet: {
      row: { field: "variable", type: "nominal", title: null },
      column: { field: "metric", type: "nominal", title: null, sort: ["CRPS", "MAE", "RMSE"] },
    },
    resolve: { scale: { x: "independent" } },
    spec: {
      width: 170,
      height: 60,
      mark: "bar",
      encoding: {
        y: {
          field: "forecast",
          type: "nominal",
          title: null,
          sort: FORECASTS.map((f) => FORECAST_LABELS[f]),
        },
        x: { field: "value", type: "quantitative", title: null },
        color: { field: "forecast", type: "nominal", title: null, scale: COLORS, legend: null },
      },
    },
  };
}

/** The rank histogram of the truth among the members, per variable, with the flat line of a calibrated ensemble. */
export function rankHistogramChart(ev: GenerationEvaluation): object {
  const n = ev.nEnsemble;
  const values = ev.variables.flatMap((v) => {
    const total = v.rankHistogram.reduce((a, b) => a + b, 0);
    return Array.from(
      v.rankHistogram,
      (c, rank) => ({ variable: v.name, rank, frequency: total ? c / total : 0 }),
    );
  });
  return {
    $schema: SCHEMA,
    title: `Rank histogram of the truth among ${n} members (flat = calibrated, U = too little spread)`,
    data: { values },
    facet: {
      column: { field: "variable", type: "nominal", title: null, sort: ev.variables.map((v) => v.name) },
    },
    spec: {
      width: 200,
      height: 150,
      layer: [
        {
          mark: "bar",
          encoding: {
            x: { field: "rank", type: "ordinal", title: "rank" },
            y: { field: "frequency", type: "quantitative", title: "relative frequency" },
          },
        },
        {
          mark: { type: "rule", strokeDash: [4, 3], color: "#444" },
          encoding: { y: { datum: 1 / (n + 1) } },
        },
      ],
    },
  };
}
