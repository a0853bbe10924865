/**
 * Where an upload may go: the read side's confinement plus the boot-control fence, --writable,
 * --overwrite and "regular files only".
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { _pretendNoOpenat2 } from "../../src/files/beneath.ts";
import { fsPath } from "../../src/files/bytes-path.ts";
import { closeTarget, confineUpload as confineAndOpen, realWritableDirs, type UploadRules, type WritableDir } from "../../src/files/confine-upload.ts";
import { TftpError } from "../../src/protocol/errors.ts";

let base: string;
let root: string;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "pxeboot-confine-upload-")));
  root = join(base, "root");
  mkdirSync(join(root, "uploads/deep"), { recursive: true });
  mkdirSync(join(root, "pxelinux.cfg"));
  mkdirSync(join(root, "grub/x86_64-efi"), { recursive: true });
  mkdirSync(join(root, "d-i/amd64/pxelinux.cfg"), { recursive: true });
  // ipxe/ is a link to a directory of another name: what lands there is boot control all the same.
  mkdirSync(join(root, "scripts/sub"), { recursive: true });
  symlinkSync("scripts", join(root, "ipxe"));
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

/** confineUpload, its directory descriptor closed at once (what is checked here is the answer). */
function confineUpload(...args: Parameters<typeof confineAndOpen>) {
  const target = confineAndOpen(...args);
  closeTarget(target);
  return target;
}

const anywhere: UploadRules = { writable: [], overwrite: false };
const dir = (rel: string): WritableDir => ({ real: join(root, rel), rel });
const onlyUploads = (): UploadRules => ({ writable: [dir("uploads")], overwrite: false });

function refusal(requested: string, rules: UploadRules = anywhere): [number, string] {
  try {
    confineUpload(root, requested, rules);
  } catch (err) {
    if (err instanceof TftpError) return [err.code, err.logReason];
    throw err;
  }
  throw new Error(`${requested} was allowed`);
}

for (const openat2 of [true, false])
  describe(openat2 ? "with openat2" : "without openat2 (checked by descriptor after the open)", () => {
    beforeAll(() => _pretendNoOpenat2(!openat2));
    afterAll(() => _pretendNoOpenat2(false));

    describe("allowed", () => {
      test("a new file in the root or a subdirectory, named as normaliseName does", () => {
        expect(confineUpload(root, "new.bin", anywhere)).toEqual({ rel: "new.bin", dir: root, dirFd: expect.any(Number), name: "new.bin", exists: false });
        expect(confineUpload(root, "\\uploads\\deep\\x", onlyUploads())).toMatchObject({ rel: "uploads/deep/x", dir: join(root, "uploads/deep") });
      });

      test("what farms upload: dumps, switch configs (by name or by IP address), archives", () => {
        for (const name of ["host1.dump", "switch1.cfg", "core-sw-confg", "10.0.0.5.cfg", "crash-2026-12-07.tar.gz", "default", "grub.cfg.txt"])
          expect(confineUpload(root, `uploads/${name}`, onlyUploads()).rel).toBe(`uploads/${name}`);
      });

      test("an existing regular file with overwrite", () => {
        expect(confineUpload(root, "uploads/existing", { writable: [], overwrite: true }).exists).toBe(true);
      });

      test("names are bytes: a Latin-1 directory is found as sent", () => {
        const name = `uploads/${Buffer.from([0x67, 0xfc]).toString("latin1")}/x`;
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

    describe("boot control: never written, whatever --writable and --overwrite say", () => {
      const everything: UploadRules = { writable: [], overwrite: true };
      const rootWritable = (): UploadRules => ({ writable: [dir("")], overwrite: true });
      const fenced: [string, RegExp][] = [
        ["pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", /in pxelinux\.cfg\//],
        ["pxelinux.cfg/C0A8000B", /in pxelinux\.cfg\//],
        ["pxelinux.cfg/default", /in pxelinux\.cfg\//],
        ["grub/ip-10.0.0.5.cfg", /in grub\//],
        ["grub/x86_64-efi/normal.mod", /in grub\//],
        ["d-i/amd64/pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", /in pxelinux\.cfg\//],
        // Reached through links: uploads/to-cfg is pxelinux.cfg; ipxe is a link to scripts/.
        ["uploads/to-cfg/x", /in pxelinux\.cfg\//],
        ["ipxe/mac-aa-bb-cc-dd-ee-ff.ipxe", /in ipxe\//],
        ["scripts/sub/notes.txt", /ipxe\/ leads there/],
        // Per-host and loader names in any directory.
        ["uploads/01-aa-bb-cc-dd-ee-ff", /hardware address/],
        ["uploads/C0A8000B", /IPv4 address or subnet/],
        ["uploads/4c4c4544-0042-3510-8051-b4c04f4a4d32", /UUID/],
        ["uploads/52-54-00-aa-bb-cc.ipxe", /MAC/],
        ["grub.cfg-01-aa-bb-cc-dd-ee-ff", /GRUB/],
        ["uploads/autoexec.ipxe", /iPXE script/],
        ["uploads/pxelinux.0", /boot program/],
        ["uploads/grubx64.efi", /boot program/],
      ];

      test.each(fenced)("%s: ERROR 2, with or without --overwrite, --writable anywhere or the root", (name, why) => {
        for (const rules of [anywhere, everything, rootWritable(), onlyUploads()]) {
          const [code, reason] = refusal(name, rules);
          expect(code).toBe(2);
          expect(reason).toContain(`${name} is boot control (`);
          expect(reason).toMatch(why);
        }
      });

      test("a --writable boot-control directory opens that directory, and only it", () => {
        const cfg: UploadRules = { writable: realWritableDirs(root, ["pxelinux.cfg", "uploads"]), overwrite: false };
        expect(confineUpload(root, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", cfg).rel).toBe("pxelinux.cfg/01-aa-bb-cc-dd-ee-ff");
        expect(confineUpload(root, "uploads/to-cfg/C0A8000B", cfg).dir).toBe(join(root, "pxelinux.cfg"));
        expect(refusal("uploads/01-aa-bb-cc-dd-ee-ff", cfg)[1]).toContain("is boot control");
        expect(refusal("grub/ip-10.0.0.5.cfg", cfg)[1]).toContain("is boot control");
        expect(refusal("d-i/amd64/pxelinux.cfg/C0A8000B", cfg)[1]).toContain("is boot control");
      });
    });

    test("refusals close the directory they opened", () => {
      confineUpload(root, "new.bin", anywhere); // the root's descriptor, held from here on
      const before = readdirSync("/proc/self/fd").length;
      for (const name of ["uploads/existing", "uploads/out/x", "state/x", "uploads/link", "nope/x", "uploads/to-cfg/x", "uploads/pxelinux.0"]) refusal(name);
      refusal("elsewhere.bin", onlyUploads());
      expect(readdirSync("/proc/self/fd").length).toBe(before);
    });
  });

describe("--writable at start-up", () => {
  test("resolved to real paths inside the root; a boot-control one says why", () => {
    expect(realWritableDirs(root, ["uploads", ""])).toEqual([dir("uploads"), dir("")]);
    expect(realWritableDirs(root, ["uploads/to-cfg"])).toEqual([{ ...dir("pxelinux.cfg"), bootControl: "in pxelinux.cfg/" }]);
    expect(realWritableDirs(root, ["scripts"])).toEqual([{ ...dir("scripts"), bootControl: "ipxe/ leads there" }]);
    expect(realWritableDirs(root, ["grub/x86_64-efi"])).toEqual([{ ...dir("grub/x86_64-efi"), bootControl: "in grub/" }]);
  });

  test("missing, outside, a file, or the state directory: an error naming it", () => {
    expect(() => realWritableDirs(root, ["missing"])).toThrow(/--writable missing: ENOENT/);
    expect(() => realWritableDirs(root, ["uploads/out"])).toThrow(/leads out of the root/);
    expect(() => realWritableDirs(root, ["uploads/existing"])).toThrow(/not a directory/);
    expect(() => realWritableDirs(root, ["state"])).toThrow(/state directory/);
  });
});
