/** tftpd-hpa's -m remap rules: the parser (what is refused, with its line) and the matcher. */
import { describe, expect, test } from "bun:test";
import { compileEre, ereSource, RegexSyntaxError } from "../../src/server/requests/posix-regex.ts";
import { expand, hexAddress, parseRemapRules, remap, RemapSyntaxError, type RemapRequest } from "../../src/server/requests/remap.ts";

const get4: RemapRequest = { op: "get", address: "192.0.2.169" };
const put4: RemapRequest = { op: "put", address: "192.0.2.169" };
const get6: RemapRequest = { op: "get", address: "2001:db8::1" };

function run(rules: string, name: string, req: RemapRequest = get4) {
  return remap(parseRemapRules(rules), name, req);
}
const nameOf = (rules: string, name: string, req: RemapRequest = get4) => {
  const r = run(rules, name, req);
  if (r.kind !== "name") throw new Error(`expected a name, got ${JSON.stringify(r)}`);
  return r.name;
};

/** The rules of tftpd-hpa's own sample.rules, in its layout (tabs, trailing comments). */
const SAMPLE = [
  "#",
  "# Sample rule file for the -m (remapping option)",
  "#",
  "ri\t^[a-z]:\t\t\t\t# Remove \"drive letters\"",
  "rg\t\\\\\t\t/\t\t# Convert backslashes to slashes",
  "rg\t\\#\t\t@\t\t# Convert hash marks to @ signs",
  "rg\t/../\t\t/..no../\t# Convert /../ to /..no../",
  "e\t^ok/\t\t\t\t# These are always ok",
  "r\t^[^/]\t\t/tftpboot/\\0\t# Convert non-absolute files",
  "a\t\\.pvt$\t\t\t\t# Reject requests for private files",
].join("\n");

describe("remap rule parser", () => {
  test("tftpd-hpa's sample.rules parses: comments, tabs, escaped # and backslashes", () => {
    const rules = parseRemapRules(SAMPLE);
    expect(rules.map((r) => r.line)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(rules[0]).toMatchObject({ rewrite: true, pattern: "" });
    expect(rules[1]).toMatchObject({ rewrite: true, global: "g", pattern: "/" });
    expect(rules[4]).toMatchObject({ rewrite: false, exit: true });
    expect(rules[6]).toMatchObject({ abort: true });
  });

  test("flags: g twice is sed-style, G/P and 4/6 restrict, ~ inverts", () => {
    const [gg, getOnly, putOnly, v6, inv] = parseRemapRules("rgg a b\nrG x y\nrP x y\nr6 x y\n~a ^ok");
    expect(gg!.global).toBe("gg");
    expect(getOnly!.only).toBe("get");
    expect(putOnly!.only).toBe("put");
    expect(v6!.family).toBe(6);
    expect(inv).toMatchObject({ inverse: true, abort: true });
  });

  test.each([
    ["rx a b", 1, /unknown operation 'x'/],
    ["\n\nr", 3, /has no regex/],
    ["ra x", 1, /r and a cannot be combined/],
    ["r~ x y", 1, /r and ~ cannot be combined/],
    ["es x", 1, /e and s cannot be combined/],
    ["rj x y", 1, /j \(jump to a label\) is not supported/],
    [":here", 1, /labels \(:here\) and j rules are not supported/],
    ["rE x y", 1, /E \(apply only if the result names an existing file\) is not supported/],
    ["GP x", 1, /G and P together/],
    ["r [a-", 1, /unterminated bracket expression/],
    ["r (a b", 1, /regex \(a/],
    ["r x y z", 1, /unexpected 'z' after the replacement/],
    ["r [[:nope:]] y", 1, /unknown character class \[:nope:\]/],
    ["r (?=x) y", 1, /not POSIX ERE/],
  ])("%p is refused on line %p", (text, line, message) => {
    let err: unknown;
    try {
      parseRemapRules(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RemapSyntaxError);
    expect((err as RemapSyntaxError).line).toBe(line);
    expect((err as Error).message).toMatch(message);
  });

  test("a CR LF file reads like an LF one", () => {
    expect(parseRemapRules("rg \\\\ /\r\nri ^(.*)$ \\L\\1\r\n").length).toBe(2);
  });
});

describe("POSIX ERE to JavaScript", () => {
  test("bracket expressions: backslash is literal, ] first is a member, [:classes:]", () => {
    expect(compileEre("[\\]").test("\\")).toBe(true);
    expect(compileEre("^[]a]+$").test("]a]")).toBe(true);
    expect(compileEre("^[^]a]$").test("b")).toBe(true);
    expect(compileEre("^[[:upper:][:digit:]]+$").test("AB12")).toBe(true);
    expect(compileEre("^[[:upper:]]+$").test("ab")).toBe(false);
  });
  test("escapes: GNU word boundaries, and an unknown letter escape is the letter", () => {
    expect(compileEre("\\<boot\\>").test("a boot b")).toBe(true);
    expect(compileEre("\\<boot\\>").test("reboots")).toBe(false);
    expect(compileEre("^\\d$").test("d")).toBe(true);
    expect(compileEre("^\\d$").test("1")).toBe(false);
    expect(ereSource("\\.\\#")).toBe("\\.\\#");
  });
  test("errors are RegexSyntaxError", () => {
    expect(() => compileEre("a\\")).toThrow(RegexSyntaxError);
    expect(() => compileEre("[[=a=]]")).toThrow(/not supported/);
  });
});

describe("remap matcher", () => {
  test("backslashes from Windows clients become slashes (g repeats)", () => {
    expect(nameOf("rg \\\\ /", "\\boot\\x86\\pxelinux.0")).toBe("/boot/x86/pxelinux.0");
  });

  test("case-insensitive names: i matches any case, \\L folds the name", () => {
    expect(nameOf("ri ^PXELINUX\\.0$ pxelinux.0", "PxeLinux.0")).toBe("pxelinux.0");
    expect(nameOf("r ^.*$ \\L\\0", "BOOT/BZIMAGE")).toBe("boot/bzimage");
    expect(nameOf("r ^(.)(.*)$ \\U\\1\\E\\2", "abc")).toBe("Abc");
  });

  test("a per-client-address prefix: \\i dotted, \\x hex (8 digits IPv4, 32 IPv6)", () => {
    expect(nameOf("r ^ \\i/", "pxelinux.cfg/default")).toBe("192.0.2.169/pxelinux.cfg/default");
    expect(nameOf("r ^[^/] hosts/\\x/\\0", "boot.cfg")).toBe("hosts/C00002A9/boot.cfg");
    expect(nameOf("r ^ \\x/", "f", get6)).toBe("20010DB8000000000000000000000001/f");
    expect(hexAddress("::ffff:1")).toBe("000000000000000000000000FFFF0001");
  });

  test("sample.rules end to end", () => {
    expect(nameOf(SAMPLE, "C:\\Boot\\file")).toBe("/Boot/file");
    expect(nameOf(SAMPLE, "boot/file")).toBe("/tftpboot/boot/file");
    // The sample's own "/../" is a regex: "/as/" matches it too, in tftpd-hpa as here.
    expect(nameOf(SAMPLE, "ok/as\\is")).toBe("ok/..no../is");
    expect(nameOf(SAMPLE, "ok\\file")).toBe("ok/file");
    expect(nameOf(SAMPLE, "a#b")).toBe("/tftpboot/a@b");
    expect(nameOf(SAMPLE, "/x/../y")).toBe("/x/..no../y");
    expect(run(SAMPLE, "secret.pvt")).toEqual({ kind: "denied", line: 10, message: undefined });
  });

  test("rules apply top-down to the name as the previous rules left it; all of them run", () => {
    expect(nameOf("r a b\nr b c", "a")).toBe("c");
    expect(nameOf("r ^x y\nr ^a b", "xa")).toBe("ya");
  });

  test("e stops after a match, s starts over", () => {
    expect(nameOf("e ^keep\nr .* gone", "keep-me")).toBe("keep-me");
    expect(nameOf("e ^keep\nr .* gone", "other")).toBe("gone");
    expect(nameOf("r c d\nrs ^a b", "ac")).toBe("bd"); // s goes back to "r c d", which now matches nothing
    expect(nameOf("rs ^a b\nr ^b c", "a")).toBe("c");
  });

  test("G and P pick the request kind, 4 and 6 the address family", () => {
    expect(nameOf("rG ^ get/\nrP ^ put/", "f", get4)).toBe("get/f");
    expect(nameOf("rG ^ get/\nrP ^ put/", "f", put4)).toBe("put/f");
    expect(nameOf("r4 ^ v4/\nr6 ^ v6/", "f", get6)).toBe("v6/f");
  });

  test("a refuses with the rule's message; ~ fires when the regex does not match", () => {
    expect(run("a ^secret/ Not\\ for\\ you", "secret/x")).toEqual({ kind: "denied", line: 1, message: "Not for you" });
    expect(run("~a ^(boot|pxelinux)", "etc/passwd")).toMatchObject({ kind: "denied" });
    expect(nameOf("~a ^(boot|pxelinux)", "boot/x")).toBe("boot/x");
  });

  test("g scans from the start each time; gg goes on after the replacement (sed's g)", () => {
    expect(nameOf("rg aa a", "aaaa")).toBe("a");
    expect(nameOf("rgg aa a", "aaaa")).toBe("aa");
    expect(nameOf("rgg a aa", "aa")).toBe("aaaa");
  });

  test("a rule set that never settles fails instead of looping", () => {
    expect(run("rg a aa", "a").kind).toBe("failed");
    expect(run("rs ^ x", "a").kind).toBe("failed");
  });

  test("expand: escapes in the replacement", () => {
    const m = /(b)(c)/.exec("abcd")!;
    expect(expand("[\\0|\\2\\1|\\\\|\\#|\\ |\\9]", m, get4)).toBe("[bc|cb|\\|#| |]");
    expect(expand("x\\", m, get4)).toBe("x\\");
  });
});
