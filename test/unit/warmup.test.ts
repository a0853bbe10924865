import { expect, test } from "bun:test";
import { blockCount } from "../../src/protocol/blocks.ts";
import { WARMUP_FILE_BYTES, WARMUP_SHAPES, warmUpSendPath } from "../../src/server/io/warmup.ts";

test("warm-up runs every synthetic transfer to completion, each block sent once", () => {
  const report = warmUpSendPath();
  const expected = WARMUP_SHAPES.reduce((n, s) => n + s.transfers * blockCount(WARMUP_FILE_BYTES, s.blockSize), 0);
  expect(report.transfers).toBe(WARMUP_SHAPES.reduce((n, s) => n + s.transfers, 0));
  expect(report.completed).toBe(report.transfers);
  expect(report.blocks).toBe(expected);
});
