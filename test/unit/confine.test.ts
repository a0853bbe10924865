import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { confine, normaliseName } from "../../src/files/confine.ts";
import { TftpError } from "../../src/protocol/errors.ts";

let base: string;
let root: string;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "pxeboot-confine-")));
  root = join(base, "root");
  mkdirSync(join(root, "pxelinux.cfg"), { recursive: true });
  mkdirSync(join(root, "sub"));
  writeFileSync(join(root, "pxelinux.0"), "loader");
  writeFileSync(join(root, "pxelinux.cfg", "default.netboot-7.2"), "netboot");
  writeFileSync(join(base, "secret"), "outside");
  symlinkSync("default.netboot-7.2", join(root, "pxelinux.cfg", "C0A8000B"));
  symlinkSync("../pxelinux.0", join(root, "sub", "up-but-inside"));
  symlinkSync("../secret", join(root, "escape-relative"));
  symlinkSync(join(base, "secret"), join(root, "escape-absolute"));
  symlinkSync("/etc", join(root, "etcdir"));
  symlinkSync("loop-b", join(root, "loop-a"));
  symlinkSync("loop-a", join(root, "loop-b"));
  symlinkSync("missing-target", join(root, "dangling"));
  // A sibling whose name starts with the root's name must not count as inside it.
  mkdirSync(join(base, "root-evil"));
  writeFileSync(join(base, "root-evil", "x"), "evil");
  symlinkSync("../root-evil/x", join(root, "prefix-trick"));
  writeFileSync(join(root, "unreadable"), "x");
  chmodSync(join(root, "unreadable"), 0);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function code(name: string): number | "ok" {
  try {
    confine(root, name);
    return "ok";
  } catch (e) {
    if (e instanceof TftpError) return e.code;
    throw e;
  }
}

describe("path confinement", () => {
  test.each([
    ["pxelinux.0", "ok"],
    ["/pxelinux.0", "ok"],
    ["//pxelinux.0", "ok"],
    ["./pxelinux.0", "ok"],
    ["sub/../pxelinux.0", "ok"],
    ["\\pxelinux.cfg\\C0A8000B", "ok"],
    ["pxelinux.cfg/C0A8000B", "ok"],
    ["sub/up-but-inside", "ok"],
    ["missing", 1],
    ["pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", 1],
    ["dangling", 1],
    ["pxelinux.0/child", 1],
    ["../secret", 2],
    ["sub/../../secret", 2],
    ["/../root/pxelinux.0", 2],
    ["..", 2],
    ["escape-relative", 2],
    ["escape-absolute", 2],
    ["etcdir/passwd", 2],
    ["prefix-trick", 2],
    ["loop-a", 2],
    ["sub", 2],
    ["pxelinux.cfg", 2],
    ["/", 2],
    ["", 2],
    ["pxelinux.0\0.txt", 2],
    ["bad\nname", 2],
    ["bad\x7fname", 2],
    ["a".repeat(5000), 2],
  ] as const)("%#", (name, expected) => {
    expect([JSON.stringify(name).slice(0, 60), code(name)]).toEqual([JSON.stringify(name).slice(0, 60), expected]);
  });

  test("a root-owned unreadable file is refused when not running as root", () => {
    // As root the kernel lets us read it; the realpath/stat path then succeeds and open decides.
    if (process.getuid?.() === 0) expect(code("unreadable")).toBe("ok");
    else expect(code("unreadable")).toBe(2);
  });

  test("normaliseName resolves dots without leaving the root", () => {
    expect(normaliseName("a/./b/../c")).toBe("a/c");
    expect(() => normaliseName("a/../../b")).toThrow(TftpError);
  });

  test("links inside the tree resolve to their target", () => {
    expect(confine(root, "pxelinux.cfg/C0A8000B").real).toBe(join(root, "pxelinux.cfg", "default.netboot-7.2"));
    expect(confine(root, "pxelinux.cfg/C0A8000B").rel).toBe("pxelinux.cfg/C0A8000B");
  });
});
