/** Verification metrics: ensemble scores and calibration diagnostics; spectra. */
export * from "./scores.ts";
export * from "./spectra.ts";
