/**
 * Headless chart rendering: Vega-Lite spec -> SVG (vega's "none" renderer) -> PNG (resvg, WASM).
 *
 * resvg draws no text without a font, and a font must be given explicitly because the WASM build
 * cannot see the system's fonts: by default DejaVu Sans from Debian's `fonts-dejavu-core`.
 */

import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { initWasm, Resvg } from "@resvg/resvg-wasm";

/** Where Debian's `fonts-dejavu-core` puts DejaVu Sans; override with `CORRDIFF_FONT`. */
export const DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/** A rendered chart. */
export interface RenderedChart {
  /** The SVG document. */
  svg: string;
  /** The PNG file's bytes. */
  png: Uint8Array;
}

/** Rendering options. */
export interface RenderOptions {
  /** TrueType font used for every label in the PNG (default `CORRDIFF_FONT` or {@link DEFAULT_FONT_PATH}). */
  fontPath?: string;
  /** PNG pixels per SVG pixel (default 2, sharp on high-density screens and in documents). */
  scale?: number;
}

let wasmReady: Promise<void> | undefined;
const fonts = new Map<string, Uint8Array>();

function initResvg(): Promise<void> {
  wasmReady ??= (async () => {
    const url = new URL(import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm"));
    if (url.protocol !== "file:") {
      throw new Error(
        `cannot locate resvg's WASM file (resolved to ${url}); run 'deno install' with nodeModulesDir`,
      );
    }
    await initWasm(await Deno.readFile(url));
  })();
  return wasmReady;
}

async function loadFont(path: string): Promise<Uint8Array> {
  let font = fonts.get(path);
  if (!font) {
    try {
      font = await Deno.readFile(path);
    } catch (e) {
      throw new Error(
        `font file ${path} is missing (${(e as Error).message}); PNG labels need it: ` +
          "install Debian's fonts-dejavu-core (apt-get install -y fonts-dejavu-core) or set CORRDIFF_FONT",
      );
    }
    fonts.set(path, font);
  }
  return font;
}

/** Compiles a Vega-Lite spec and renders it to an SVG string. */
export async function renderSvg(spec: object): Promise<string> {
  let compiled;
  try {
    compiled = compile(spec as TopLevelSpec).spec;
  } catch (e) {
    throw new Error(`invalid Vega-Lite spec: ${(e as Error).message}`);
  }
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG document to PNG bytes with the given font for all text. */
export async function svgToPng(svg: string, options: RenderOptions = {}): Promise<Uint8Array> {
  const fontPath = options.fontPath ?? Deno.env.get("CORRDIFF_FONT") ?? DEFAULT_FONT_PATH;
  const [font] = await Promise.all([loadFont(fontPath), initResvg()]);
  // The WASM build copies the font into its own memory; hand it a fresh copy each time.
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: options.scale ?? 2 },
    background: "white",
    font: { fontBuffers: [font.slice()], defaultFontFamily: "DejaVu Sans", sansSerifFamily: "DejaVu Sans" },
  });
  try {
    const image = resvg.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

/** Renders a Vega-Lite spec to SVG and PNG in memory (for notebooks and tests). */
export async function renderChart(spec: object, options: RenderOptions = {}): Promise<RenderedChart> {
  const svg = await renderSvg(spec);
  return { svg, png: await svgToPng(svg, options) };
}

/**
 * Renders a Vega-Lite spec and writes `basePath.svg` and `basePath.png` (each through a temporary
 * file and a rename, so a reader never sees half a chart). Returns the two paths.
 */
export async function writeChart(
  spec: object,
  basePath: string,
  options: RenderOptions = {},
): Promise<{ svg: string; png: string }> {
  const { svg, png } = await renderChart(spec, options);
  const paths = { svg: `${basePath}.svg`, png: `${basePath}.png` };
  await writeAtomic(paths.svg, new TextEncoder().encode(svg));
  await writeAtomic(paths.png, png);
  return paths;
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`cannot write chart ${path}: ${(e as Error).message}`);
  }
}
