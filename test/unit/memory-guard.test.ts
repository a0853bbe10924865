import { describe, expect, test } from "bun:test";
import { shouldCollect, startMemoryGuard } from "../../src/server/memory-guard.ts";

describe("memory guard", () => {
  test("collects only over the soft limit, and not again within the gap", () => {
    const MB = 1024 * 1024;
    const table: [number, number, number, boolean][] = [
      // rss, now, last collection, collect?
      [100 * MB, 10_000, -Infinity, false],
      [161 * MB, 10_000, -Infinity, true],
      [161 * MB, 10_500, 10_000, false],
      [161 * MB, 11_000, 10_000, true],
      [160 * MB, 20_000, 10_000, false],
    ];
    for (const [rss, now, last, want] of table) expect(shouldCollect(rss, 160 * MB, now, last, 1000)).toBe(want);
  });

  test("a guard over a hand clock and a fake collector: one collection per gap while high, none once low", async () => {
    let rss = 500;
    let clock = 0;
    let collected = 0;
    const g = startMemoryGuard({ softLimitBytes: 100, checkEveryMs: 5, minGapMs: 50, rss: () => rss, now: () => clock, collect: () => collected++ });
    try {
      await Bun.sleep(30);
      expect(collected).toBe(1); // high, but the clock has not moved past the gap
      clock = 60;
      await Bun.sleep(30);
      expect(collected).toBe(2);
      rss = 50;
      clock = 500;
      await Bun.sleep(30);
      expect(collected).toBe(2);
      expect(g.collections).toBe(2);
    } finally {
      g.stop();
    }
  });
});
