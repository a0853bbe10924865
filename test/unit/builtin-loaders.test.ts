/**
 * The boot loaders built into pxeboot: every file the manifest names is embedded, and its bytes
 * are the ones the manifest pins (sha256, size), with a licence and a source for each.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { BUILTIN_MANIFEST, builtinBytes, sha256Hex } from "../../src/loaders/builtin.ts";
import { EMBEDDED_FILES } from "../../src/loaders/embedded-files.ts";
import { LOADER_FILES } from "../../src/layout/loaders.ts";

const ASSETS = resolve(import.meta.dir, "../../assets/loaders");

describe("built-in loaders", () => {
  test("the manifest, the embedded list, the assets folder and the loader table name the same files", () => {
    const manifest = BUILTIN_MANIFEST.files.map((e) => e.file).sort();
    expect(Object.keys(EMBEDDED_FILES).sort()).toEqual(manifest);
    expect(readdirSync(ASSETS).filter((n) => n !== "manifest.json").sort()).toEqual(manifest);
    expect(LOADER_FILES.map((l) => l.dest).sort()).toEqual(manifest);
  });

  test.each(BUILTIN_MANIFEST.files.map((e) => [e.file, e] as const))("%s matches its sha256 and size", (file, entry) => {
    const data = builtinBytes(file);
    expect(data.length).toBe(entry.size);
    expect(sha256Hex(data)).toBe(entry.sha256);
  });

  test("each file names its package, a licence and where its corresponding source is", () => {
    for (const e of BUILTIN_MANIFEST.files) {
      expect(e.version).not.toBe("");
      expect(e.sources.length).toBeGreaterThan(0);
      for (const s of e.sources) {
        expect(s.license).toMatch(/^[A-Za-z0-9.+-]+$/);
        expect(s.snapshot).toStartWith(`https://snapshot.debian.org/package/${s.package}/`);
        expect(s.sources).toStartWith(`https://sources.debian.org/src/${s.package}/`);
      }
    }
    // GRUB's code is GPL-3, shim's BSD: a signed package's own source holds only signatures.
    const grub = BUILTIN_MANIFEST.files.find((e) => e.file === "grubx64.efi")!;
    expect(grub.sources.map((s) => [s.package, s.license])).toEqual([["grub2", "GPL-3.0-or-later"]]);
  });

  test("the signed GRUBs look for their config under /grub (the tree's grub/grub.cfg)", () => {
    for (const file of ["grubx64.efi", "grubaa64.efi"]) {
      const text = builtinBytes(file).toString("latin1");
      // The prefix is a NUL-terminated string in GRUB's built-in module area.
      expect(text).toContain("\0/grub\0");
      expect(text).not.toContain("/debian-installer/");
    }
  });

  test("an unknown name is an error, not an empty file", () => {
    expect(() => builtinBytes("nothing.efi")).toThrow("not a built-in loader");
  });

  test("arm64 files come from arm64 packages, x64 ones from amd64 or arch-all ones", () => {
    const arch = Object.fromEntries(BUILTIN_MANIFEST.files.map((e) => [e.file, e.arch]));
    expect(arch["shimaa64.efi"]).toBe("arm64");
    expect(arch["grubaa64.efi"]).toBe("arm64");
    expect(arch["shimx64.efi"]).toBe("amd64");
    expect(arch["grubx64.efi"]).toBe("amd64");
  });
});
