/**
 * The seed's scenario, end to end, on the layout `pxeboot init` + `pxeboot host add` make:
 *   boot 1: pxelinux finds C0A8000B -> default.netboot-PROFILE; that "installer" (the busybox
 *           initrd) fetches Kickstart_end with busybox tftp, as a kickstart %post would;
 *           the server sees the complete fetch and removes the host's C0A8000B link.
 *   boot 2: the same machine (same MAC, same address) netboots again; pxelinux's search now ends
 *           at `default`, init's LOCALBOOT 0; the BIOS falls through to the machine's disk, whose
 *           boot sector prints LOCAL-DISK-BOOT. A second netboot into the installer fails the test.
 */
import { expect } from "bun:test";
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { firmwareTest } from "./gate.ts";
import { CLIENT_HEX, CLIENT_IP, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, servedFiles, transferSummary } from "./server-log.ts";
import { kernelArgs } from "./tree.ts";

const PROFILE = "7.2";

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

firmwareTest(
  "install-once: boot 1 netboots the profile and fetches Kickstart_end, boot 2 of the same machine boots locally",
  async () => {
    const p = await payloads();
    const tree = {
      init: { profile: PROFILE, hosts: [CLIENT_IP] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
      edits: {
        [`pxelinux.cfg/default.netboot-${PROFILE}`]: (cfg: string) =>
          cfg.replace(/^(\s*)APPEND .*$/m, `$1APPEND ${kernelArgs(`netboot-${PROFILE}`, ["pxetest.fetch=Kickstart_end"])}`),
      },
    };
    await withLab(tree, { bootFile: { bios: "pxelinux.0", uefi: "syslinux.efi" } }, async (lab) => {
      const hostEntry = join(lab.opts.root, "pxelinux.cfg", CLIENT_HEX);
      expect(exists(hostEntry)).toBe(true);
      const machine = { firmware: "bios" as const, disk: p.localDisk };

      const first = await lab.boot({
        name: "install-boot-1",
        machine,
        expect: [`${MARK.fetched} Kickstart_end size=0`, `${MARK.done} profile=netboot-${PROFILE}`],
        failOn: [MARK.fail, "Kernel panic", MARK.localDisk],
        timeoutMs: 120_000,
      });
      const afterFirst = servedFiles(lab).length;
      console.log(`install-once boot 1: ${first.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, [`pxelinux.cfg/${CLIENT_HEX}`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`, "Kickstart_end"]);
      expect(lab.serverLog()).toContain("installed: netboot entries removed");
      expect(exists(hostEntry)).toBe(false);

      const second = await lab.boot({
        name: "install-boot-2",
        machine,
        expect: ["PXELINUX 6.04", MARK.localDisk],
        failOn: [MARK.init, "Kernel panic"],
        timeoutMs: 90_000,
      });
      console.log(`install-once boot 2: ${second.elapsedMs} ms`);
      const secondBoot = servedFiles(lab).slice(afterFirst);
      expect(secondBoot).toContain("pxelinux.cfg/default");
      expect(secondBoot).not.toContain(`pxelinux.cfg/${CLIENT_HEX}`);
      expect(secondBoot).not.toContain(`vmlinuz-${PROFILE}`);
    });
  },
  300_000,
);
