import { describe, expect, test } from "bun:test";
import { TokenBuckets } from "../../src/server/admission/token-buckets.ts";

describe("token buckets per key (--per-client-rate, the DHCP storm guard)", () => {
  test("a burst up to the bucket passes, then the average rate", () => {
    const r = new TokenBuckets(10, 20);
    let ok = 0;
    for (let i = 0; i < 50; i++) if (r.allow("10.0.0.1", 0)) ok++;
    expect(ok).toBe(20);
    // Half a second later: 5 more tokens.
    ok = 0;
    for (let i = 0; i < 50; i++) if (r.allow("10.0.0.1", 500)) ok++;
    expect(ok).toBe(5);
    // Another address has its own bucket.
    expect(r.allow("10.0.0.2", 500)).toBe(true);
  });

  test("a quiet spell refills to the burst, not beyond", () => {
    const r = new TokenBuckets(10, 20);
    for (let i = 0; i < 20; i++) r.allow("a", 0);
    let ok = 0;
    for (let i = 0; i < 100; i++) if (r.allow("a", 60_000)) ok++;
    expect(ok).toBe(20);
  });

  test("memory is bounded: the longest-quiet address is forgotten (and starts with a full bucket)", () => {
    const r = new TokenBuckets(1, 1, 3);
    expect(r.allow("a", 0)).toBe(true);
    expect(r.allow("a", 0)).toBe(false);
    for (const x of ["b", "c", "d"]) r.allow(x, 0);
    expect(r.allow("a", 0)).toBe(true); // forgotten, so full again
  });
});
