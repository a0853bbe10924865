/** The human-readable bench summary (the --json output is the BenchSummary itself). */
import { formatBytes, formatDuration } from "../client/format.ts";
import type { BenchSummary } from "./types.ts";

export function formatSummary(s: BenchSummary): string {
  const n = s.negotiated;
  const granted = n
    ? n.oack
      ? `blksize ${n.blksize}, windowsize ${n.windowsize}${n.tsize !== undefined ? `, tsize ${n.tsize}` : ""}`
      : "no OACK (server ignored the options: blksize 512, lockstep)"
    : "no answer";
  const r = s.retransmits;
  const lines = [
    `${s.uri}: ${s.clients} clients, ${s.concurrency} at once${s.requested.probe ? ", size probes" : ""}${
      s.requested.lossPercent ? `, ${s.requested.lossPercent}% DATA dropped` : ""
    }`,
    `  negotiated  ${granted}`,
    `  result      ${s.ok} ok, ${s.failed} failed, ${s.timeouts} timeouts${s.aborted ? `, ${s.aborted} aborted` : ""}`,
    `  throughput  ${s.mbPerSec} MB/s (${formatBytes(s.bytes)} in ${formatDuration(s.wallMs)})`,
    `  completion  p50 ${formatDuration(s.p50Ms)}, p99 ${formatDuration(s.p99Ms)}, max ${formatDuration(s.maxMs)}`,
    `  retransmits ${r.client} by clients (${r.requests} RRQs), ${r.serverDuplicates} duplicate DATA from the server, ${r.gaps} gaps${
      r.dropped ? `, ${r.dropped} dropped on purpose` : ""
    }`,
    `  verified    against the ${s.verification}`,
    `  generator   ${s.generatorCpuPercent}% of one core (near 100%: the generator, not the server, is the limit)`,
  ];
  for (const f of s.failures) lines.push(`  failure     ${f.count} × ${f.reason}`);
  return lines.join("\n");
}
