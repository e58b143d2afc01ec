/**
 * A time window of a dataset, selected in the config with the generic key
 * `time_range: [first, last]` (inclusive ISO times), which every dataset type accepts: the way to
 * hold out the last days of a file for validation without splitting the file.
 */
import type { DownscalingDataset, DownscalingItem, SampleTime } from "./dataset.ts";

function parseTime(v: unknown, where: string): number {
  const d = typeof v === "string" ? new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : v + "Z") : null;
  if (!d || Number.isNaN(d.getTime())) {
    throw new Error(`${where}: ${JSON.stringify(v)} is not a time like "2019-03-20T00:00:00"`);
  }
  return d.getTime();
}

/** The samples of `ds` whose time lies in `[first, last]`; an error if none does. */
export function selectTimeRange(
  ds: DownscalingDataset,
  range: unknown,
  where = "dataset.time_range",
): DownscalingDataset {
  if (!Array.isArray(range) || range.length !== 2) {
    throw new Error(`${where} must be [first, last] (two ISO times), got ${JSON.stringify(range)}`);
  }
  const lo = parseTime(range[0], where), hi = parseTime(range[1], where);
  if (hi < lo) throw new Error(`${where}: ${range[1]} is before ${range[0]}`);
  const times = ds.time();
  const keep: number[] = [];
  times.forEach((t, i) => {
    if (!(t instanceof Date)) throw new Error(`${where}: this dataset's times are labels, not dates`);
    const ms = t.getTime();
    if (ms >= lo && ms <= hi) keep.push(i);
  });
  if (!keep.length) {
    const fmt = (t: SampleTime) => (t instanceof Date ? t.toISOString() : t);
    throw new Error(
      `${where}: no sample between ${range[0]} and ${range[1]} (the data cover ${fmt(times[0])} to ${
        fmt(times[times.length - 1])
      })`,
    );
  }
  return subset(ds, keep);
}

/** A view of `ds` restricted to the samples `indices` (in that order). */
export function subset(ds: DownscalingDataset, indices: number[]): DownscalingDataset {
  const times = ds.time();
  return {
    length: indices.length,
    longitude: () => ds.longitude(),
    latitude: () => ds.latitude(),
    inputChannels: () => ds.inputChannels(),
    outputChannels: () => ds.outputChannels(),
    time: () => indices.map((i) => times[i]),
    imageShape: () => ds.imageShape(),
    item: (i: number): Promise<DownscalingItem> => {
      if (!Number.isInteger(i) || i < 0 || i >= indices.length) {
        return Promise.reject(new Error(`sample index ${i} out of range [0, ${indices.length})`));
      }
      return ds.item(indices[i]);
    },
    normalizeInput: (x, p) => ds.normalizeInput(x, p),
    denormalizeInput: (x, p) => ds.denormalizeInput(x, p),
    normalizeOutput: (x, p) => ds.normalizeOutput(x, p),
    denormalizeOutput: (x, p) => ds.denormalizeOutput(x, p),
    info: () => ds.info?.() ?? {},
    ...(ds.probChannels ? { probChannels: () => ds.probChannels!() } : {}),
    close: () => ds.close?.(),
  };
}
