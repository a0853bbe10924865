/** The directory-relative file calls of files/beneath.ts against a real tree: what openat2 refuses, and the errors' codes. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dupFd, linkAt, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, O_RDONLY, O_WRONLY, openAt, openBeneath, pathIn, realPathOf, renameAt, rootFd, unlinkAt } from "../../src/files/beneath.ts";

let base: string;
let root: string;
let dir: number;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "pxeboot-beneath-")));
  root = join(base, "root");
  mkdirSync(join(root, "sub"), { recursive: true });
  writeFileSync(join(root, "sub/file"), "inside");
  writeFileSync(join(base, "secret"), "outside");
  symlinkSync("sub/file", join(root, "inside-link"));
  symlinkSync("../secret", join(root, "up-link"));
  symlinkSync(join(base, "secret"), join(root, "absolute-out"));
  symlinkSync(join(root, "sub/file"), join(root, "absolute-in"));
  symlinkSync("loop-b", join(root, "loop-a"));
  symlinkSync("loop-a", join(root, "loop-b"));
  writeFileSync(Buffer.from(join(root, "sub/\xfc"), "latin1"), "latin1 name");
  dir = rootFd(root);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** The code openBeneath fails with, or the contents of what it opened. */
function beneath(rel: string, at = dir): string {
  let fd: number | null;
  try {
    fd = openBeneath(at, rel, O_RDONLY);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code!;
  }
  if (fd === null) throw new Error("no openat2 on this kernel: these tests need Linux 5.6+");
  try {
    return readFileSync(fd, "latin1");
  } finally {
    closeSync(fd);
  }
}

describe("openBeneath (openat2 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)", () => {
  test("names and links that stay beneath the directory open", () => {
    expect(beneath("sub/file")).toBe("inside");
    expect(beneath("inside-link")).toBe("inside");
    expect(beneath("sub/../sub/file")).toBe("inside");
    expect(beneath("sub/\xfc")).toBe("latin1 name"); // the byte 0xfc, as sent
  });

  test("anything that leads out is EXDEV: '..', a relative link up, an absolute link (even one pointing inside)", () => {
    expect(beneath("../secret")).toBe("EXDEV");
    expect(beneath("up-link")).toBe("EXDEV");
    expect(beneath("absolute-out")).toBe("EXDEV");
    expect(beneath("absolute-in")).toBe("EXDEV");
    expect(beneath(join(root, "sub/file"))).toBe("EXDEV");
  });

  test("magic links (/proc/self/fd/N, /proc/self/root) are never followed: ELOOP", () => {
    const proc = openSync("/proc/self", O_PATH | O_DIRECTORY);
    const fd = openSync(join(root, "sub/file"), "r");
    try {
      expect(beneath(`fd/${fd}`, proc)).toBe("ELOOP");
      expect(beneath("root/etc/hostname", proc)).toBe("ELOOP");
    } finally {
      closeSync(fd);
      closeSync(proc);
    }
  });

  test("errors carry node:fs codes", () => {
    expect(beneath("missing")).toBe("ENOENT");
    expect(beneath("sub/file/x")).toBe("ENOTDIR");
    expect(beneath("loop-a")).toBe("ELOOP");
  });

  test("realPathOf reads what a descriptor is; rootFd holds one descriptor per root", () => {
    const fd = openBeneath(dir, "inside-link", O_RDONLY)!;
    expect(realPathOf(fd)).toBe(join(root, "sub/file"));
    closeSync(fd);
    expect(rootFd(root)).toBe(dir);
    expect(realPathOf(dir)).toBe(root);
  });
});

describe("calls relative to a directory descriptor", () => {
  test("create (never through a link), link, rename and unlink stay in that directory", () => {
    const sub = openBeneath(dir, "sub", O_PATH | O_DIRECTORY)!;
    try {
      const fd = openAt(sub, "new", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      writeFileSync(fd, "made");
      closeSync(fd);
      expect(readFileSync(join(root, "sub/new"), "utf8")).toBe("made");
      expect(() => openAt(sub, "new", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)).toThrow(expect.objectContaining({ code: "EEXIST" }));
      linkAt(sub, "new", "linked");
      expect(lstatSync(join(root, "sub/linked")).ino).toBe(lstatSync(join(root, "sub/new")).ino);
      expect(() => linkAt(sub, "new", "linked")).toThrow(expect.objectContaining({ code: "EEXIST" }));
      renameAt(sub, "linked", "renamed");
      expect(existsSync(join(root, "sub/linked"))).toBe(false);
      unlinkAt(sub, "renamed");
      unlinkAt(sub, "new");
      expect(() => unlinkAt(sub, "new")).toThrow(expect.objectContaining({ code: "ENOENT" }));
      // A link at the name is not created through: O_EXCL and O_NOFOLLOW refuse it.
      symlinkSync("../../secret-made", join(root, "sub/trap"));
      expect(() => openAt(sub, "trap", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)).toThrow(expect.objectContaining({ code: "EEXIST" }));
      expect(existsSync(join(base, "secret-made"))).toBe(false);
      expect(lstatSync(pathIn(sub, "trap")).isSymbolicLink()).toBe(true);
      expect(readlinkSync(pathIn(sub, "trap"), "utf8")).toBe("../../secret-made");
    } finally {
      closeSync(sub);
    }
  });

  test("dupFd gives a second descriptor of the same open file", () => {
    const fd = openSync(join(root, "sub/file"), "r");
    const copy = dupFd(fd);
    closeSync(fd);
    expect(copy).toBeGreaterThanOrEqual(0);
    expect(readFileSync(copy, "utf8")).toBe("inside");
    closeSync(copy);
  });
});
