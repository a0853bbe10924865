import { expect, test } from "bun:test";
import { repeatedFlag, UsageError } from "../../src/cli/args.ts";

test("--profile is repeatable (citty alone keeps only the last), in every spelling", () => {
  const raw = ["/tftp", "--profile", "7.2", "-p", "8.1", "--profile=9.0", "--dry-run", "--profile", "a,b"];
  expect(repeatedFlag(raw, ["profile", "p"])).toEqual(["7.2", "8.1", "9.0", "a", "b"]);
  expect(repeatedFlag(["/tftp", "--", "--profile", "x"], ["profile", "p"])).toEqual([]);
  expect(() => repeatedFlag(["/tftp", "--profile"], ["profile", "p"])).toThrow(UsageError);
});
