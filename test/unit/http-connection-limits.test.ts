import { describe, expect, test } from "bun:test";
import { admit, limitsFor, parseOpenFileLimit } from "../../src/http/connection-limits.ts";

const conn = (address: string, busy: boolean, idleSinceMs: number) => ({ address, busy, idleSinceMs });

describe("HTTP connection limits", () => {
  test.each([
    [256, 40, { total: 108, perAddress: 13 }],
    [1024, 40, { total: 492, perAddress: 61 }],
    [1_048_576, 40, { total: 4096, perAddress: 512 }],
    [64, 60, { total: 2, perAddress: 2 }],
    [50, 60, { total: 1, perAddress: 1 }],
  ])("limit %d with %d open: %o", (limit, open, want) => {
    expect(limitsFor(limit, open)).toEqual(want);
  });

  test("below both bounds a connection just comes in", () => {
    expect(admit([conn("a", false, 1)], "b", { total: 2, perAddress: 2 })).toEqual({ admit: true });
  });

  test("at the total, the connection idle the longest goes, whoever holds it", () => {
    const held = [conn("a", false, 5), conn("b", false, 2), conn("c", true, 1)];
    expect(admit(held, "d", { total: 3, perAddress: 3 })).toEqual({ admit: true, evict: held[1] });
  });

  test("at an address's bound, that address's idle one goes, not another's", () => {
    const held = [conn("a", false, 1), conn("b", false, 5), conn("b", false, 3)];
    expect(admit(held, "b", { total: 10, perAddress: 2 })).toEqual({ admit: true, evict: held[2] });
  });

  test("a busy connection is never closed for a newcomer: the newcomer is refused", () => {
    expect(admit([conn("a", true, 1), conn("b", true, 2)], "c", { total: 2, perAddress: 2 }).admit).toBe(false);
    expect(admit([conn("a", true, 1), conn("b", false, 2)], "a", { total: 9, perAddress: 1 }).admit).toBe(false);
  });

  test("the soft open-file limit from /proc/self/limits", () => {
    const text = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            256                  4096                 files     \n";
    expect(parseOpenFileLimit(text)).toBe(256);
    expect(parseOpenFileLimit("Max open files            unlimited            unlimited            files\n")).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseOpenFileLimit("")).toBeUndefined();
  });
});
