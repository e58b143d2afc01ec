import { acfChart, patternCorrelation, sampleMapChart, spectraChart } from "../../src/plot/charts.ts";
import { renderChart, svgToPng, writeChart } from "../../src/plot/render.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../helpers/assert.ts";
import { pngInfo } from "./png.ts";

Deno.test("spectra chart: log-log SVG with axis titles and a PNG with drawn pixels", async () => {
  const freqs = Array.from({ length: 20 }, (_, k) => k / 40);
  const chart = spectraChart(
    [
      { name: "truth", x: freqs, y: freqs.map((f) => (f > 0 ? f ** -2 : 0)) },
      { name: "prediction", x: freqs, y: freqs.map((f) => (f > 0 ? 2 * f ** -2 : 0)) },
    ],
    { title: "t2m spectra", xTitle: "Frequency (1/km)", yTitle: "PSD (K² km)" },
  );
  // The zero frequency cannot sit on a log axis and is dropped.
  assertEquals((chart as { data: { values: unknown[] } }).data.values.length, 38);
  const { svg, png } = await renderChart(chart);
  for (const text of ["Frequency (1/km)", "PSD (K² km)", "t2m spectra", "truth", "prediction"]) {
    assert(svg.includes(text), `SVG lacks "${text}"`);
  }
  const info = await pngInfo(png);
  assert(info.width > 400 && info.height > 250, `PNG ${info.width}x${info.height}`);
  assert(info.nonWhite > 0.02 * info.width * info.height, `only ${info.nonWhite} drawn pixels`);
});

Deno.test("PNG labels are drawn with the font: text adds ink", async () => {
  // The same chart with and without titles: the font must put pixels down for the text.
  const series = [{ name: "a", x: [1, 2, 3], y: [1, 0.5, 0.2] }];
  const plain = spectraChart(series, { xTitle: " ", yTitle: " " });
  const titled = spectraChart(series, {
    title: "A long title to render",
    xTitle: "Frequency",
    yTitle: "Power",
  });
  const a = await pngInfo((await renderChart(plain)).png), b = await pngInfo((await renderChart(titled)).png);
  assert(b.nonWhite > a.nonWhite + 500, `titles added only ${b.nonWhite - a.nonWhite} pixels`);
});

Deno.test("ACF chart has the threshold rule; writeChart writes both files", async () => {
  const lags = Array.from({ length: 12 }, (_, j) => 2 * j);
  const spec = acfChart([{ name: "residual x", x: lags, y: lags.map((l) => Math.exp(-l / 6)) }], {
    threshold: 0.1,
  });
  const dir = await Deno.makeTempDir();
  try {
    const paths = await writeChart(spec, `${dir}/acf`);
    assertEquals(paths, { svg: `${dir}/acf.svg`, png: `${dir}/acf.png` });
    const svg = await Deno.readTextFile(paths.svg);
    assert(svg.includes("Lag (km)") && svg.includes("Autocorrelation"), "axis titles");
    assert(svg.includes("stroke-dasharray"), "dashed threshold rule");
    assert((await pngInfo(await Deno.readFile(paths.png))).nonWhite > 0, "PNG drawn");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["acf.png", "acf.svg"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sample map: one row per variable, shared colour domain per row, fast on 128x128", async () => {
  const h = 128, w = 128;
  const field = (phase: number, offset: number) =>
    Float32Array.from(
      { length: h * w },
      (_, p) => offset + Math.sin((p % w) / 9 + phase) * Math.cos(Math.floor(p / w) / 13),
    );
  const variables = [
    {
      name: "t2m",
      units: "K",
      input: field(0.3, 280),
      member: field(0.1, 281),
      mean: field(0.05, 280),
      truth: field(0, 280),
    },
    { name: "u10m", units: "m s-1", member: field(1, 0), mean: field(1.1, 0), truth: field(1.2, 0) },
  ];
  const start = performance.now();
  const spec = sampleMapChart(variables, { height: h, width: w, title: "2019-03-01T00:00:00Z" });
  const { svg, png } = await renderChart(spec);
  const seconds = (performance.now() - start) / 1000;
  assert(seconds < 20, `sample map took ${seconds.toFixed(1)} s`);
  type Panel = {
    data: { values: { v: number }[] };
    encoding: { color: { scale: { domain: number[]; scheme: string } } };
  };
  const rows = (spec as { vconcat: { hconcat: Panel[] }[] }).vconcat;
  assertEquals(rows.map((r) => r.hconcat.length), [4, 3]);
  // 128 / 64 = 2: panels show 64x64 block means.
  assertEquals(rows[0].hconcat[0].data.values.length, 64 * 64);
  for (const row of rows) {
    const domains = row.hconcat.map((p) => JSON.stringify(p.encoding.color.scale.domain));
    assertEquals(new Set(domains).size, 1, "one colour domain per row");
  }
  // t2m is all positive (sequential scale); u10m straddles zero (diverging, centred).
  assertEquals(rows[0].hconcat[0].encoding.color.scale.scheme, "magma");
  const [lo, hi] = rows[1].hconcat[0].encoding.color.scale.domain;
  assertAlmostEquals(lo, -hi, 1e-12);
  for (const text of ["t2m (K)", "u10m (m s-1)", "input", "ensemble mean", "truth", "member 0"]) {
    assert(svg.includes(text), `SVG lacks "${text}"`);
  }
  const info = await pngInfo(png);
  assert(info.nonWhite > 0.2 * info.width * info.height, `maps drawn: ${info.nonWhite} pixels`);
});

Deno.test("sample map colour scale: sequential for a small negative floor, overridable", () => {
  const n = 8;
  const ramp = (lo: number, hi: number) =>
    Float64Array.from({ length: n * n }, (_, p) => lo + ((hi - lo) * p) / (n * n - 1));
  const scheme = (v: { scale?: "diverging" | "sequential" }, lo: number, hi: number) => {
    const spec = sampleMapChart([{
      name: "f",
      member: ramp(lo, hi),
      mean: ramp(lo, hi),
      truth: ramp(lo, hi),
      ...v,
    }], {
      height: n,
      width: n,
    }) as {
      vconcat: { hconcat: { encoding: { color: { scale: { scheme: string; domain: number[] } } } }[] }[];
    };
    return spec.vconcat[0].hconcat[0].encoding.color.scale;
  };
  assertEquals(scheme({}, -10, 54), { scheme: "magma", domain: [-10, 54] });
  assertEquals(scheme({}, -12, 30).scheme, "redblue");
  assertEquals(scheme({ scale: "sequential" }, -12, 30).scheme, "magma");
  assertEquals(scheme({ scale: "diverging" }, 1, 4).domain, [-4, 4]);
});

Deno.test("pattern correlation is Pearson's r", () => {
  assertAlmostEquals(patternCorrelation([1, 2, 3, 4], [2, 4, 6, 8]), 1, 1e-12);
  assertAlmostEquals(patternCorrelation([1, 2, 3, 4], [8, 6, 4, 2]), -1, 1e-12);
  // Deviations (-1, 0, 1) and (-1, 1, 0): covariance 1, variances 2 and 2.
  assertAlmostEquals(patternCorrelation([1, 2, 3], [1, 3, 2]), 0.5, 1e-12);
});

Deno.test("rendering errors name the cause", async () => {
  await assertRejects(
    () => svgToPng("<svg xmlns='http://www.w3.org/2000/svg'/>", { fontPath: "/nonexistent/font.ttf" }),
    Error,
    "fonts-dejavu-core",
  );
  await assertRejects(() => renderChart({ mark: "nonsense-mark", data: { values: [] } }), Error, "Vega-Lite");
});
