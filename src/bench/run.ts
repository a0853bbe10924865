/**
 * The load generator: N downloads, C at once, all in this process with one UDP socket each,
 * every byte hashed as it arrives. The per-client work is the same driver `pxeboot get` uses; what
 * is added here is scheduling, verification and counting.
 */
import { download } from "../client/download.ts";
import type { Granted } from "../protocol/options.ts";
import type { BenchOptions, BenchSummary, ClientResult } from "./types.ts";

/** Live counters for a progress line. */
export interface BenchProgress {
  started: number;
  finished: number;
  ok: number;
  failed: number;
  /** Payload bytes received so far by all clients, finished or not. */
  bytes: number;
}

export interface BenchRun {
  progress: BenchProgress;
  /** Resolves when every client finished or --duration-max cut the rest short. */
  done: Promise<{ results: ClientResult[]; wallMs: number; cpuMs: number; negotiated: BenchSummary["negotiated"] }>;
}

export function runBench(opts: BenchOptions): BenchRun {
  const progress: BenchProgress = { started: 0, finished: 0, ok: 0, failed: 0, bytes: 0 };
  const results: ClientResult[] = [];
  const stop = new AbortController();
  let reference = opts.expect?.sha256;
  let negotiated: BenchSummary["negotiated"];
  const dropData = opts.lossPercent > 0 ? () => Math.random() * 100 < opts.lossPercent : undefined;

  const noteNegotiated = (n: Granted) => {
    negotiated ??= { blksize: n.blockSize, windowsize: n.windowSize, tsize: n.tsize, oack: n.oack !== undefined };
  };

  async function one(): Promise<ClientResult> {
    const local = opts.verify === "bytes" ? opts.expect?.bytes : undefined;
    const hasher = opts.probe || local ? null : new Bun.CryptoHasher("sha256");
    let offset = 0;
    let differs = false;
    const r = await download({
      server: opts.server,
      filename: opts.file,
      mode: "octet",
      blockSize: opts.blockSize,
      windowSize: opts.windowSize,
      tsize: true,
      probe: opts.probe,
      timeoutMs: opts.timeoutMs,
      timeoutMaxMs: opts.timeoutMaxMs,
      retries: opts.retries,
      dropData,
      signal: stop.signal,
      onChunk(chunk) {
        if (hasher) hasher.update(chunk);
        else if (!differs) {
          const end = offset + chunk.length;
          differs = end > local!.length || Buffer.compare(chunk, local!.subarray(offset, end)) !== 0;
        }
        offset += chunk.length;
        progress.bytes += chunk.length;
      },
    });
    const s = r.stats;
    const base = {
      durationMs: r.durationMs,
      timeouts: s.timeouts,
      requestRetries: s.requestRetries,
      duplicates: s.duplicates,
      gaps: s.gaps,
      dropped: s.dropped,
    };
    const o = r.outcome;
    if (!o.ok) {
      if (r.negotiated.oack || s.wireBytes > 0) noteNegotiated(r.negotiated);
      const verdict = o.kind === "timeout" ? "timeout" : stop.signal.aborted ? "aborted" : "failed";
      const reason = o.kind === "remote" ? `server error ${o.code}: ${o.reason}` : o.reason;
      return { ...base, verdict, reason, bytes: s.wireBytes, tsize: "tsize" in o ? o.tsize : undefined };
    }
    noteNegotiated(r.negotiated);
    const size = opts.expect?.size;
    if (o.probe) {
      if (o.tsize === undefined) return { ...base, verdict: "failed", reason: "no tsize in the OACK", bytes: 0 };
      if (size !== undefined && o.tsize !== size) {
        return { ...base, verdict: "failed", reason: `tsize ${o.tsize}, expected ${size}`, bytes: 0, tsize: o.tsize };
      }
      return { ...base, verdict: "ok", bytes: 0, tsize: o.tsize };
    }
    if (size !== undefined && o.bytes !== size) {
      return { ...base, verdict: "failed", reason: `size ${o.bytes}, expected ${size}`, bytes: o.bytes };
    }
    if (!hasher) {
      if (differs) return { ...base, verdict: "failed", reason: "content differs from the local copy", bytes: o.bytes };
      return { ...base, verdict: "ok", bytes: o.bytes, tsize: o.tsize, sha256: opts.expect!.sha256 };
    }
    const sha256 = hasher.digest("hex");
    reference ??= sha256;
    if (sha256 !== reference) return { ...base, verdict: "failed", reason: "sha256 mismatch", bytes: o.bytes, sha256 };
    return { ...base, verdict: "ok", bytes: o.bytes, tsize: o.tsize, sha256 };
  }

  let next = 0;
  async function worker(): Promise<void> {
    while (next < opts.clients && !stop.signal.aborted) {
      next++;
      progress.started++;
      const r = await one();
      results.push(r);
      progress.finished++;
      if (r.verdict === "ok") progress.ok++;
      else progress.failed++;
    }
  }

  const started = performance.now();
  const cpu = process.cpuUsage();
  const cutoff = setTimeout(() => stop.abort("--duration-max reached"), opts.durationMaxMs);
  const workers = Array.from({ length: Math.min(opts.concurrency, opts.clients) }, worker);
  const done = Promise.all(workers).then(() => {
    clearTimeout(cutoff);
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    // Clients never started because of the cut-off count as aborted too.
    for (let i = results.length; i < opts.clients; i++) results.push(notStarted());
    return { results, wallMs, cpuMs, negotiated };
  });
  return { progress, done };
}

function notStarted(): ClientResult {
  return {
    verdict: "aborted",
    reason: "not started before --duration-max",
    bytes: 0,
    durationMs: 0,
    timeouts: 0,
    requestRetries: 0,
    duplicates: 0,
    gaps: 0,
    dropped: 0,
  };
}
