import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { _pretendNoOpenat2 } from "../../src/files/beneath.ts";
import { confine, normaliseName } from "../../src/files/confine.ts";
import { displayName, fsPath } from "../../src/files/bytes-path.ts";
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
  symlinkSync(join(root, "pxelinux.0"), join(root, "absolute-inside"));
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
  writeFileSync(join(root, "private-key"), "x");
  chmodSync(join(root, "private-key"), 0o640);
  mkdirSync(join(root, ".pxeboot/installed"), { recursive: true });
  writeFileSync(join(root, ".pxeboot/installed/C0A8000B"), "{}");
  symlinkSync(".pxeboot/installed/C0A8000B", join(root, "records"));
  // Names with bytes ≥ 0x80: UTF-8 "ü.txt" and a Latin-1 one (0xfc), both as bytes on disk.
  writeFileSync(join(root, "ü.txt"), "utf8 name");
  writeFileSync(Buffer.from(join(root, "\xfc-latin1.txt"), "latin1"), "latin1 name");
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function code(name: string): number | "ok" {
  try {
    closeSync(confine(root, name).fd);
    return "ok";
  } catch (e) {
    if (e instanceof TftpError) return e.code;
    throw e;
  }
}

const openFds = () => readdirSync("/proc/self/fd").length;

/** Name, and what confine() makes of it: "ok" or the TFTP error code. */
const TABLE = [
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
    ["absolute-inside", "ok"],
  ] as const;

describe("path confinement", () => {
  test.each(TABLE)("%#", (name, expected) => {
    expect([JSON.stringify(name).slice(0, 60), code(name)]).toEqual([JSON.stringify(name).slice(0, 60), expected]);
  });

  test("every refusal closes what it opened", () => {
    code("pxelinux.0"); // the root's descriptor, held from here on
    const before = openFds();
    for (let i = 0; i < 3; i++) for (const [name] of TABLE) code(name);
    code("unreadable");
    expect(openFds()).toBe(before);
  });

  test("a file not readable by everyone is refused, whoever the server runs as, unless permissive", () => {
    expect(code("unreadable")).toBe(2);
    expect(code("private-key")).toBe(2);
    try {
      confine(root, "private-key");
    } catch (e) {
      expect((e as TftpError).detail).toContain("chmod o+r");
    }
    expect(confine(root, "private-key", { permissive: true }).rel).toBe("private-key");
  });

  test("a name with bytes ≥ 0x80 is looked up as the bytes the client sent", () => {
    // What decodePacket makes of the wire bytes c3 bc 2e 74 78 74: one char per byte.
    const utf8Request = Buffer.from("ü.txt", "utf8").toString("latin1");
    const f = confine(root, utf8Request);
    expect(readFileSync(fsPath(f.real), "utf8")).toBe("utf8 name");
    expect(displayName(f.rel)).toBe("ü.txt");
    const g = confine(root, "\xfc-latin1.txt");
    expect(readFileSync(fsPath(g.real), "utf8")).toBe("latin1 name");
    expect(displayName(g.rel)).toBe("\xfc-latin1.txt"); // not UTF-8: shown as it is
    // The UTF-8 spelling of the Latin-1 name is another name, and does not exist.
    expect(code(Buffer.from("\xfc-latin1.txt", "utf8").toString("latin1"))).toBe(1);
  });

  test("the tree's state directory is never served, by name or through a link, permissive or not", () => {
    for (const name of [".pxeboot/installed/C0A8000B", "/.pxeboot/installed/C0A8000B", "sub/../.pxeboot/installed/C0A8000B", "records"]) {
      expect(code(name)).toBe(2);
      expect(() => confine(root, name, { permissive: true })).toThrow(TftpError);
    }
  });

  test("normaliseName resolves dots without leaving the root", () => {
    expect(normaliseName("a/./b/../c")).toBe("a/c");
    expect(() => normaliseName("a/../../b")).toThrow(TftpError);
  });

  test("links inside the tree resolve to their target, and the file is open", () => {
    const f = confine(root, "pxelinux.cfg/C0A8000B");
    expect(f.real).toBe(join(root, "pxelinux.cfg", "default.netboot-7.2"));
    expect(f.rel).toBe("pxelinux.cfg/C0A8000B");
    expect(readFileSync(f.fd, "utf8")).toBe("netboot");
    closeSync(f.fd);
  });

  test("a root moved away and made anew is the new one within a second (the path counts, not a descriptor held since)", async () => {
    const moving = join(base, "moving");
    mkdirSync(moving);
    writeFileSync(join(moving, "f"), "first");
    const first = confine(moving, "f");
    closeSync(first.fd);
    renameSync(moving, join(base, "moved"));
    mkdirSync(moving);
    writeFileSync(join(moving, "f"), "second");
    await Bun.sleep(1100);
    const second = confine(moving, "f");
    expect([second.real, readFileSync(second.fd, "utf8")]).toEqual([join(moving, "f"), "second"]);
    closeSync(second.fd);
  });
});

describe("without openat2 (Linux before 5.6, or a seccomp filter that refuses it)", () => {
  beforeAll(() => _pretendNoOpenat2(true));
  afterAll(() => _pretendNoOpenat2(false));

  test.each(TABLE)("%#: as with it", (name, expected) => {
    expect([JSON.stringify(name).slice(0, 60), code(name)]).toEqual([JSON.stringify(name).slice(0, 60), expected]);
  });

  test("still checked by descriptor: the real path is read from the open file", () => {
    const f = confine(root, "sub/up-but-inside");
    expect([f.real, readFileSync(f.fd, "utf8")]).toEqual([join(root, "pxelinux.0"), "loader"]);
    closeSync(f.fd);
    expect(code("records")).toBe(2);
  });
});
