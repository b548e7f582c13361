/** Summaries of repeated timings: nearest-rank percentiles, so a reported p95 is a time that was measured. */
export interface Spread {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function spread(values: number[]): Spread {
  return { n: values.length, p50: round(percentile(values, 50)), p95: round(percentile(values, 95)), max: round(Math.max(...values)) };
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Peak resident memory of this process so far, in MB. */
export function peakRssMb(): number {
  return round(process.resourceUsage().maxRSS / 1024);
}

/** CPU time this process has used, all threads (V8's garbage collector works on helper threads too). */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return round((user + system) / 1e6, 2);
}
