/** The few statistics the benchmark reports: nearest-rank percentiles, medians and rounding for print. */

/** Nearest-rank percentile (`share` in [0, 1]) of a list; 0 for an empty list. */
export function percentile(values: readonly number[], share: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1))] as number;
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

/** Rounds to `digits` significant decimals for JSON output; figures keep their full value until printed. */
export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
