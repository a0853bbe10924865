/** What `pxeboot bench` is asked to do and what it reports (the --json shape). */
import type { Peer } from "../transfer/types.ts";

export interface BenchOptions {
  server: Peer;
  file: string;
  clients: number;
  concurrency: number;
  blockSize?: number;
  windowSize?: number;
  /** PXE ROM size probe instead of a download: RRQ with tsize, read the OACK, answer ERROR 8. */
  probe: boolean;
  /** Percent of received DATA the clients drop on purpose (simulated loss). */
  lossPercent: number;
  timeoutMs: number;
  timeoutMaxMs: number;
  retries: number;
  /** Clients still running at this point are cancelled and counted as aborted. */
  durationMaxMs: number;
  /** What every download must be; without it the first complete download is the reference. */
  expect?: { sha256: string; size?: number; bytes?: Uint8Array };
  /**
   * sha256: hash every byte (Bun.CryptoHasher). bytes: compare every block with the local copy
   * (needs expect.bytes) — exact too, and ~10× cheaper per block, for storms where the
   * generator's CPU would otherwise limit the figures.
   */
  verify: "sha256" | "bytes";
}

export type ClientVerdict = "ok" | "failed" | "timeout" | "aborted";

export interface ClientResult {
  verdict: ClientVerdict;
  reason?: string;
  bytes: number;
  durationMs: number;
  tsize?: number;
  sha256?: string;
  timeouts: number;
  requestRetries: number;
  duplicates: number;
  gaps: number;
  dropped: number;
}

export interface BenchSummary {
  uri: string;
  clients: number;
  concurrency: number;
  requested: { blksize?: number; windowsize?: number; probe: boolean; lossPercent: number };
  /** What the server granted, as seen by the first client that got an answer. */
  negotiated?: { blksize: number; windowsize: number; tsize?: number; oack: boolean };
  ok: number;
  failed: number;
  timeouts: number;
  aborted: number;
  /** Payload bytes of the successful downloads. */
  bytes: number;
  wallMs: number;
  /** bytes / wall time, MB = 10^6 bytes. */
  mbPerSec: number;
  /** Completion time of successful clients, from their first RRQ. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  retransmits: {
    /** Our re-sends after a timeout (ACK or RRQ). */
    client: number;
    /** Of those, RRQs: requests the server did not answer in time. */
    requests: number;
    /** DATA the server sent twice, as seen here. */
    serverDuplicates: number;
    /** Loss detected inside windows. */
    gaps: number;
    /** DATA dropped on purpose (--loss). */
    dropped: number;
  };
  verification: "expected sha256" | "first download" | "local copy, byte for byte";
  /**
   * CPU time of this generator process ÷ wall time, in % of one core. Near 100 the generator
   * (one JS thread) is saturated and the figures say more about it than about the server.
   */
  generatorCpuPercent: number;
  /** Most common failure reasons with counts. */
  failures: { reason: string; count: number }[];
}
