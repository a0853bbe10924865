/**
 * How a tree's loaders stand against the built-in ones (`pxeboot loaders TREE`, doctor): match,
 * differ, missing; older by SBAT generation or syslinux version; syslinux modules from another
 * build than the tree's ldlinux.c32.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { initLayout } from "../../src/layout/init.ts";
import { checkTree } from "../../src/layout/doctor.ts";
import { BUILTIN_MANIFEST, builtinBytes } from "../../src/loaders/builtin.ts";
import { olderSbat, sbatGenerations } from "../../src/loaders/sbat.ts";
import { builtinSyslinuxBuild, compareTreeLoaders, mismatchedSyslinuxFiles, olderThan, syslinuxVersion } from "../../src/loaders/tree-loaders.ts";
import { cleanup, tempDir } from "../layout/fixtures.ts";

afterEach(cleanup);

const MAIN = resolve(import.meta.dir, "../../src/cli/main.ts");

async function pxeboot(...args: string[]) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, NO_COLOR: "1" } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** A PE-ish blob carrying an SBAT CSV, as shim and GRUB do in their .sbat section. */
function withSbat(...rows: string[]): Buffer {
  return Buffer.concat([Buffer.from("MZ\0\0junk\0"), Buffer.from(["sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md", ...rows, ""].join("\n")), Buffer.from("\0more")]);
}

async function builtinTree(): Promise<string> {
  const root = tempDir();
  await initLayout(root, {});
  return root;
}

describe("SBAT generations", () => {
  test("read from the built-in shim and GRUB", () => {
    expect(sbatGenerations(builtinBytes("grubx64.efi")).get("grub")).toBe(5);
    expect(sbatGenerations(builtinBytes("shimx64.efi")).get("shim")).toBe(4);
    expect(sbatGenerations(builtinBytes("pxelinux.0")).size).toBe(0);
  });

  test("a lower generation of a component is older; a higher or unknown one is not", () => {
    const builtin = sbatGenerations(builtinBytes("grubx64.efi"));
    expect(olderSbat(sbatGenerations(withSbat("grub,3,Free Software Foundation,grub,2.06,x")), builtin)).toEqual(["grub 3 < 5"]);
    expect(olderSbat(sbatGenerations(withSbat("grub,6,Free Software Foundation,grub,2.12,x")), builtin)).toEqual([]);
    expect(olderSbat(sbatGenerations(withSbat("grub.fedora,1,Fedora,grub2,2.06,x")), builtin)).toEqual([]);
  });
});

describe("syslinux versions", () => {
  test("pxelinux.0 and syslinux.efi say theirs; an older one is older", () => {
    expect(syslinuxVersion(builtinBytes("pxelinux.0"))).toEqual([6, 4]);
    expect(syslinuxVersion(builtinBytes("syslinux.efi"))).toEqual([6, 4]);
    expect(olderThan(Buffer.from("\0PXELINUX 6.03 PXE 20171017\0"), builtinBytes("pxelinux.0"))).toBe("syslinux 6.03 < 6.04");
    expect(olderThan(Buffer.from("\0PXELINUX 6.04 PXE 20200816\0"), builtinBytes("pxelinux.0"))).toBeUndefined();
  });
});

describe("a tree against the built-in loaders", () => {
  test("init's tree matches; a changed file differs, a removed one is missing", async () => {
    const root = await builtinTree();
    expect(compareTreeLoaders(root).every((l) => l.state === "match")).toBe(true);
    writeFileSync(join(root, "grubx64.efi"), withSbat("grub,3,Free Software Foundation,grub,2.06,x"));
    rmSync(join(root, "snponly.efi"));
    const byFile = Object.fromEntries(compareTreeLoaders(root).map((l) => [l.entry.file, l]));
    expect(byFile["grubx64.efi"]!.state).toBe("differs");
    expect(byFile["grubx64.efi"]!.older).toBe("SBAT grub 3 < 5");
    expect(byFile["snponly.efi"]!.state).toBe("missing");
  });

  test("syslinux files from another build than ldlinux.c32 are named; an unknown ldlinux.c32 cannot be judged", async () => {
    const root = await builtinTree();
    expect(mismatchedSyslinuxFiles(root, [builtinSyslinuxBuild()])).toEqual([]);
    writeFileSync(join(root, "menu.c32"), "a menu.c32 from syslinux 4\n");
    expect(mismatchedSyslinuxFiles(root, [builtinSyslinuxBuild()]).map((m) => m.file)).toEqual(["menu.c32"]);
    writeFileSync(join(root, "ldlinux.c32"), "an ldlinux.c32 of no known build\n");
    expect(mismatchedSyslinuxFiles(root, [builtinSyslinuxBuild()])).toEqual([]);
  });

  test("doctor: a mismatched module is a problem, an older GRUB a warning, both fixed by loaders --update", async () => {
    const root = await builtinTree();
    writeFileSync(join(root, "libcom32.c32"), "a libcom32.c32 from syslinux 4\n");
    writeFileSync(join(root, "grubx64.efi"), withSbat("grub,3,Free Software Foundation,grub,2.06,x"));
    const findings = checkTree(root, { sysroot: tempDir() });
    const libcom32 = findings.find((f) => f.path === "libcom32.c32")!;
    expect(libcom32.severity).toBe("problem");
    expect(libcom32.message).toContain("not from the syslinux build of ldlinux.c32 (the built-in syslinux");
    const grub = findings.find((f) => f.path === "grubx64.efi")!;
    expect(grub.severity).toBe("warning");
    expect(grub.message).toBe(`older than the built-in grub-efi-amd64-signed ${BUILTIN_MANIFEST.files.find((e) => e.file === "grubx64.efi")!.version} (SBAT grub 3 < 5)`);
    expect(grub.fix).toBe(`pxeboot loaders ${root} --update`);

    const listed = await pxeboot("loaders", root);
    expect(listed.code).toBe(1);
    expect(listed.stdout).toMatch(/differs\s+grubx64\.efi\s+differs from the built-in grub-efi-amd64-signed .*: older \(SBAT grub 3 < 5\)/);
    expect(listed.stdout).toContain("13 match, 2 differ, 0 missing");
    const updated = await pxeboot("loaders", root, "--update");
    expect(updated.code).toBe(0);
    expect(updated.stdout).toContain("replaced  grubx64.efi");
    expect(readFileSync(join(root, "grubx64.efi")).equals(builtinBytes("grubx64.efi"))).toBe(true);
    expect(checkTree(root, { sysroot: tempDir() }).filter((f) => f.path === "libcom32.c32" || f.path === "grubx64.efi")).toEqual([]);
  });

  test("doctor: shim without its GRUB, and GRUB without grub/grub.cfg, are problems", async () => {
    const root = await builtinTree();
    rmSync(join(root, "grubaa64.efi"));
    rmSync(join(root, "grub/grub.cfg"));
    const findings = checkTree(root, { sysroot: tempDir() });
    expect(findings.find((f) => f.path === "grubaa64.efi")?.message).toBe("shimaa64.efi is present but the GRUB it loads is not: UEFI clients given shimaa64.efi stop there");
    expect(findings.find((f) => f.path === "grub/grub.cfg")?.severity).toBe("problem");
  });

  test("loaders --licenses names each source package once with its licence and source", async () => {
    const r = await pxeboot("loaders", "--licenses");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("grub2 2.06-13+deb12u2: GPL-3.0-or-later");
    expect(r.stdout).toContain("https://snapshot.debian.org/package/grub2/2.06-13%2Bdeb12u2/");
    expect(r.stdout.match(/^  syslinux /gm)!.length).toBe(1);
    const bad = await pxeboot("loaders", "--update");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--update needs the tree");
  });
});
