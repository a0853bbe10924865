/**
 * The UEFI default `pxeboot init` writes, on the built-in loaders: OVMF (EDK2's PXE, DHCP arch 7)
 * → shimx64.efi → grubx64.efi (shim loads it from beside itself: the BOOTP file field is empty,
 * so the root) → grub/grub.cfg (the signed GRUB's built-in prefix is /grub) → the host's entry
 * `pxeboot host add` made (grub/ip-… or grub/mac-…, read with configfile) → kernel + initrd.
 *
 * With Secure Boot off, and on (OVMF's Secure Boot build with Microsoft's keys: the firmware
 * checks shim, shim checks GRUB, GRUB checks the kernel — Debian's installer kernel, which is
 * signed); the kernel itself must say Secure Boot is enabled. A control run hands the same
 * firmware an unsigned loader (syslinux.efi) and must see it refused: enforcement is real.
 */
import { expect } from "bun:test";
import { firmwareTest } from "./gate.ts";
import { CLIENT_IP, CLIENT_MAC, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, servedFiles, transferSummary } from "./server-log.ts";
import { kernelArgs } from "./tree.ts";

const PROFILE = "fw";

/** Keep the profile's kernel and initrd; swap its installer arguments for the payload's. */
function payloadGrubEntry(profile: string) {
  return (cfg: string) => cfg.replace(/^(\s*linux \S+) .*$/m, (_all, linux: string) => `${linux} ${kernelArgs(profile)}`);
}

/** Server log lines at warning or above that name one of the boot's expected misses. */
function warnedMisses(log: string): string[] {
  return log
    .split("\n")
    .filter((l) => l.startsWith("{") && /"level":"(warn|error)"/.test(l) && /revocations_|shim_certificate|\.lst"|grub\/(mac|ip)-/.test(l));
}

function treeFor(host: string, profile: string, p: Awaited<ReturnType<typeof payloads>>) {
  return {
    init: { profile: PROFILE, hosts: [host] },
    copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
    edits: { [`grub/netboot-${PROFILE}.cfg`]: payloadGrubEntry(profile) },
  };
}

firmwareTest(
  "UEFI, Secure Boot off: init's default UEFI file (shim) loads the signed GRUB, which reads grub/ip-… and boots kernel + initrd",
  async () => {
    const p = await payloads();
    await withLab(treeFor(CLIENT_IP, "shim-grub", p), { bootFile: { bios: "pxelinux.0", uefi: "shimx64.efi" } }, async (lab) => {
      const boot = await lab.boot({
        name: "shim-grub",
        machine: { firmware: "uefi", memoryMiB: 512 },
        expect: ["Linux version", `${MARK.init} profile=shim-grub`, `${MARK.done} profile=shim-grub`],
        failOn: [MARK.fail, "Kernel panic", "Access Denied", "UEFI Secure Boot is enabled"],
        timeoutMs: 200_000,
      });
      console.log(`shim-grub: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["shimx64.efi", "grubx64.efi", "grub/grub.cfg", `grub/ip-${CLIENT_IP}.cfg`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      expect(servedFiles(lab)).not.toContain("syslinux.efi");
      expect(warnedMisses(lab.serverLog())).toEqual([]);
    });
  },
  260_000,
);

firmwareTest(
  "UEFI, Secure Boot on: shim → signed GRUB → the host's entry by MAC → Debian's signed kernel, which says Secure Boot is enabled",
  async () => {
    const p = await payloads();
    await withLab(treeFor(CLIENT_MAC, "secure-boot", p), { bootFile: { bios: "pxelinux.0", uefi: "shimx64.efi" } }, async (lab) => {
      const boot = await lab.boot({
        name: "secure-boot",
        machine: { firmware: "uefi", memoryMiB: 512, secureBoot: true },
        // The EFI stub says so before the kernel starts; the kernel then locks itself down for it.
        expect: ["EFI stub: UEFI Secure Boot is enabled.", "Linux version", "Kernel is locked down from EFI Secure Boot", `${MARK.init} profile=secure-boot`, `${MARK.done} profile=secure-boot`],
        failOn: [MARK.fail, "Kernel panic", "Access Denied", /Secure Boot is disabled/i, /bad shim signature|you need to load the kernel first/i],
        timeoutMs: 240_000,
      });
      console.log(`secure-boot: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["shimx64.efi", "grubx64.efi", "grub/grub.cfg", `grub/mac-${CLIENT_MAC}.cfg`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      expect(warnedMisses(lab.serverLog())).toEqual([]);
    });
  },
  300_000,
);

firmwareTest(
  "UEFI, Secure Boot on, control: the firmware refuses an unsigned loader (syslinux.efi)",
  async () => {
    const p = await payloads();
    await withLab(treeFor(CLIENT_IP, "unsigned", p), { bootFile: { bios: "pxelinux.0", uefi: "syslinux.efi" } }, async (lab) => {
      const boot = await lab.boot({
        name: "unsigned",
        machine: { firmware: "uefi", memoryMiB: 512, secureBoot: true },
        expect: ["Access Denied"],
        failOn: ["Linux version", "ldlinux.e64"],
        timeoutMs: 150_000,
      });
      console.log(`unsigned: refused after ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expect(servedFiles(lab)).toContain("syslinux.efi");
      expect(servedFiles(lab)).not.toContain("ldlinux.e64");
    });
  },
  200_000,
);
