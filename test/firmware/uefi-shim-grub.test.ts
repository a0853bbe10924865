/**
 * The UEFI default `pxeboot init` writes, on the built-in loaders: OVMF (EDK2's PXE, DHCP arch 7)
 * → shimx64.efi → grubx64.efi (shim loads it from beside itself: the BOOTP file field is empty,
 * so the root) → grub/grub.cfg (the signed GRUB's built-in prefix is /grub) → the host's entry
 * `pxeboot host add` made (grub/ip-… or grub/mac-…, read with configfile) → kernel + initrd.
 *
 * With Secure Boot off, and on (OVMF's Secure Boot build with Microsoft's keys: the firmware
 * checks shim, shim checks GRUB, GRUB checks the kernel — Debian's installer kernel, which is
 * signed); the kernel itself must say Secure Boot is enabled. That boot takes its DHCP from
 * dnsmasq running the snippet `pxeboot init` prints. A control run hands the same
 * firmware an unsigned loader (syslinux.efi) and must see it refused: enforcement is real.
 *
 * Install-once under Secure Boot: boot 1 takes the host's GRUB entry; the marker fetch (the
 * README's curl line, sent from the machine's address while it is off) makes the server remove
 * the host's entries; boot 2 reads grub.cfg, finds no entry, and GRUB's `exit` returns the
 * machine to the firmware's next boot option.
 */
import { expect } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { firmwareTest } from "./gate.ts";
import { deliveredFiles, dryRunFiles, dryRunPaths, recordedBoots } from "./boot-record.ts";
import { CLIENT_IP, CLIENT_MAC, SERVER_IP, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, servedFiles, transferSummary } from "./server-log.ts";
import { initDnsmasqSnippet, kernelArgs } from "./tree.ts";

const PROFILE = "fw";
const MARKER = "Kickstart_end";
/**
 * GRUB took grub.cfg's fall-through entry and its `exit` handed the machine back to the
 * firmware, whose boot manager goes on to its next boot option (OVMF with no disk: its setup).
 */
const LEFT_GRUB = /Booting `Local disk'[\s\S]*BdsDxe: loading Boot/;

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(50);
  }
  return true;
}

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
      // The boot record, and the dry run agreeing with it file for file.
      const boots = await recordedBoots(lab, (b) => b.at(-1)?.verdict === "booted");
      expect(boots.map((b) => b.verdict)).toEqual(["booted"]);
      const chain = dryRunFiles(lab, ["--arch", "efi64"]);
      expect(dryRunPaths(chain)).toEqual(deliveredFiles(boots[0]!));
      expect(warnedMisses(lab.serverLog())).toEqual([]);
    });
  },
  260_000,
);

firmwareTest(
  "UEFI, Secure Boot on: shim → signed GRUB → the host's entry by MAC → Debian's signed kernel, which says Secure Boot is enabled",
  async () => {
    const p = await payloads();
    // DHCP as the admin would run it: dnsmasq with the snippet init prints.
    const dhcp = { bootFile: { bios: "unused", uefi: "unused" }, dnsmasqSnippet: initDnsmasqSnippet() };
    await withLab(treeFor(CLIENT_MAC, "secure-boot", p), dhcp, async (lab) => {
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

firmwareTest(
  "UEFI, Secure Boot on, install-once: boot 1 takes the host's GRUB entry, the marker fetch removes it, boot 2 takes grub.cfg's local-disk entry (exit)",
  async () => {
    const p = await payloads();
    await withLab(treeFor(CLIENT_IP, "install-sb", p), { bootFile: { bios: "pxelinux.0", uefi: "shimx64.efi" } }, async (lab) => {
      const entry = join(lab.opts.root, `grub/ip-${CLIENT_IP}.cfg`);
      expect(existsSync(entry)).toBe(true);
      const machine = { firmware: "uefi" as const, memoryMiB: 512, secureBoot: true };
      await lab.boot({
        name: "install-sb-1",
        machine,
        expect: ["EFI stub: UEFI Secure Boot is enabled.", `${MARK.done} profile=install-sb`],
        failOn: [MARK.fail, "Kernel panic", "Access Denied"],
        timeoutMs: 240_000,
      });
      const afterFirst = servedFiles(lab).length;
      // The installer's last step, as the machine's address: the README's curl line.
      lab.fromClient((ip) => ["curl", "-s", "--interface", ip, `tftp://${SERVER_IP}/${MARKER}`, "-o", "/dev/null"]);
      const removed = await waitUntil(() => !existsSync(entry), 10_000);
      expect(removed).toBe(true);
      // The server logs the switch once its boot-control process answered, just after the entry is gone.
      expect(await waitUntil(() => lab.serverLog().includes("installed: netboot entries removed"), 5_000)).toBe(true);
      const second = await lab.boot({
        name: "install-sb-2",
        machine,
        expect: [LEFT_GRUB],
        failOn: [MARK.init, "Kernel panic", "Access Denied"],
        timeoutMs: 150_000,
      });
      console.log(`install-sb boot 2: ${second.elapsedMs} ms\n${transferSummary(lab)}`);
      const secondBoot = servedFiles(lab).slice(afterFirst);
      expect(secondBoot).toContain("grub/grub.cfg");
      expect(secondBoot).not.toContain(`grub/ip-${CLIENT_IP}.cfg`);
      expect(secondBoot).not.toContain(`vmlinuz-${PROFILE}`);
    });
  },
  420_000,
);

firmwareTest(
  "UEFI, Secure Boot on, control: GRUB refuses a kernel whose signature no longer matches (one byte changed)",
  async () => {
    const p = await payloads();
    const tampered = join(p.dir, "vmlinuz-tampered");
    const kernel = readFileSync(p.kernel);
    // A byte in the middle of the image: inside what the Authenticode signature covers.
    const middle = kernel.length >> 1;
    kernel[middle] = kernel[middle]! ^ 0xff;
    writeFileSync(tampered, kernel);
    const tree = treeFor(CLIENT_IP, "tampered", p);
    tree.copies[`vmlinuz-${PROFILE}`] = tampered;
    await withLab(tree, { bootFile: { bios: "pxelinux.0", uefi: "shimx64.efi" } }, async (lab) => {
      const boot = await lab.boot({
        name: "tampered",
        machine: { firmware: "uefi", memoryMiB: 512, secureBoot: true },
        expect: ["bad shim signature"],
        failOn: ["Linux version", MARK.init],
        timeoutMs: 150_000,
      });
      console.log(`tampered: refused after ${boot.elapsedMs} ms`);
      expectServed(lab, ["shimx64.efi", "grubx64.efi", `grub/ip-${CLIENT_IP}.cfg`, `vmlinuz-${PROFILE}`]);
    });
  },
  200_000,
);
