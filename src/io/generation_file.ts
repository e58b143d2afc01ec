/**
 * The generation output file: what `generate` writes and `score` reads.
 *
 * Layout (the reference's `generate.py` NetCDFWriter, readable by its `score_samples.py`):
 * - root: dimensions `time`, `ensemble`, `y`, `x`; variables `lat`, `lon` (y, x) and the CF `time`
 *   coordinate (int64 with `units` "<unit> since <date>" and `calendar`);
 * - group `input`: one float32 variable per input channel, (time, y, x), the low-resolution input
 *   upsampled to the output grid;
 * - group `truth`: one float32 variable per output channel, (time, y, x);
 * - group `prediction`: one float32 variable per output channel, (ensemble, time, y, x).
 * All fields are in physical units. Beyond the reference, every variable carries `units` and
 * `long_name`, the file says `Conventions = "CF-1.8"`, and the resolved configuration is kept in the
 * global attribute `cfg` (YAML text), where the reference keeps `str(cfg)`.
 * This module writes the file; src/io/generation_reader.ts reads it (both from `mod.ts`).
 */
import { stringify as toYaml } from "yaml";
import { decodeCfTimes } from "../data/cf.ts";
import { type NcAttrInput, type NcLayout, NetCDF4Writer } from "./netcdf_write.ts";

/** An input or output channel as stored in the file. */
export interface GenerationVariable {
  /** Variable name in the file (the channel name). */
  name: string;
  /** Physical units (`units` attribute). */
  units: string;
  /** Descriptive name (`long_name` attribute). */
  longName: string;
  /** CF standard name (`standard_name` attribute), written when given. */
  standardName?: string;
}

/** CF-encoded times: `values` in `units` ("hours since 1990-01-01 00:00:00") and `calendar`. */
export interface CfTimes {
  /** Time values, one per time, in `units`. */
  values: number[];
  /** CF units, "<unit> since <date>". */
  units: string;
  /** CF calendar ("standard" when absent). */
  calendar?: string;
}

/** Options of {@link GenerationWriter.create}. */
export interface GenerationWriterOptions {
  /** Final path of the file. */
  path: string;
  /** Output grid rows. */
  ny: number;
  /** Output grid columns. */
  nx: number;
  /** Latitude and longitude of the output grid, (y, x) row-major; NaN where unknown. */
  lat: Float32Array;
  /** Longitude of the output grid, (y, x) row-major; NaN where unknown. */
  lon: Float32Array;
  /** Input channels, written to group `input`. */
  inputVariables: GenerationVariable[];
  /** Output channels, written to groups `truth` and `prediction`. */
  outputVariables: GenerationVariable[];
  /** Ensemble members per time. */
  nEnsemble: number;
  /** The generated times, in output order: dates (encoded in the coarsest exact unit) or CF values. */
  times: Date[] | CfTimes;
  /** The resolved run configuration: an object (stored as YAML) or text. */
  config?: unknown;
  /** Extra global attributes (title, source, history...). */
  attrs?: Record<string, NcAttrInput>;
  /** zlib level for the fields (0: none, the reference's choice and the fastest). */
  deflate?: number;
}

const REFERENCE_EPOCH = Date.UTC(1990, 0, 1);
const REFERENCE_EPOCH_TEXT = "1990-01-01 00:00:00";

/**
 * Writes a generation file time by time and member by member, straight to disk (one chunk per 2-D
 * field, so memory stays at one field whatever the file size). Nothing appears at `path` until
 * {@link GenerationWriter.close}; an interrupted run leaves any previous file there untouched.
 */
export class GenerationWriter {
  private readonly written = new Set<string>();
  private readonly field: number;

  private constructor(private readonly nc: NetCDF4Writer, private readonly opts: GenerationWriterOptions) {
    this.field = opts.ny * opts.nx;
  }

  /** Lays out the file under a temporary name and writes lat, lon and time. */
  static async create(opts: GenerationWriterOptions): Promise<GenerationWriter> {
    const { path, ny, nx, nEnsemble } = opts;
    for (const [k, v] of Object.entries({ ny, nx, nEnsemble })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`generation file ${path}: ${k} must be a positive integer, got ${v}`);
      }
    }
    for (const [k, v] of Object.entries({ lat: opts.lat, lon: opts.lon })) {
      if (v.length !== ny * nx) {
        throw new Error(`generation file ${path}: ${k} has ${v.length} values, grid is ${ny}x${nx}`);
      }
    }
    const cf = Array.isArray(opts.times) ? encodeCfTimes(opts.times) : opts.times;
    const allInt = cf.values.every(Number.isInteger);
    const timeData = allInt ? BigInt64Array.from(cf.values.map(BigInt)) : Float64Array.from(cf.values);
    const fieldVar = (dims: string[]) => (v: GenerationVariable) => ({
      name: v.name,
      dims,
      dtype: "f4" as const,
      attrs: {
        units: v.units,
        long_name: v.longName,
        ...(v.standardName ? { standard_name: v.standardName } : {}),
      },
    });
    const config: Record<string, NcAttrInput> = opts.config === undefined
      ? {}
      : { cfg: typeof opts.config === "string" ? opts.config : toYaml(opts.config) };
    const layout: NcLayout = {
      attrs: {
        Conventions: "CF-1.8",
        title: "CorrDiff generation output",
        history: `${new Date().toISOString()} written by corrdiff-ts`,
        ...opts.attrs,
        ...config,
      },
      dims: { time: cf.values.length, ensemble: nEnsemble, y: ny, x: nx },
      vars: [
        { name: "lat", dims: ["y", "x"], data: opts.lat, attrs: latLonAttrs("latitude", "degrees_north") },
        { name: "lon", dims: ["y", "x"], data: opts.lon, attrs: latLonAttrs("longitude", "degrees_east") },
        {
          name: "time",
          dims: ["time"],
          data: timeData,
          attrs: {
            units: cf.units,
            calendar: cf.calendar ?? "standard",
            standard_name: "time",
            long_name: "time",
          },
        },
      ],
      groups: {
        input: { vars: opts.inputVariables.map(fieldVar(["time", "y", "x"])) },
        truth: { vars: opts.outputVariables.map(fieldVar(["time", "y", "x"])) },
        prediction: { vars: opts.outputVariables.map(fieldVar(["ensemble", "time", "y", "x"])) },
      },
    };
    const nc = await NetCDF4Writer.create(path, layout, { deflate: opts.deflate });
    return new GenerationWriter(nc, opts);
  }

  /** Writes the input channels of time index `t`: `fields` is (input channel, y, x). */
  writeInput(t: number, fields: Float32Array): void {
    this.writeFields("input", this.opts.inputVariables, [], t, fields);
  }

  /** Writes the true output channels of time index `t`: `fields` is (output channel, y, x). */
  writeTruth(t: number, fields: Float32Array): void {
    this.writeFields("truth", this.opts.outputVariables, [], t, fields);
  }

  /** Writes ensemble member `member` at time index `t`: `fields` is (output channel, y, x). */
  writePrediction(member: number, t: number, fields: Float32Array): void {
    if (!Number.isInteger(member) || member < 0 || member >= this.opts.nEnsemble) {
      throw new Error(
        `generation file ${this.opts.path}: member ${member} outside 0..${this.opts.nEnsemble - 1}`,
      );
    }
    this.writeFields("prediction", this.opts.outputVariables, [member], t, fields);
  }

  /** Finishes the file and moves it into place; fails (keeping the old file) if a field was never written. */
  async close(): Promise<void> {
    const { inputVariables, outputVariables, nEnsemble } = this.opts;
    const nTime = this.timeCount();
    const missing: string[] = [];
    for (let t = 0; t < nTime && missing.length < 3; t++) {
      if (inputVariables.length > 0 && !this.written.has(`input/${t}`)) missing.push(`input at time ${t}`);
      if (outputVariables.length > 0 && !this.written.has(`truth/${t}`)) missing.push(`truth at time ${t}`);
      for (let e = 0; e < nEnsemble && outputVariables.length > 0; e++) {
        if (!this.written.has(`prediction/${e}/${t}`)) missing.push(`prediction member ${e} at time ${t}`);
      }
    }
    if (missing.length > 0) {
      await this.nc.abort();
      throw new Error(
        `generation file ${this.opts.path}: never written: ${missing.slice(0, 3).join(", ")}...`,
      );
    }
    await this.nc.close();
  }

  /** Discards the unfinished file. */
  abort(): Promise<void> {
    return this.nc.abort();
  }

  /** Number of times the file holds. */
  private timeCount(): number {
    return Array.isArray(this.opts.times) ? this.opts.times.length : this.opts.times.values.length;
  }

  /** Writes one (channel, y, x) block of `group` at time `t` (after the `lead` indices) and records it. */
  private writeFields(
    group: string,
    vars: GenerationVariable[],
    lead: number[],
    t: number,
    fields: Float32Array,
  ) {
    const { path, ny, nx } = this.opts;
    if (!Number.isInteger(t) || t < 0 || t >= this.timeCount()) {
      throw new Error(`generation file ${path}: time index ${t} outside 0..${this.timeCount() - 1}`);
    }
    if (fields.length !== vars.length * this.field) {
      throw new Error(
        `generation file ${path}: ${group} fields have ${fields.length} values, ` +
          `expected (${vars.length} channels, ${ny}, ${nx})`,
      );
    }
    vars.forEach((v, c) => {
      const start = [...lead, t, 0, 0];
      const count = [...lead.map(() => 1), 1, ny, nx];
      this.nc.writeSlab(
        `${group}/${v.name}`,
        start,
        count,
        fields.subarray(c * this.field, (c + 1) * this.field),
      );
    });
    this.written.add([group, ...lead, t].join("/"));
  }
}

function latLonAttrs(name: string, units: string): Record<string, NcAttrInput> {
  return { standard_name: name, long_name: name, units };
}

/** Encodes dates as CF time since 1990-01-01 in the coarsest of hours, minutes, seconds that is exact. */
export function encodeCfTimes(dates: Date[]): CfTimes {
  const ms = dates.map((d, i) => {
    const v = d.getTime() - REFERENCE_EPOCH;
    if (!Number.isFinite(v)) throw new Error(`time ${i} is not a valid date`);
    return v;
  });
  for (const [unit, step] of [["hours", 3600e3], ["minutes", 60e3], ["seconds", 1e3]] as const) {
    if (ms.every((v) => v % step === 0)) {
      return {
        values: ms.map((v) => v / step),
        units: `${unit} since ${REFERENCE_EPOCH_TEXT}`,
        calendar: "standard",
      };
    }
  }
  return { values: ms, units: `milliseconds since ${REFERENCE_EPOCH_TEXT}`, calendar: "standard" };
}

/**
 * Decodes CF times to dates, or returns null when the units or calendar are not a Gregorian
 * "<unit> since <date>" (e.g. a 360-day calendar), which only CF-aware tools can place.
 */
export function decodeCfTimesOrNull(cf: CfTimes): Date[] | null {
  try {
    const dates = decodeCfTimes(cf.values, cf.units, cf.calendar, "time");
    // A value beyond the range of Date (+-275,000 years) cannot be placed either.
    return dates.every((d) => Number.isFinite(d.getTime())) ? dates : null;
  } catch {
    return null;
  }
}
