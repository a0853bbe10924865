/**
 * Which names steer a boot (files/boot-control.ts): the loaders' directories wherever they sit,
 * per-host and loader config names in any directory, iPXE scripts and boot programs, whatever
 * their case; and every name the layout itself writes or a loader searches for is among them.
 */
import { describe, expect, test } from "bun:test";
import { bootControlReason, controlDirOf, controlNameOf } from "../../src/files/boot-control.ts";
import { hexIpSearch, parseIPv4 } from "../../src/layout/hexip.ts";
import { LOADER_FILES } from "../../src/layout/loaders.ts";
import { ipEntryNames, lockFile, macEntryNames, MAC_DIR, profileFile, REMOVED_DIR, stateFile, type Loader } from "../../src/layout/paths.ts";

describe("boot-control names", () => {
  const fenced: [string, string][] = [
    ["pxelinux.cfg/default", "in pxelinux.cfg/"],
    ["pxelinux.cfg", "in pxelinux.cfg/"],
    ["PXELINUX.CFG/01-aa-bb-cc-dd-ee-ff", "in pxelinux.cfg/"],
    ["debian-installer/amd64/pxelinux.cfg/default", "in pxelinux.cfg/"],
    ["Grub/x86_64-efi/normal.mod", "in grub/"],
    ["IPXE/anything", "in ipxe/"],
    [".pxeboot/macs/127.0.0.1", "in .pxeboot/"],
    ["01-aa-bb-cc-dd-ee-ff", "pxelinux's per-host name for a hardware address"],
    ["dumps/01-AA-BB-CC-DD-EE-FF", "pxelinux's per-host name for a hardware address"],
    ["20-80-00-02-08-fe-80-00-00-00-00-00-00-00-02-c9-03-00-02-6f-91", "pxelinux's per-host name for a hardware address"],
    ["4c4c4544-0042-3510-8051-b4c04f4a4d32", "pxelinux's per-host name for a machine UUID"],
    ["C0A8000B", "pxelinux's name for an IPv4 address or subnet (hex)"],
    ["c0a8", "pxelinux's name for an IPv4 address or subnet (hex)"],
    ["aa:bb:cc:dd:ee:ff", "a per-host name for a MAC"],
    ["52-54-00-12-34-56.cfg", "a per-host name for a MAC"],
    ["525400123456.conf", "a per-host name for a MAC"],
    ["mac-aa:bb:cc:dd:ee:ff.cfg", "a per-host name for a MAC"],
    ["ip-10.0.0.5.cfg", "a per-host name for an IPv4 address"],
    ["grub.cfg", "GRUB's config name"],
    ["grub.cfg-01-aa-bb-cc-dd-ee-ff", "GRUB's config name"],
    ["GRUB.CFG-C0A8000B", "GRUB's config name"],
    ["autoexec.ipxe", "an iPXE script"],
    ["menu/node17.iPXE", "an iPXE script"],
    ["shimx64.efi", "a boot program"],
    ["grubnetx64.efi.signed", "a boot program"],
    ["lpxelinux.0", "a boot program"],
    ["vesamenu.c32", "a boot program"],
    ["ldlinux.e64", "a boot program"],
    ["undionly.kpxe", "a boot program"],
    ["ipxe.lkrn", "a boot program"],
  ];
  test.each(fenced)("%s: %s", (rel, why) => {
    expect(bootControlReason(rel)).toBe(why);
  });

  const free = [
    "uploads/host1.dump",
    "switch1.cfg",
    "core-sw-confg",
    "10.0.0.5.cfg",
    "192.168.0.11",
    "backup-2026-12-07.tar.gz",
    "uploads/default",
    "pxelinux.cfg.bak/default",
    "grubby/notes",
    "my-ipxe-notes.txt",
    "grub.cfg.txt",
    "messages.0",
    "Kickstart_end",
    "vmlinuz-7.2",
    "uploads/g",
    "uploads/123456789",
  ];
  test.each(free)("%s: not boot control", (rel) => {
    expect(bootControlReason(rel)).toBeUndefined();
  });

  test("directories by name only: a directory called like a per-host file is no boot-control directory", () => {
    expect(controlDirOf("uploads/C0A8000B")).toBeUndefined();
    expect(controlNameOf("C0A8000B")).toBeDefined();
  });
});

describe("everything the layout writes or a loader searches is fenced", () => {
  const ip = parseIPv4("192.168.0.11")!;
  const mac = "52:54:00:aa:bb:cc";
  const names = [
    ...ipEntryNames(ip).map((e) => e.path),
    ...macEntryNames(mac).map((e) => e.path),
    ...hexIpSearch(ip).map((n) => `pxelinux.cfg/${n}`),
    ...(["pxelinux", "grub", "ipxe"] as Loader[]).map((l) => profileFile(l, "7.2")),
    "pxelinux.cfg/default",
    "grub/grub.cfg",
    "grub/grub.cfg-01-52-54-00-aa-bb-cc",
    "boot.ipxe",
    ...LOADER_FILES.map((l) => l.dest),
    stateFile("C0A8000B"),
    lockFile("C0A8000B"),
    `${REMOVED_DIR}/C0A8000B`,
    `${MAC_DIR}/192.168.0.11`,
  ];
  test.each(names)("%s", (rel) => {
    expect(bootControlReason(rel)).toBeDefined();
  });

  test("per-host names outside their directory too", () => {
    for (const rel of [...ipEntryNames(ip), ...macEntryNames(mac)].map((e) => e.path)) {
      const base = rel.slice(rel.lastIndexOf("/") + 1);
      expect([base, controlNameOf(base)]).toEqual([base, expect.any(String)]);
    }
  });
});
