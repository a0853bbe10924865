/** The bench's arithmetic: percentiles, verdict counts, MB/s with MB = 10^6, failure reasons. */
import { describe, expect, test } from "bun:test";
import { percentile, summarize } from "../../src/bench/summarize.ts";
import type { BenchOptions, ClientResult } from "../../src/bench/types.ts";

const opts: BenchOptions = {
  server: { address: "127.0.0.1", port: 69 },
  file: "f",
  clients: 5,
  concurrency: 5,
  probe: false,
  lossPercent: 2,
  timeoutMs: 1000,
  timeoutMaxMs: 8000,
  retries: 5,
  durationMaxMs: 60_000,
  verify: "sha256",
};

const client = (over: Partial<ClientResult>): ClientResult => ({
  verdict: "ok",
  bytes: 1_000_000,
  durationMs: 100,
  timeouts: 0,
  requestRetries: 0,
  duplicates: 0,
  gaps: 0,
  dropped: 0,
  ...over,
});

describe("percentile (nearest rank)", () => {
  test("of 1..100", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
  });
  test("small and empty arrays", () => {
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 2], 50)).toBe(1);
    expect(percentile([], 50)).toBe(0);
  });
});

describe("summarize", () => {
  test("counts verdicts, sums only successful bytes, ranks failure reasons", () => {
    const s = summarize(
      opts,
      "tftp://h/f",
      [
        client({ durationMs: 100, timeouts: 2, requestRetries: 1, dropped: 5 }),
        client({ durationMs: 300, duplicates: 3, gaps: 4 }),
        client({ verdict: "failed", reason: "sha256 mismatch", bytes: 5 }),
        client({ verdict: "failed", reason: "sha256 mismatch", bytes: 5 }),
        client({ verdict: "timeout", reason: "timed out" }),
      ],
      2000,
      undefined,
    );
    expect(s).toMatchObject({ ok: 2, failed: 2, timeouts: 1, aborted: 0, bytes: 2_000_000, mbPerSec: 1, p50Ms: 100, p99Ms: 300 });
    expect(s.retransmits).toEqual({ client: 2, requests: 1, serverDuplicates: 3, gaps: 4, dropped: 5 });
    expect(s.failures).toEqual([
      { reason: "sha256 mismatch", count: 2 },
      { reason: "timed out", count: 1 },
    ]);
    expect(s.verification).toBe("first download");
  });
});
