/**
 * The parts of the CF conventions the readers need: decoding numeric times (`units = "<unit> since
 * <date>"`) and the packing attributes `scale_factor`, `add_offset`, `_FillValue`, `missing_value`.
 */

import type { NcArray, NcAttrs } from "../io/netcdf_read.ts";

const MS_PER_UNIT: Record<string, number> = {
  days: 86_400_000,
  day: 86_400_000,
  d: 86_400_000,
  hours: 3_600_000,
  hour: 3_600_000,
  hr: 3_600_000,
  h: 3_600_000,
  minutes: 60_000,
  minute: 60_000,
  min: 60_000,
  seconds: 1000,
  second: 1000,
  sec: 1000,
  s: 1000,
  milliseconds: 1,
  millisecond: 1,
  ms: 1,
  microseconds: 1e-3,
  microsecond: 1e-3,
  us: 1e-3,
  nanoseconds: 1e-6,
  nanosecond: 1e-6,
  ns: 1e-6,
};

/** Calendars that agree with JavaScript's proleptic Gregorian `Date` after 1582-10-15. */
const GREGORIAN = new Set(["standard", "gregorian", "proleptic_gregorian"]);

/**
 * Decodes CF numeric times to UTC `Date`s. Only Gregorian calendars are supported (`standard`,
 * `gregorian`, `proleptic_gregorian`; the default when `calendar` is absent).
 * @param where names the file and variable in error messages
 */
export function decodeCfTimes(
  values: ArrayLike<number | bigint>,
  units: string,
  calendar: string | undefined,
  where: string,
): Date[] {
  const cal = (calendar ?? "standard").toLowerCase();
  if (!GREGORIAN.has(cal)) {
    throw new Error(`${where}: calendar '${calendar}' is not supported (only Gregorian)`);
  }
  const m = /^\s*([A-Za-z]+)\s+since\s+(.+?)\s*$/.exec(units);
  if (!m) throw new Error(`${where}: time units '${units}' are not '<unit> since <date>'`);
  const msPerUnit = MS_PER_UNIT[m[1].toLowerCase()];
  if (msPerUnit === undefined) throw new Error(`${where}: unknown time unit '${m[1]}' in '${units}'`);
  const epoch = parseReferenceDate(m[2], where);
  if (cal === "standard" || cal === "gregorian") {
    if (epoch < Date.UTC(1582, 9, 15)) {
      throw new Error(`${where}: reference dates before 1582-10-15 are not supported`);
    }
  }
  const out: Date[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let ms: number;
    if (typeof v === "bigint" && msPerUnit < 1) {
      // Nanoseconds since 1970 exceed 2^53: divide exactly before converting.
      const per = BigInt(Math.round(1 / msPerUnit));
      ms = Number(v / per) + Number(v % per) / Number(per);
    } else {
      ms = Number(v) * msPerUnit;
    }
    if (!Number.isFinite(ms)) throw new Error(`${where}: time value ${v} at index ${i} is not finite`);
    out.push(new Date(epoch + ms));
  }
  return out;
}

/** Parses `YYYY-MM-DD[ T]hh[:mm[:ss[.fff]]][ ][Z|UTC|±hh[:mm]]`; without a zone, UTC. */
function parseReferenceDate(text: string, where: string): number {
  const m =
    /^(-?\d{1,4})-(\d{1,2})-(\d{1,2})(?:[T\s]+(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(\.\d+)?)?)?)?\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)?$/i
      .exec(text.trim());
  if (!m) throw new Error(`${where}: cannot parse the reference date '${text}'`);
  const [, Y, Mo, D, h = "0", mi = "0", s = "0", frac = "", tz] = m;
  let ms = Date.UTC(+Y, +Mo - 1, +D, +h, +mi, +s) + (frac ? Number(frac) * 1000 : 0);
  if (+Y >= 0 && +Y < 100) ms = new Date(ms).setUTCFullYear(+Y); // Date.UTC maps years 0-99 to 1900-1999
  if (tz && /^[+-]/.test(tz)) {
    const t = /^([+-])(\d{1,2}):?(\d{2})?$/.exec(tz)!;
    const offset = (+t[2] * 60 + (t[3] ? +t[3] : 0)) * 60_000;
    ms -= t[1] === "+" ? offset : -offset;
  }
  return ms;
}

/**
 * Unpacks a numeric variable as xarray does by default: values equal to `_FillValue` or
 * `missing_value` become NaN, then `x * scale_factor + add_offset`. float32 data without packing
 * stays float32 (the same object); everything else becomes float64.
 */
export function unpackCf(data: NcArray, attrs: NcAttrs, where: string): Float32Array | Float64Array {
  if (Array.isArray(data)) throw new Error(`${where}: expected numbers, found text`);
  const scale = numAttr(attrs, "scale_factor", where);
  const offset = numAttr(attrs, "add_offset", where);
  const fills = [attrs["_FillValue"], attrs["missing_value"]].flat().filter((v) =>
    typeof v === "number"
  ) as number[];
  const plain = scale === undefined && offset === undefined;
  if (data instanceof Float32Array && plain && fills.length === 0) return data;
  const out = data instanceof Float32Array && plain
    ? new Float32Array(data.length)
    : new Float64Array(data.length);
  const fillSet = new Set(fills.map((f) => (data instanceof Float32Array ? Math.fround(f) : f)));
  const s = scale ?? 1, o = offset ?? 0;
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    out[i] = fillSet.has(v) ? NaN : plain ? v : v * s + o;
  }
  return out;
}

function numAttr(attrs: NcAttrs, name: string, where: string): number | undefined {
  const v = attrs[name];
  if (v === undefined) return undefined;
  if (typeof v !== "number") {
    throw new Error(`${where}: attribute ${name} must be one number, got ${JSON.stringify(v)}`);
  }
  return v;
}
