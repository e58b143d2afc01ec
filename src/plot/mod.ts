/** Charts (Vega-Lite specs) and their headless rendering to SVG and PNG. */
export * from "./charts.ts";
export * from "./render.ts";
export * from "./spectra_charts.ts";
