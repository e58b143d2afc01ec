/** `generation.clip`: parsing with one-line errors, channel order, and the clamp itself. */
import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { channelBounds, clipFields, describeClip, parseClip } from "../../src/generate/clip.ts";

Deno.test("clip: [min, max] per variable, null for an open side", () => {
  const clip = parseClip({ refc: [-10, null], t2m: [200, 330] });
  assertEquals([...clip], [["refc", { min: -10, max: Infinity }], ["t2m", { min: 200, max: 330 }]]);
  assertEquals(parseClip(null).size, 0);
  assertEquals(parseClip(undefined).size, 0);
  assertEquals(describeClip(clip), ", members clipped: refc to [-10, Infinity], t2m to [200, 330]");
  assertEquals(describeClip(new Map()), "");
});

Deno.test("clip: bad values fail in one line naming the key", () => {
  const err = (v: unknown) => assertThrows(() => parseClip(v)).message;
  assertEquals(
    err([-10, 0]),
    "generation.clip must map output variables to [min, max] (null for an open side), got [-10,0]",
  );
  assertEquals(
    err({ refc: -10 }),
    "generation.clip.refc must be [min, max] with numbers (null for an open side, not both), got -10",
  );
  assertEquals(
    err({ refc: [null, null] }),
    "generation.clip.refc must be [min, max] with numbers (null for an open side, not both), got [null,null]",
  );
  assertEquals(
    err({ refc: ["-10", null] }),
    'generation.clip.refc must be [min, max] with numbers (null for an open side, not both), got ["-10",null]',
  );
  assertEquals(err({ refc: [5, 5] }), "generation.clip.refc: min 5 is not below max 5");
});

Deno.test("clip: bounds follow the output channels; an unknown name is refused with a suggestion", () => {
  const clip = parseClip({ v10m: [0, 1] });
  assertEquals(channelBounds(clip, ["u10m", "v10m", "t2m"]), [null, { min: 0, max: 1 }, null]);
  assertEquals(
    assertThrows(() => channelBounds(parseClip({ t2M: [0, 1] }), ["u10m", "t2m"])).message,
    "generation.clip.t2M: not an output variable of the dataset (u10m, t2m). Did you mean 't2m'?",
  );
});

Deno.test("clip: each channel plane clamped to its own bounds, others untouched", () => {
  const f = Float32Array.from([-3, -1, 0, 2, -3, -1, 0, 2, -3, -1, 0, 2]);
  clipFields(f, [{ min: -1, max: Infinity }, null, { min: -2, max: 1 }], 4);
  assertEquals([...f], [-1, -1, 0, 2, -3, -1, 0, 2, -2, -1, 0, 1]);
});
