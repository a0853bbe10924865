/** Where an upload may go: the read side's confinement plus --writable, --overwrite and "regular files only". */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fsPath } from "../../src/files/bytes-path.ts";
import { confineUpload, realWritableDirs, type UploadRules } from "../../src/files/confine-upload.ts";
import { TftpError } from "../../src/protocol/errors.ts";

let base: string;
let root: string;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "pxeboot-confine-upload-")));
  root = join(base, "root");
  mkdirSync(join(root, "uploads/deep"), { recursive: true });
  mkdirSync(join(root, "pxelinux.cfg"));
  mkdirSync(join(root, ".pxeboot"));
  mkdirSync(join(base, "outside"));
  writeFileSync(join(root, "uploads/existing"), "old");
  writeFileSync(join(root, "pxelinux.cfg/default"), "default");
  symlinkSync("../pxelinux.cfg/default", join(root, "uploads/link"));
  symlinkSync("../pxelinux.cfg", join(root, "uploads/to-cfg"));
  symlinkSync(join(base, "outside"), join(root, "uploads/out"));
  symlinkSync(".pxeboot", join(root, "state"));
  mkdirSync(join(root, "uploads/dir"));
  mkdirSync(fsPath(join(root, "uploads", Buffer.from([0x67, 0xfc]).toString("latin1")))); // Latin-1 "gü"
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const anywhere: UploadRules = { writable: [], overwrite: false };
const onlyUploads = (): UploadRules => ({ writable: [join(root, "uploads")], overwrite: false });

function refusal(requested: string, rules: UploadRules = anywhere): [number, string] {
  try {
    confineUpload(root, requested, rules);
  } catch (err) {
    if (err instanceof TftpError) return [err.code, err.logReason];
    throw err;
  }
  throw new Error(`${requested} was allowed`);
}

describe("allowed", () => {
  test("a new file in the root or a subdirectory, named as normaliseName does", () => {
    expect(confineUpload(root, "new.bin", anywhere)).toEqual({ rel: "new.bin", dir: root, path: join(root, "new.bin"), exists: false });
    expect(confineUpload(root, "\\uploads\\deep\\x", onlyUploads())).toMatchObject({ rel: "uploads/deep/x", dir: join(root, "uploads/deep") });
  });

  test("an existing regular file with overwrite", () => {
    expect(confineUpload(root, "uploads/existing", { writable: [], overwrite: true }).exists).toBe(true);
  });

  test("names are bytes: a Latin-1 directory is found as sent", () => {
    const name = `uploads/${Buffer.from([0x67, 0xfc]).toString("latin1")}/f`;
    expect(confineUpload(root, name, anywhere).dir).toBe(join(root, "uploads", Buffer.from([0x67, 0xfc]).toString("latin1")));
  });
});

describe("refused", () => {
  test("an existing file without overwrite: ERROR 6", () => {
    expect(refusal("uploads/existing")[0]).toBe(6);
  });

  test("outside the --writable directories: ERROR 2, links in the parent path followed", () => {
    expect(refusal("elsewhere.bin", onlyUploads())).toEqual([2, "Access violation (elsewhere.bin is outside the --writable directories)"]);
    // uploads/to-cfg is a link to pxelinux.cfg: lexically inside uploads/, really not.
    expect(refusal("uploads/to-cfg/C0A8000B", onlyUploads())[0]).toBe(2);
  });

  test("never out of the root, never into the state directory", () => {
    expect(refusal("../x")[0]).toBe(2);
    expect(refusal("uploads/out/x")).toEqual([2, "Access violation (link leaves the root: uploads/out/x)"]);
    expect(refusal(".pxeboot/installed")[0]).toBe(2);
    expect(refusal("state/x")).toEqual([2, "Access violation (link into the server's state directory: state/x)"]);
    expect(refusal(".pxeboot")[0]).toBe(2);
  });

  test("a link or a directory as the target, even with overwrite", () => {
    const over = { writable: [], overwrite: true };
    expect(refusal("uploads/link", over)).toEqual([2, "Access violation (uploads/link is a symbolic link: uploads replace only regular files)"]);
    expect(refusal("uploads/dir", over)).toEqual([2, "Not a regular file (uploads/dir)"]);
  });

  test("a directory that does not exist (none is created): ERROR 1", () => {
    expect(refusal("nope/x")[0]).toBe(1);
    expect(refusal("uploads/existing/x")[0]).toBe(1);
  });
});

describe("--writable at start-up", () => {
  test("resolved to real paths inside the root", () => {
    expect(realWritableDirs(root, ["uploads", ""])).toEqual([join(root, "uploads"), root]);
    expect(realWritableDirs(root, ["uploads/to-cfg"])).toEqual([join(root, "pxelinux.cfg")]);
  });

  test("missing, outside, a file, or the state directory: an error naming it", () => {
    expect(() => realWritableDirs(root, ["missing"])).toThrow(/--writable missing: ENOENT/);
    expect(() => realWritableDirs(root, ["uploads/out"])).toThrow(/leads out of the root/);
    expect(() => realWritableDirs(root, ["uploads/existing"])).toThrow(/not a directory/);
    expect(() => realWritableDirs(root, ["state"])).toThrow(/state directory/);
  });
});
