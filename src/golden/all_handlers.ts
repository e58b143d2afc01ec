/**
 * Registers the golden handlers beyond single networks and layers (losses, samplers, metrics,
 * checkpoint files), so the runner and the tests see the same set.
 */
import "./diffusion_cases.ts";
import "./metric_cases.ts";
import "./checkpoint_cases.ts";
