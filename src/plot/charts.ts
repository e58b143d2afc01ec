/**
 * Vega-Lite specs for the evaluation charts: spectra (log-log), autocorrelations, and sample maps
 * (one row of heatmaps per variable, like the reference's `plot_single_sample.py`).
 *
 * The builders return plain spec objects, so they can be rendered with `render.ts`, shown in a
 * notebook as `application/vnd.vegalite.v5+json`, or edited before rendering.
 */

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** One line of a chart: `y` against `x`, labelled `name` in the legend. */
export interface LineSeries {
  /** Legend label of the line. */
  name: string;
  /** Abscissae (frequency, wavenumber or lag). */
  x: ArrayLike<number>;
  /** Ordinates, one per `x` value; non-finite points are left out. */
  y: ArrayLike<number>;
}

/** Titles and size of a line chart. */
export interface LineChartOptions {
  /** Chart title (none by default). */
  title?: string;
  /** Title of the x axis (each chart has its own default). */
  xTitle?: string;
  /** Title of the y axis (each chart has its own default). */
  yTitle?: string;
  /** Plot width in pixels (default 420). */
  width?: number;
  /** Plot height in pixels (default 300). */
  height?: number;
}

function lineValues(series: readonly LineSeries[], keep: (x: number, y: number) => boolean) {
  const values: { series: string; x: number; y: number }[] = [];
  for (const s of series) {
    if (s.x.length !== s.y.length) {
      throw new Error(`chart series ${s.name}: ${s.x.length} x values but ${s.y.length} y values`);
    }
    for (let i = 0; i < s.x.length; i++) {
      const x = Number(s.x[i]), y = Number(s.y[i]);
      if (Number.isFinite(x) && Number.isFinite(y) && keep(x, y)) values.push({ series: s.name, x, y });
    }
  }
  return values;
}

function lineLayer(
  series: readonly LineSeries[],
  scaleType: "log" | "linear",
  xTitle: string,
  yTitle: string,
) {
  return {
    mark: { type: "line", point: false, strokeWidth: 1.8 },
    encoding: {
      x: { field: "x", type: "quantitative", title: xTitle, scale: { type: scaleType, nice: false } },
      y: {
        field: "y",
        type: "quantitative",
        title: yTitle,
        scale: { type: scaleType, ...(scaleType === "linear" ? { zero: false } : {}) },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        sort: series.map((s) => s.name),
        legend: { labelLimit: 320 },
      },
    },
  };
}

/**
 * Log-log spectra, one line per series. Points with a non-positive frequency or power (the zero
 * frequency, a removed mean) cannot be drawn on log axes and are left out.
 */
export function spectraChart(series: readonly LineSeries[], options: LineChartOptions = {}): object {
  const xTitle = options.xTitle ?? "Frequency (1/km)";
  const yTitle = options.yTitle ?? "Power spectral density";
  return {
    $schema: SCHEMA,
    ...(options.title ? { title: options.title } : {}),
    width: options.width ?? 420,
    height: options.height ?? 300,
    data: { values: lineValues(series, (x, y) => x > 0 && y > 0) },
    ...lineLayer(series, "log", xTitle, yTitle),
  };
}

/** Options of {@link acfChart}. */
export interface AcfChartOptions extends LineChartOptions {
  /** Draws a dashed horizontal rule at this correlation (the correlation-length threshold). */
  threshold?: number;
}

/** Autocorrelation against lag distance, one line per series, with rules at 0 and the threshold. */
export function acfChart(series: readonly LineSeries[], options: AcfChartOptions = {}): object {
  const xTitle = options.xTitle ?? "Lag (km)";
  const yTitle = options.yTitle ?? "Autocorrelation";
  const rules = [{ y: 0, dash: [] as number[] }];
  if (options.threshold !== undefined) rules.push({ y: options.threshold, dash: [4, 3] });
  return {
    $schema: SCHEMA,
    ...(options.title ? { title: options.title } : {}),
    width: options.width ?? 420,
    height: options.height ?? 300,
    layer: [
      { data: { values: lineValues(series, () => true) }, ...lineLayer(series, "linear", xTitle, yTitle) },
      ...rules.map((r) => ({
        data: { values: [{ y: r.y }] },
        mark: { type: "rule", color: "#888", strokeDash: r.dash },
        encoding: { y: { field: "y", type: "quantitative" } },
      })),
    ],
  };
}

/** One output variable of a sample map: (H, W) row-major fields at one time step. */
export interface SampleMapVariable {
  /** Variable name, the row's title. */
  name: string;
  /** Physical units, shown in the row title and the colour legend. */
  units?: string;
  /** The (upsampled) low-resolution input of the same name, if the file has one. */
  input?: ArrayLike<number>;
  /** One ensemble member. */
  member: ArrayLike<number>;
  /** Several members, drawn side by side instead of `member` (labelled by {@link SampleMapOptions.memberIndex} onwards). */
  members?: readonly ArrayLike<number>[];
  /** The ensemble mean. */
  mean: ArrayLike<number>;
  /** The fine-resolution truth. */
  truth: ArrayLike<number>;
  /** Colour scale; by default diverging (zero-centred) when both signs carry weight, see {@link sampleMapChart}. */
  scale?: "diverging" | "sequential";
}

/** Grid and layout of {@link sampleMapChart}. */
export interface SampleMapOptions {
  /** Rows of every field (fine y). */
  height: number;
  /** Columns of every field (fine x). */
  width: number;
  /** Chart title (none by default). */
  title?: string;
  /** Index of the member shown, for its panel title (default 0). */
  memberIndex?: number;
  /** Fields larger than this many cells per side are block-averaged for drawing (default 64). */
  maxCellsPerSide?: number;
  /** Approximate width of one panel in pixels (default 170; rounded to whole pixels per cell). */
  panelWidth?: number;
}

/**
 * Sample maps at one time step: per variable a row of heatmaps (input, one member or several,
 * ensemble mean, truth) sharing one colour scale, titled with units; member and mean titles carry their pattern
 * correlation with the truth. Row 0 of a field is drawn at the top (north). A diverging,
 * zero-centred scale is used when the row's values reach at least a third as far below zero as
 * above it, or the other way round (winds, anomalies); a field with a small offset floor (such as
 * reflectivity floored at -10 dBZ) keeps a sequential scale.
 */
export function sampleMapChart(variables: readonly SampleMapVariable[], options: SampleMapOptions): object {
  const { height, width } = options;
  if (variables.length === 0) throw new Error("sampleMapChart: no variables to draw");
  const factor = Math.max(1, Math.ceil(Math.max(height, width) / (options.maxCellsPerSide ?? 64)));
  // Whole pixels per drawn cell put every rect edge on the pixel grid, so no anti-aliased seams.
  const cellPixels = Math.max(1, Math.round((options.panelWidth ?? 170) / Math.ceil(width / factor)));
  const panelWidth = cellPixels * Math.ceil(width / factor);
  const panelHeight = cellPixels * Math.ceil(height / factor);
  const rows = variables.map((v) => {
    const panels: { label: string; field: ArrayLike<number> }[] = [];
    if (v.input) panels.push({ label: "input", field: v.input });
    const first = options.memberIndex ?? 0;
    (v.members ?? [v.member]).forEach((m, k) =>
      panels.push({ label: `member ${first + k}, r=${patternCorrelation(m, v.truth).toFixed(3)}`, field: m })
    );
    panels.push(
      { label: `ensemble mean, r=${patternCorrelation(v.mean, v.truth).toFixed(3)}`, field: v.mean },
      { label: "truth", field: v.truth },
    );
    for (const p of panels) {
      if (p.field.length !== height * width) {
        throw new Error(
          `sampleMapChart: ${v.name} ${p.label} has ${p.field.length} values, expected ${height}x${width}`,
        );
      }
    }
    const [lo, hi] = finiteRange(panels.map((p) => p.field));
    const diverging = v.scale
      ? v.scale === "diverging"
      : lo < 0 && hi > 0 && Math.min(-lo, hi) >= Math.max(-lo, hi) / 3;
    const bound = Math.max(-lo, hi);
    const scale = diverging
      ? { scheme: "redblue", reverse: true, domain: [-bound, bound] }
      : { scheme: "magma", domain: [lo, hi] };
    return {
      title: { text: v.units ? `${v.name} (${v.units})` : v.name, anchor: "start" },
      hconcat: panels.map((p, i) => ({
        title: { text: p.label, fontSize: 11 },
        width: panelWidth,
        height: panelHeight,
        data: { values: heatmapCells(p.field, height, width, factor) },
        mark: { type: "rect" },
        encoding: {
          x: { field: "x", type: "quantitative", title: "x", scale: { domain: [0, width], nice: false } },
          x2: { field: "x2" },
          y: { field: "y", type: "quantitative", title: "y", scale: { domain: [height, 0], nice: false } },
          y2: { field: "y2" },
          color: {
            field: "v",
            type: "quantitative",
            title: v.units ?? v.name,
            scale,
            legend: i === panels.length - 1 ? {} : null,
          },
        },
      })),
      resolve: { scale: { color: "independent" } },
    };
  });
  return {
    $schema: SCHEMA,
    ...(options.title ? { title: options.title } : {}),
    config: { view: { stroke: null }, axis: { grid: false } },
    vconcat: rows,
    resolve: { scale: { color: "independent" } },
  };
}

/** Block means of `factor` x `factor` cells, as rect records; blocks without finite values are skipped. */
function heatmapCells(field: ArrayLike<number>, height: number, width: number, factor: number) {
  const cells: { x: number; x2: number; y: number; y2: number; v: number }[] = [];
  for (let i = 0; i < height; i += factor) {
    for (let j = 0; j < width; j += factor) {
      let sum = 0, n = 0;
      for (let a = i; a < Math.min(i + factor, height); a++) {
        for (let b = j; b < Math.min(j + factor, width); b++) {
          const value = field[a * width + b];
          if (Number.isFinite(value)) {
            sum += value;
            n++;
          }
        }
      }
      if (n > 0) {
        cells.push({
          x: j,
          x2: Math.min(j + factor, width),
          y: i,
          y2: Math.min(i + factor, height),
          v: sum / n,
        });
      }
    }
  }
  return cells;
}

function finiteRange(fields: readonly ArrayLike<number>[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const f of fields) {
    for (let i = 0; i < f.length; i++) {
      if (Number.isFinite(f[i])) {
        lo = Math.min(lo, f[i]);
        hi = Math.max(hi, f[i]);
      }
    }
  }
  if (lo > hi) return [0, 1];
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

/** Pearson correlation over all finite pixel pairs (population moments, as the reference's titles). */
export function patternCorrelation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0, sa = 0, sb = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isFinite(a[i]) && Number.isFinite(b[i])) {
      n++;
      sa += a[i];
      sb += b[i];
    }
  }
  const ma = sa / n, mb = sb / n;
  let cab = 0, caa = 0, cbb = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isFinite(a[i]) && Number.isFinite(b[i])) {
      cab += (a[i] - ma) * (b[i] - mb);
      caa += (a[i] - ma) ** 2;
      cbb += (b[i] - mb) ** 2;
    }
  }
  return cab / Math.sqrt(caa * cbb);
}

/**
 * Training curves: loss (log scale) against samples seen, one line per series (training loss,
 * validation loss, ...).
 */
export function lossCurveChart(series: readonly LineSeries[], options: LineChartOptions = {}): object {
  const values = lineValues(series, (_x, y) => y > 0);
  const layer = lineLayer(series, "linear", options.xTitle ?? "samples seen", options.yTitle ?? "loss");
  layer.encoding.y.scale = { type: "log" };
  return {
    $schema: SCHEMA,
    title: options.title ?? "Training",
    width: options.width ?? 480,
    height: options.height ?? 280,
    data: { values },
    ...layer,
  };
}
