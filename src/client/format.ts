/** Human units for summaries and progress lines. MB is 10^6 bytes, as in the benchmark tables. */

export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** Bytes per second as MB/s (10^6). */
export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return "-";
  const mbs = bytes / 1e6 / (ms / 1000);
  return `${mbs >= 100 ? mbs.toFixed(0) : mbs >= 10 ? mbs.toFixed(1) : mbs.toFixed(2)} MB/s`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** A bar of `width` cells for `fraction` in 0..1. */
export function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return "#".repeat(full) + ".".repeat(width - full);
}
