import { describe, expect, test } from "bun:test";
import { absoluteBlock, blockCount, wireBlock } from "../../src/protocol/blocks.ts";

describe("block rollover arithmetic", () => {
  test("rollover 0 wraps 65535 → 0", () => {
    expect([65534, 65535, 65536, 65537].map((b) => wireBlock(b, 0))).toEqual([65534, 65535, 0, 1]);
    expect(wireBlock(131072, 0)).toBe(0);
  });
  test("rollover 1 wraps 65535 → 1 and never uses 0 again", () => {
    expect([65535, 65536, 65537, 131070, 131071].map((b) => wireBlock(b, 1))).toEqual([65535, 1, 2, 65535, 1]);
  });
  test("absoluteBlock finds the block within the window across the wrap", () => {
    for (const rollover of [0, 1] as const) {
      for (const high of [5, 65535, 65536, 65540, 200000, 8388609]) {
        for (const back of [0, 1, 15, 63]) {
          const abs = high - back;
          if (abs < 1) continue;
          expect(absoluteBlock(wireBlock(abs, rollover), high - 64, high, rollover)).toBe(abs);
        }
      }
    }
  });
  test("absoluteBlock rejects numbers outside the window", () => {
    expect(absoluteBlock(10, 20, 30, 0)).toBe(-1);
    expect(absoluteBlock(0, 1, 30, 1)).toBe(-1);
    expect(absoluteBlock(0, 0, 30, 1)).toBe(0);
  });
  test("blockCount: the last block is short, an exact multiple ends with an empty block", () => {
    expect(blockCount(0, 512)).toBe(1);
    expect(blockCount(511, 512)).toBe(1);
    expect(blockCount(512, 512)).toBe(2);
    expect(blockCount(4 * 1024 ** 3, 512)).toBe(8388609);
  });
});
