/** Golden cases of the evaluation code: ensemble scores and power spectra (registered on import). */
import { registerHandler } from "./handlers.ts";

registerHandler((_ctx) => null);
