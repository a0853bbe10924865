import { describe, expect, test } from "bun:test";
import { RtoEstimator } from "../../src/transfer/rto.ts";

describe("RTO estimator (RFC 6298 style)", () => {
  test("starts at the initial value, learns from samples down to the floor", () => {
    const r = new RtoEstimator({ initialMs: 1000, minMs: 20, maxMs: 5000 });
    expect(r.currentMs).toBe(1000);
    for (let i = 0; i < 20; i++) r.sample(1);
    expect(r.currentMs).toBe(20);
    expect(r.smoothedRttMs).toBeCloseTo(1, 0);
  });
  test("first sample: srtt = R, rto = R + 4·R/2", () => {
    const r = new RtoEstimator({ initialMs: 1000, minMs: 1, maxMs: 60000 });
    r.sample(100);
    expect(r.currentMs).toBe(300);
  });
  test("variance raises the RTO; backoff doubles up to the ceiling", () => {
    const r = new RtoEstimator({ initialMs: 1000, minMs: 20, maxMs: 5000 });
    for (const s of [10, 200, 10, 200]) r.sample(s);
    const noisy = r.currentMs;
    expect(noisy).toBeGreaterThan(200);
    r.backoff();
    expect(r.currentMs).toBe(Math.min(5000, noisy * 2));
    for (let i = 0; i < 10; i++) r.backoff();
    expect(r.currentMs).toBe(5000);
  });
  test("never below the client's RFC 2349 timeout", () => {
    const r = new RtoEstimator({ initialMs: 1000, minMs: 20, maxMs: 5000, floorMs: 3000 });
    expect(r.currentMs).toBe(3000);
    for (let i = 0; i < 20; i++) r.sample(1);
    expect(r.currentMs).toBe(3000);
    const big = new RtoEstimator({ initialMs: 1000, minMs: 20, maxMs: 5000, floorMs: 10_000 });
    expect(big.currentMs).toBe(10_000); // the ceiling gives way to the client's own timeout
  });
});
