/** Turns per-client results into the bench summary: pure, so it is tested without a network. */
import type { BenchOptions, BenchSummary, ClientResult } from "./types.ts";

/** Nearest-rank percentile of an ascending array; 0 for an empty one. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(
  opts: BenchOptions,
  uri: string,
  results: readonly ClientResult[],
  wallMs: number,
  negotiated: BenchSummary["negotiated"],
  cpuMs = 0,
): BenchSummary {
  const count = { ok: 0, failed: 0, timeout: 0, aborted: 0 };
  const retransmits = { client: 0, requests: 0, serverDuplicates: 0, gaps: 0, dropped: 0 };
  const reasons = new Map<string, number>();
  const times: number[] = [];
  let bytes = 0;
  for (const r of results) {
    count[r.verdict]++;
    retransmits.client += r.timeouts;
    retransmits.requests += r.requestRetries;
    retransmits.serverDuplicates += r.duplicates;
    retransmits.gaps += r.gaps;
    retransmits.dropped += r.dropped;
    if (r.verdict === "ok") {
      bytes += r.bytes;
      times.push(r.durationMs);
    } else if (r.reason) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
  }
  times.sort((a, b) => a - b);
  const failures = [...reasons].map(([reason, n]) => ({ reason, count: n })).sort((a, b) => b.count - a.count);
  return {
    uri,
    clients: opts.clients,
    concurrency: opts.concurrency,
    requested: { blksize: opts.blockSize, windowsize: opts.windowSize, probe: opts.probe, lossPercent: opts.lossPercent },
    negotiated,
    ok: count.ok,
    failed: count.failed,
    timeouts: count.timeout,
    aborted: count.aborted,
    bytes,
    wallMs: round(wallMs),
    mbPerSec: wallMs > 0 ? round(bytes / 1e6 / (wallMs / 1000)) : 0,
    p50Ms: round(percentile(times, 50)),
    p99Ms: round(percentile(times, 99)),
    maxMs: round(times[times.length - 1] ?? 0),
    retransmits,
    verification:
      opts.verify === "bytes" ? "local copy, byte for byte" : opts.expect ? "expected sha256" : "first download",
    generatorCpuPercent: wallMs > 0 ? Math.round((cpuMs / wallMs) * 100) : 0,
    failures: failures.slice(0, 5),
  };
}

const round = (x: number) => Math.round(x * 10) / 10;
