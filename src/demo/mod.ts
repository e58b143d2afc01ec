/**
 * The whole job on the built-in synthetic data (`deno task demo`, notebooks 01 and 03): training,
 * generation, scores against the baselines, spectra and maps.
 *
 * @module
 */
export * from "./pipeline.ts";
export * from "./evaluate.ts";
export * from "./charts.ts";
export * from "./patch_study.ts";
