/**
 * arm64 UEFI on the tree `pxeboot init` makes: AAVMF (EDK2 for arm64, DHCP client arch 11) →
 * the built-in shimaa64.efi → grubaa64.efi → grub/grub.cfg → the host's grub/ip-… entry → Debian's
 * arm64 installer kernel with an arm64 busybox initrd → its markers. With Secure Boot on as well
 * (AAVMF with Microsoft's keys): the kernel is signed, and its EFI stub says Secure Boot is on.
 */
import { expect } from "bun:test";
import { firmwareTest } from "./gate.ts";
import { CLIENT_IP, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, transferSummary } from "./server-log.ts";
import { HOST } from "./tools.ts";
import { initDnsmasqSnippet } from "./tree.ts";

const PROFILE = "arm";

function treeFor(profile: string, initrd: string) {
  return {
    init: { profile: PROFILE, hosts: [CLIENT_IP] },
    copies: { [`vmlinuz-${PROFILE}`]: HOST.arm64Kernel, [`initrd-${PROFILE}.img`]: initrd },
    edits: {
      [`grub/netboot-${PROFILE}.cfg`]: (cfg: string) =>
        cfg.replace(/^(\s*linux \S+) .*$/m, (_all, linux: string) => `${linux} console=ttyAMA0 loglevel=6 panic=-1 pxetest.profile=${profile}`),
    },
  };
}

for (const secureBoot of [false, true]) {
  const name = secureBoot ? "arm64-secure-boot" : "arm64";
  firmwareTest(
    `arm64 UEFI (DHCP arch 11), Secure Boot ${secureBoot ? "on" : "off"}: shimaa64.efi → grubaa64.efi → the host's entry → arm64 kernel + initrd`,
    async () => {
      const p = await payloads();
      const initrd = await p.arm64Initrd();
      // Secure Boot off: DHCP from dnsmasq running the snippet init prints (its arch 11 rule).
      const dhcp = secureBoot ? { bootFile: { bios: "pxelinux.0", uefi: "shimx64.efi", arm64: "shimaa64.efi" } } : { bootFile: { bios: "unused", uefi: "unused" }, dnsmasqSnippet: initDnsmasqSnippet() };
      await withLab(treeFor(name, initrd.path), dhcp, async (lab) => {
        const stub = "EFI stub: UEFI Secure Boot is enabled.";
        const boot = await lab.boot({
          name,
          machine: { firmware: "arm64", memoryMiB: 1024, secureBoot },
          expect: ["Linux version", `${MARK.init} profile=${name} arch=aarch64`, `${MARK.done} profile=${name}`, ...(secureBoot ? [stub] : [])],
          failOn: [MARK.fail, "Kernel panic", "Access Denied", ...(secureBoot ? [] : [stub])],
          timeoutMs: 360_000,
        });
        console.log(`${name}: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
        expectServed(lab, ["shimaa64.efi", "grubaa64.efi", "grub/grub.cfg", `grub/ip-${CLIENT_IP}.cfg`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      });
    },
    420_000,
  );
}
