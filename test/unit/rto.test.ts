import { describe, expect, test } from "bun:test";
import { RtoEstimator, SharedRtoFloor } from "../../src/transfer/rto.ts";

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

describe("spurious timeouts (Eifel) and the shared floor", () => {
  test("a spurious timeout undoes its backoff and raises the floor to twice the real answer time", () => {
    const r = new RtoEstimator({ initialMs: 1000, minMs: 20, maxMs: 5000 });
    for (let i = 0; i < 20; i++) r.sample(1);
    expect(r.currentMs).toBe(20);
    r.backoff();
    r.backoff();
    expect(r.currentMs).toBe(80);
    r.spurious(45, 0);
    expect(r.floorMs).toBe(90);
    expect(r.currentMs).toBe(90); // undone to 20, then lifted to the new floor
    for (let i = 0; i < 20; i++) r.sample(1);
    expect(r.currentMs).toBe(90); // samples no longer take it below what the client showed
  });
  test("the floor never passes the ceiling, and only rises", () => {
    const r = new RtoEstimator({ initialMs: 1000, minMs: 20, maxMs: 5000 });
    r.spurious(10_000, 0);
    expect(r.floorMs).toBe(5000);
    const s = new RtoEstimator({ initialMs: 1000, minMs: 20, maxMs: 5000 });
    s.spurious(100, 0);
    s.spurious(10, 0);
    expect(s.floorMs).toBe(200);
  });
  test("the shared floor is capped, reaches other transfers, and fades after its last raise", () => {
    const shared = new SharedRtoFloor(500, 60_000);
    const a = new RtoEstimator({ initialMs: 1000, minMs: 20, maxMs: 5000, shared });
    const b = new RtoEstimator({ initialMs: 1000, minMs: 20, maxMs: 5000, shared });
    for (let i = 0; i < 20; i++) b.sample(1);
    expect(b.timeoutAt(0)).toBe(20);
    a.spurious(150, 1000);
    expect(shared.floorAt(1000)).toBe(300);
    expect(b.timeoutAt(1000)).toBe(300);
    expect(b.timeoutAt(31_000)).toBe(150);
    expect(b.timeoutAt(61_000)).toBe(20);
    a.spurious(5000, 70_000);
    expect(shared.floorAt(70_000)).toBe(500);
  });
});
