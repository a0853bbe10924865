/** --quirks FILE: parsing with file-and-line errors, and which rule a client gets. */
import { describe, expect, test } from "bun:test";
import { describeRule, parseQuirks } from "../../src/cli/quirks-file.ts";
import { compileQuirkRules } from "../../src/server/offers/quirk-rules.ts";

const FILE = `# pinned quirks
[[client]]
match = "10.1.0.0/16"
blksize-max = 1024
windowsize-max = 1

[[client]]
match = "10.1.2.0/24"
no-options = true
extra-timeout = 1.5
`;

describe("parseQuirks", () => {
  test("rules with every key", () => {
    expect(parseQuirks(FILE, "q.toml")).toEqual([
      { match: "10.1.0.0/16", blockSizeMax: 1024, windowSizeMax: 1 },
      { match: "10.1.2.0/24", noOptions: true, extraTimeoutMs: 1500 },
    ]);
    expect(parseQuirks("", "q.toml")).toEqual([]);
  });
  test("mistakes are one line naming the file, the rule's line and the fix", () => {
    expect(() => parseQuirks('[[client]]\nmatch = "10.1.0.0/33"\n', "q.toml")).toThrow(/^q\.toml line 1: rule 1: match '10\.1\.0\.0\/33': the prefix length must be 0 to 32$/);
    expect(() => parseQuirks(FILE + '\n[[client]]\nmatch = "::1"\nblksize = 9\n', "q.toml")).toThrow(/^q\.toml line 12: rule 3: unknown key 'blksize' \(keys: match, /);
    expect(() => parseQuirks("[[client]]\nblksize-max = 1024\n", "q.toml")).toThrow(/needs match = "CIDR"/);
    expect(() => parseQuirks('[[client]]\nmatch = "10.0.0.0/8"\nblksize-max = 4\n', "q.toml")).toThrow(/blksize-max must be a whole number from 8 to 65464/);
    expect(() => parseQuirks('[[client]]\nmatch = "10.0.0.0/8"\nno-options = "yes"\n', "q.toml")).toThrow(/no-options must be true or false/);
    expect(() => parseQuirks('[[rule]]\nmatch = "10.0.0.0/8"\n', "q.toml")).toThrow(/unknown key 'rule'/);
    expect(() => parseQuirks("[[client]\n", "q.toml")).toThrow(/^q\.toml line \d: TOML syntax error/);
  });
  test("the listing line of a rule", () => {
    const [a, b] = parseQuirks(FILE, "q.toml");
    expect(describeRule(a!)).toBe("10.1.0.0/16: blksize at most 1024, windowsize at most 1");
    expect(describeRule(b!)).toBe("10.1.2.0/24: no options (RFC 1350), timeout +1.5 s");
  });
});

describe("which rule a client gets", () => {
  const rules = compileQuirkRules(parseQuirks(FILE, "q.toml"));
  test("the most specific block wins, whatever the file's order; IPv4-mapped addresses match", () => {
    expect(rules.ruleFor("10.1.2.9")?.noOptions).toBe(true);
    expect(rules.ruleFor("::ffff:10.1.2.9")?.noOptions).toBe(true);
    expect(rules.ruleFor("10.1.7.9")?.blockSizeMax).toBe(1024);
    expect(rules.ruleFor("10.2.0.1")).toBeUndefined();
    expect(rules.ruleFor("fd00::1")).toBeUndefined();
  });
});
