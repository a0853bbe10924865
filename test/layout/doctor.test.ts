import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkTree, formatFindings, referencedFiles, type Finding } from "../../src/layout/doctor.ts";
import { addHosts } from "../../src/layout/hosts.ts";
import { parseHostSpec } from "../../src/layout/hostspec.ts";
import { initLayout } from "../../src/layout/init.ts";
import { cleanup, fakeSysroot, freshTree, tempDir, write } from "./fixtures.ts";

afterEach(cleanup);

const problems = (f: Finding[]) => f.filter((x) => x.severity === "problem");
const at = (f: Finding[], path: string) => f.filter((x) => x.path === path);

function withKernels(root: string, profile: string): void {
  write(root, `vmlinuz-${profile}`, "kernel");
  write(root, `initrd-${profile}.img`, "initrd");
}

describe("doctor on good trees", () => {
  test("a full init tree with a host and its kernel has no findings", async () => {
    const root = await freshTree(["7.2"]);
    withKernels(root, "7.2");
    addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    addHosts(root, parseHostSpec("aa:bb:cc:dd:ee:ff"), "7.2");
    expect(checkTree(root)).toEqual([]);
  });

  test("with only pxelinux + syslinux-common: no problems, a warning naming the UEFI package", async () => {
    const root = tempDir();
    await initLayout(root, { sysroot: fakeSysroot(["pxelinux.0", "ldlinux.c32", "libcom32.c32", "libutil.c32", "menu.c32", "chain.c32"]) });
    const f = checkTree(root);
    expect(problems(f)).toEqual([]);
    expect(formatFindings(f)).toEqual([
      expect.stringMatching(/^warning: ipxe\.efi: no UEFI boot loader.* — fix: apt-get install ipxe/),
    ]);
  });

  test("a profile nobody uses yet with no kernel is a warning, one line per missing file", async () => {
    const root = await freshTree(["7.2"]);
    const f = checkTree(root);
    expect(problems(f)).toEqual([]);
    expect(f.map((x) => x.path).sort()).toEqual(["initrd-7.2.img", "vmlinuz-7.2"]);
    expect(f[0]!.message).toContain("no host uses them yet");
  });
});

describe("doctor on broken trees", () => {
  test("missing boot loaders are problems that name the package", async () => {
    const root = tempDir();
    await initLayout(root, { sysroot: tempDir("pxeboot-empty-sys-") });
    const f = checkTree(root);
    expect(at(f, "pxelinux.0")[0]).toMatchObject({ severity: "problem" });
    expect(at(f, "pxelinux.0")[0]!.fix).toContain("apt-get install pxelinux");
    expect(at(f, "ldlinux.c32")[0]!.fix).toContain("apt-get install syslinux-common");
  });

  test("an empty (unreadable) loader counts as missing", async () => {
    const root = await freshTree([]);
    writeFileSync(join(root, "ldlinux.c32"), "");
    expect(problems(checkTree(root)).map((x) => x.path)).toEqual(["ldlinux.c32"]);
  });

  test("a host whose kernel is missing is a problem", async () => {
    const root = await freshTree(["7.2"]);
    addHosts(root, parseHostSpec("192.168.0.11"), "7.2");
    const p = problems(checkTree(root));
    expect(p.map((x) => x.path).sort()).toEqual(["initrd-7.2.img", "vmlinuz-7.2"]);
    expect(p[0]!.message).toContain("pxelinux.cfg/default.netboot-7.2");
  });

  test("dangling links, links escaping the root, bad hex and MAC names", async () => {
    const root = await freshTree(["7.2"]);
    withKernels(root, "7.2");
    symlinkSync("default.netboot-6.0", join(root, "pxelinux.cfg/C0A8000B"));
    symlinkSync("/etc/hostname", join(root, "pxelinux.cfg/C0A8000C"));
    symlinkSync("../../../../../../etc", join(root, "escape"));
    symlinkSync("default.netboot-7.2", join(root, "pxelinux.cfg/c0a8000d"));
    symlinkSync("default.netboot-7.2", join(root, "pxelinux.cfg/FFFFFFFF"));
    symlinkSync("default.netboot-7.2", join(root, "pxelinux.cfg/01-AA-BB-CC-DD-EE-FF"));
    symlinkSync("default.netboot-7.2", join(root, "pxelinux.cfg/aa:bb:cc:dd:ee:01"));
    const lines = formatFindings(checkTree(root));
    const expected = [
      /^problem: pxelinux\.cfg\/C0A8000B: -> default\.netboot-6\.0 does not exist — fix: re-point it with pxeboot host add/,
      /^problem: pxelinux\.cfg\/C0A8000C: escapes the root outside the root: \/etc\/hostname/,
      /^problem: escape: escapes the root/,
      /^problem: pxelinux\.cfg\/c0a8000d: hex IP name in lower case.* — fix: rename it to pxelinux\.cfg\/C0A8000D$/,
      /^problem: pxelinux\.cfg\/FFFFFFFF: decodes to 255\.255\.255\.255/,
      /^problem: pxelinux\.cfg\/01-AA-BB-CC-DD-EE-FF: looks like a MAC entry.* rename it to pxelinux\.cfg\/01-aa-bb-cc-dd-ee-ff$/,
      /^problem: pxelinux\.cfg\/aa:bb:cc:dd:ee:01: looks like a MAC entry.* rename it to pxelinux\.cfg\/01-aa-bb-cc-dd-ee-01$/,
    ];
    for (const re of expected) expect(lines.filter((l) => re.test(l)).length).toBe(1);
    expect(lines.length).toBe(expected.length);
  });

  test("big files are flagged for block-number rollover; leftover temp files and locks are flagged", async () => {
    const root = await freshTree([]);
    write(root, "initrd-big.img");
    truncateSync(join(root, "initrd-big.img"), 65535 * 512 + 1); // sparse: no real disk use
    write(root, "initrd-huge.img");
    truncateSync(join(root, "initrd-huge.img"), 65535 * 1468 + 1);
    write(root, "pxelinux.cfg/.C0A8000B.pxeboot-tmp-1-abc");
    write(root, ".pxeboot/locks/C0A8000B", "host 1\n");
    const f = checkTree(root);
    expect(problems(f)).toEqual([]);
    expect(at(f, "initrd-big.img")[0]!.message).toContain("blksize 512");
    expect(at(f, "initrd-huge.img")[0]!.message).toContain("blksize 1468");
    expect(at(f, "pxelinux.cfg/.C0A8000B.pxeboot-tmp-1-abc")[0]!.fix).toContain("rm ");
    expect(at(f, ".pxeboot/locks/C0A8000B")[0]!.message).toContain("lock left behind");
  });

  test("a missing root or a missing default is a problem with the init command as fix", async () => {
    expect(formatFindings(checkTree("/nonexistent/tftp"))).toEqual([
      "problem: .: /nonexistent/tftp is not a directory — fix: create the tree with: pxeboot init /nonexistent/tftp",
    ]);
    const root = await freshTree([]);
    unlinkSync(join(root, "pxelinux.cfg/default"));
    expect(problems(checkTree(root)).map((x) => x.path)).toEqual(["pxelinux.cfg/default"]);
  });

  test("syslinux.efi without ldlinux.e64, iPXE without boot.ipxe", async () => {
    const root = await freshTree([]);
    unlinkSync(join(root, "ldlinux.e64"));
    unlinkSync(join(root, "boot.ipxe"));
    expect(problems(checkTree(root)).map((x) => x.path).sort()).toEqual(["boot.ipxe", "ldlinux.e64"]);
  });
});

describe("config references", () => {
  test("pxelinux, GRUB and iPXE syntax", () => {
    expect(referencedFiles("UI menu.c32\nLABEL a\n  KERNEL vmlinuz-a quiet\n  APPEND initrd=i1.img,i2.img ks=x\nLABEL b\n  LINUX ::/k\n  INITRD /r.img", "pxelinux")).toEqual([
      "menu.c32", "vmlinuz-a", "i1.img", "i2.img", "::/k", "/r.img",
    ]);
    expect(referencedFiles("  linux /vmlinuz-7.2 ip=dhcp\n  initrd /initrd-7.2.img\n# linux /commented", "grub")).toEqual(["/vmlinuz-7.2", "/initrd-7.2.img"]);
    expect(referencedFiles("#!ipxe\nkernel /vmlinuz initrd=x\ninitrd --name x rel.img\nchain http://h/x\nchain ${x}.ipxe", "ipxe")).toEqual(["/vmlinuz", "rel.img"]);
 
    // init --http: URLs of the server DHCP named are files of this root, checked like paths.
    const http = "#!ipxe\nkernel http://${next-server}:8080/vmlinuz-7.2 initrd=initrd-7.2.img\ninitrd http://${next-server}:8080/initrd-7.2.img\nchain tftp://${next-server}/x.ipxe";
    expect(referencedFiles(http, "ipxe")).toEqual(["/vmlinuz-7.2", "/initrd-7.2.img", "/x.ipxe"]);
  });
});

test("an unreadable pxelinux.0 is a problem (skipped when running as root, which reads anything)", async () => {
  if (process.getuid?.() === 0) return;
  const root = await freshTree([]);
  chmodSync(join(root, "pxelinux.0"), 0);
  expect(problems(checkTree(root)).map((x) => x.path)).toEqual(["pxelinux.0"]);
});
