/**
 * The charts of the spectral evaluation, one set per variable: the 1-D spectra, the isotropic
 * spectra (both log-log, one line per series) and the residual autocorrelation along x and y.
 */

import type { SpectraAnalysis } from "../metrics/spectra_analysis.ts";
import { acfChart, spectraChart } from "./charts.ts";

/** Series names as the legends show them. */
const SERIES_LABELS: Record<string, string> = {
  prediction: "prediction (members)",
  ensemble_mean: "ensemble mean",
  truth: "truth",
  input: "input",
};

const RESIDUAL_LABELS: Record<string, string> = {
  "truth-mean": "truth − ensemble mean",
  "truth-input": "truth − input",
  "member-mean": "member − ensemble mean",
};

/** "K" -> "K²", "m s-1" -> "(m s-1)²", none -> "1". */
function squared(units?: string): string {
  if (!units) return "1";
  return /^[A-Za-z%]+$/.test(units) ? `${units}²` : `(${units})²`;
}

/** A chart to write: file stem (no extension) and Vega-Lite spec. */
export interface NamedChart {
  /** File stem, `<variable>_spectra`, `<variable>_radial_spectra` or `<variable>_acf`. */
  name: string;
  /** The Vega-Lite spec. */
  spec: object;
}

/** The charts for every variable of an analysis, named `<variable>_spectra`, `_radial_spectra`, `_acf`. */
export function spectraCharts(analysis: SpectraAnalysis): NamedChart[] {
  const { options } = analysis;
  return analysis.variables.flatMap((v) => {
    const heading = v.units ? `${v.name} (${v.units})` : v.name;
    const yTitle = `Power spectral density (${squared(v.units)} km)`;
    const label = (s: string) => SERIES_LABELS[s] ?? s;
    const residual = RESIDUAL_LABELS[options.residual] ?? options.residual;
    return [
      {
        name: `${v.name}_spectra`,
        spec: spectraChart(v.series.map((s) => ({ name: label(s.series), x: v.freqs, y: s.spectrum })), {
          title: `${heading}: spectrum along x`,
          xTitle: "Frequency (1/km)",
          yTitle,
        }),
      },
      {
        name: `${v.name}_radial_spectra`,
        spec: spectraChart(v.series.map((s) => ({ name: label(s.series), x: v.wavenumbers, y: s.radial })), {
          title: `${heading}: isotropic spectrum`,
          xTitle: "Wavenumber (1/km)",
          yTitle,
        }),
      },
      {
        name: `${v.name}_acf`,
        spec: acfChart(
          [
            { name: `${residual}, along x`, x: v.lagX, y: v.residualAcfX },
            { name: `${residual}, along y`, x: v.lagY, y: v.residualAcfY },
          ],
          { title: `${heading}: residual autocorrelation`, threshold: options.threshold },
        ),
      },
    ];
  });
}
