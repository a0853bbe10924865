/**
 * The firmware harness's own pure parts, checked without QEMU or root (these run in every
 * `bun test`): the images it hands to firmware and the log it reads back.
 */
import { describe, expect, test } from "bun:test";
import { plainConsole } from "./harness.ts";
import { statSync, rmSync } from "node:fs";
import { localDiskImage, MARK, parseLdd, scratchDir, ubootScriptImage } from "./payload.ts";
import { parseServerLog } from "./server-log.ts";
import { DEBIAN_PACKAGES, isStaticElf } from "./tools.ts";
import { unsearchableAncestors } from "./tree.ts";

describe("ubootScriptImage", () => {
  const script = "echo hi\nzboot 0x2000000\n";
  const img = ubootScriptImage(script, "t");
  const h = new DataView(img.buffer, img.byteOffset, img.byteLength);

  test("header fields are those mkimage -A x86 -O linux -T script -C none writes", () => {
    expect(h.getUint32(0)).toBe(0x27051956);
    expect(h.getUint32(12)).toBe(8 + script.length);
    expect([img[28], img[29], img[30], img[31]]).toEqual([5, 3, 6, 0]);
    expect(img.length).toBe(64 + 8 + script.length);
  });

  test("both CRCs verify the way U-Boot checks them", () => {
    const data = img.subarray(64);
    expect(h.getUint32(24)).toBe(Bun.hash.crc32(data));
    const header = img.slice(0, 64);
    new DataView(header.buffer).setUint32(4, 0);
    expect(h.getUint32(4)).toBe(Bun.hash.crc32(header));
  });

  test("the data is a one-entry size table, then the script", () => {
    expect(h.getUint32(64)).toBe(script.length);
    expect(h.getUint32(68)).toBe(0);
    expect(new TextDecoder().decode(img.subarray(72))).toBe(script);
  });
});

describe("localDiskImage", () => {
  const disk = localDiskImage();
  test("is a bootable MBR whose code points SI at the marker", () => {
    expect([disk[510], disk[511]]).toEqual([0x55, 0xaa]);
    expect(disk[5]).toBe(0xbe); // mov si, imm16
    const si = disk[6]! | (disk[7]! << 8);
    const at = si - 0x7c00;
    expect(new TextDecoder().decode(disk.subarray(at, at + MARK.localDisk.length))).toBe(MARK.localDisk);
  });
});

describe("parseServerLog", () => {
  test("reads pxeboot's JSON transfer lines and dnsmasq's sent lines", () => {
    const text = [
      '{"level":"info","msg":"pxeboot 0.1.0 serving /r","address":"192.168.0.1"}',
      '{"level":"info","msg":"transfer ok","client":"192.168.0.11:49154","file":"pxelinux.cfg/C0A8000B","options":"tsize=147,blksize=1408","bytes":147,"ms":1,"outcome":"ok"}',
      '{"level":"debug","msg":"not found","file":"pxelinux.cfg/01-52-54-00-12-34-56","outcome":"error","code":1}',
      "dnsmasq-tftp[81]: sent /r/vmlinuz to 192.168.0.11",
      '{"level":"info","msg":"transfer ok","fi',
    ].join("\n");
    const lines = parseServerLog(text, "/r");
    expect(lines.map((l) => [l.file, l.outcome])).toEqual([
      ["pxelinux.cfg/C0A8000B", "ok"],
      ["pxelinux.cfg/01-52-54-00-12-34-56", "error"],
      ["vmlinuz", "ok"],
    ]);
    expect(lines[0]!.options).toBe("tsize=147,blksize=1408");
  });
});

describe("plainConsole", () => {
  test("drops terminal escapes, carriage returns and backspaces", () => {
    expect(plainConsole("\x1bc\x1b[?7l\x1b[2JPXELINUX 6.04\r\n\x1b[0;1miPXE\x1b[0m ok\b\b")).toBe("PXELINUX 6.04\niPXE ok");
  });
});

describe("isStaticElf", () => {
  function elf(types: number[]): Uint8Array {
    const b = new Uint8Array(64 + 56 * types.length);
    const v = new DataView(b.buffer);
    v.setUint32(0, 0x7f454c46);
    b[4] = 2;
    v.setBigUint64(0x20, 64n, true);
    v.setUint16(0x36, 56, true);
    v.setUint16(0x38, types.length, true);
    types.forEach((t, i) => v.setUint32(64 + i * 56, t, true));
    return b;
  }
  test("an executable without PT_INTERP is static, one with it is not", () => {
    expect(isStaticElf(elf([1, 1, 4]))).toBe(true);
    expect(isStaticElf(elf([6, 3, 1]))).toBe(false);
    expect(isStaticElf(new TextEncoder().encode("#!/bin/sh\n"))).toBe(false);
  });
});

describe("packages.txt", () => {
  test("lists exactly the Debian packages the requirements name (.ci/run installs from it)", async () => {
    const text = await Bun.file(new URL("./packages.txt", import.meta.url)).text();
    const listed = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    expect([...listed].sort()).toEqual([...DEBIAN_PACKAGES].sort());
    // busybox conflicts with busybox-static, whose static binary the initramfs needs.
    expect(listed).not.toContain("busybox");
  });
});

describe("parseLdd", () => {
  test("takes every library path and the loader, skips the vDSO", () => {
    const text = [
      "\tlinux-vdso.so.1 (0x00007ffd1b3f2000)",
      "\tlibcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 (0x00007f26ad17b000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f26acf7a000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f26ad283000)",
      "",
    ].join("\n");
    expect(parseLdd(text)).toEqual({
      files: ["/lib/x86_64-linux-gnu/libcurl.so.4", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"],
    });
  });
  test("a library ldd cannot find means no curl in the initrd", () => {
    const r = parseLdd("\tlibcurl.so.4 => not found\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f26ad283000)\n");
    expect("missing" in r && r.missing).toContain("libcurl.so.4 => not found");
  });
});

describe("reachability for a server running as nobody", () => {
  test("scratch directories are 0755, not mkdtemp's 0700", () => {
    const dir = scratchDir("pxeboot-helpers-");
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o755);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("names every directory above the root that others cannot search", () => {
    const modes: Record<string, number> = { "/": 0o40755, "/root": 0o40700, "/root/fw": 0o40750, "/root/fw/t": 0o40755 };
    expect(unsearchableAncestors("/root/fw/t/pxeboot-root-x", (d) => modes[d]!)).toEqual(["/root (mode 0700)", "/root/fw (mode 0750)"]);
    expect(unsearchableAncestors("/tmp/pxeboot-root-x", () => 0o41777)).toEqual([]);
  });
});
