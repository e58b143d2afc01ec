/**
 * Output of the spectral evaluation: the `spectra.nc` layout and the plain-text summary with the
 * suggested patch size.
 */

import type { NcGroupSpec, NcVarSpec } from "../io/netcdf_write.ts";
import type { SpectraAnalysis, VariableSpectra } from "./spectra_analysis.ts";

/**
 * The `spectra.nc` layout: one group per output variable with the coordinates `freq`, `wavenumber`
 * (cycles/km), `lag` and `lag_y` (km), the variables `spectrum_<series>` (freq),
 * `radial_spectrum_<series>` (wavenumber), `acf_<series>` (lag, along x) for each series, and
 * `residual_acf_x` (lag) / `residual_acf_y` (lag_y). Root attributes record the spacing, the
 * residual, the threshold and the suggested patch size.
 */
export function spectraDataset(
  analysis: SpectraAnalysis,
  attrs: Record<string, string | number> = {},
): NcGroupSpec {
  const { options, patch } = analysis;
  const groups: Record<string, NcGroupSpec> = {};
  for (const v of analysis.variables) groups[v.name] = variableGroup(v, options.threshold);
  return {
    attrs: {
      title: "Power spectra and autocorrelations of a CorrDiff generation",
      dx_km: options.dx,
      dy_km: options.dy,
      residual: options.residual,
      acf_threshold: options.threshold,
      suggested_patch_size: patch.size,
      suggested_patch_is_whole_image: patch.wholeImage ? 1 : 0,
      ...attrs,
    },
    groups,
  };
}

function variableGroup(v: VariableSpectra, threshold: number): NcGroupSpec {
  const units = v.units ?? "1";
  const density = `(${units})^2 km`;
  const coord = (name: string, data: Float64Array, u: string, longName: string): NcVarSpec => ({
    name,
    dims: [name],
    data,
    attrs: { units: u, long_name: longName },
  });
  const vars: NcVarSpec[] = [
    coord("freq", v.freqs, "1/km", "frequency along x"),
    coord("wavenumber", v.wavenumbers, "1/km", "isotropic wavenumber (annulus centre)"),
    coord("lag", v.lagX, "km", "lag distance along x"),
    coord("lag_y", v.lagY, "km", "lag distance along y"),
  ];
  for (const s of v.series) {
    vars.push(
      {
        name: `spectrum_${s.series}`,
        dims: ["freq"],
        data: s.spectrum,
        attrs: {
          units: density,
          long_name: `${v.name} ${s.series}: one-sided periodogram along x, averaged`,
        },
      },
      {
        name: `radial_spectrum_${s.series}`,
        dims: ["wavenumber"],
        data: s.radial,
        attrs: { units: density, long_name: `${v.name} ${s.series}: isotropic spectrum E(k)` },
      },
      {
        name: `acf_${s.series}`,
        dims: ["lag"],
        data: s.acf,
        attrs: { units: "1", long_name: `${v.name} ${s.series}: autocorrelation along x` },
      },
    );
  }
  const residual = (
    axis: "x" | "y",
    dim: string,
    data: Float64Array,
    pixels: number | undefined,
  ): NcVarSpec => ({
    name: `residual_acf_${axis}`,
    dims: [dim],
    data,
    attrs: {
      units: "1",
      long_name: `${v.name}: autocorrelation of the residual along ${axis}`,
      threshold,
      ...(pixels === undefined ? {} : { correlation_length_pixels: pixels }),
    },
  });
  vars.push(
    residual("x", "lag", v.residualAcfX, v.correlationPixels.x),
    residual("y", "lag_y", v.residualAcfY, v.correlationPixels.y),
  );
  const dims = {
    freq: v.freqs.length,
    wavenumber: v.wavenumbers.length,
    lag: v.lagX.length,
    lag_y: v.lagY.length,
  };
  return { dims, vars, attrs: v.units ? { units: v.units } : {} };
}

/** Human-readable summary: correlation lengths per variable and the suggested patch size. */
export function spectraSummary(analysis: SpectraAnalysis, height: number, width: number): string {
  const { options, patch } = analysis;
  const lines = [
    `residual ${options.residual}; correlation length = first lag where its ACF < ${options.threshold}`,
  ];
  const describe = (px: number | undefined, d: number, n: number) =>
    px === undefined
      ? `> ${Math.floor(n / 2)} px (never decorrelates in the domain)`
      : `${px.toFixed(1)} px (${(px * d).toFixed(1)} km)`;
  for (const v of analysis.variables) {
    lines.push(
      `  ${v.name}: x ${describe(v.correlationPixels.x, options.dx, width)}, y ${
        describe(v.correlationPixels.y, options.dy, height)
      }`,
    );
  }
  lines.push(
    patch.wholeImage
      ? `suggested minimum patch size: ${patch.size} px, the whole ${height}x${width} image (no patching needed)`
      : `suggested minimum patch size: ${patch.size}x${patch.size} px (square, a multiple of ${
        options.patchMultiple ?? 32
      })`,
  );
  return lines.join("\n");
}
