import { describe, expect, test } from "bun:test";
import { intArg, rejectUnknown, UsageError } from "../../src/cli/args.ts";
import type { ArgsDef } from "citty";

const args: ArgsDef = {
  dir: { type: "positional", required: false },
  durationMax: { type: "string" },
  "max-transfers": { type: "string" },
  verbose: { type: "boolean", alias: ["v"] },
  output: { type: "string", alias: "o" },
};

describe("strict CLI arguments", () => {
  test("known flags in every spelling take their value; one positional allowed", () => {
    expect(() => rejectUnknown("t", ["--duration-max", "30", "--durationMax=5", "--max-transfers", "9", "-v", "--no-verbose", "-o", "x", "root"], args)).not.toThrow();
  });
  test("unknown flags and extra positionals are usage errors naming the culprit", () => {
    expect(() => rejectUnknown("t", ["--bogus"], args)).toThrow(/unknown option --bogus/);
    expect(() => rejectUnknown("t", ["a", "b"], args)).toThrow(/unexpected argument 'b'/);
    expect(() => rejectUnknown("t", ["--bogus=1"], args)).toThrow(UsageError);
  });
  test("intArg explains the range", () => {
    expect(intArg("port", "69", 0, 65535)).toBe(69);
    expect(() => intArg("port", "x", 0, 65535)).toThrow(/whole number from 0 to 65535/);
    expect(() => intArg("port", "-1", 0, 65535)).toThrow(/must be from 0 to 65535/);
  });
});
