/**
 * iPXE's own TFTP client end to end, on the layout `pxeboot init` writes: DHCP hands the iPXE ROM
 * boot.ipxe; it chains ipxe/mac-….ipxe (missing), then ipxe/ip-192.168.0.11.ipxe (the link
 * `pxeboot host add` made to ipxe/netboot-PROFILE.ipxe), whose kernel and initrd lines load the
 * payload over TFTP.
 */
import { expect } from "bun:test";
import { deliveredFiles, dryRunFiles, dryRunPaths, recordedBoots } from "./boot-record.ts";
import { firmwareTest } from "./gate.ts";
import { CLIENT_IP, CLIENT_MAC, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, servedFiles, transferSummary } from "./server-log.ts";
import { kernelArgs } from "./tree.ts";

const PROFILE = "fw";

/** Keep the profile script's kernel and initrd names; swap its installer arguments for the payload's. */
function payloadKernelLine(script: string): string {
  return script.replace(/^kernel (\S+) (initrd=\S+).*$/m, (_all, kernel: string, initrd: string) => `kernel ${kernel} ${initrd} ${kernelArgs("ipxe-script")}`);
}

firmwareTest(
  "iPXE ROM runs the init layout's boot.ipxe, chains the host's profile script, loads kernel + initrd",
  async () => {
    const p = await payloads();
    const tree = {
      init: { profile: PROFILE, hosts: [CLIENT_IP] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
      edits: { [`ipxe/netboot-${PROFILE}.ipxe`]: payloadKernelLine },
    };
    await withLab(tree, { bootFile: { bios: "boot.ipxe", uefi: "syslinux.efi" } }, async (lab) => {
      const boot = await lab.boot({
        name: "ipxe-script",
        machine: { firmware: "bios" },
        expect: ["Linux version", `${MARK.init} profile=ipxe-script`, `${MARK.done} profile=ipxe-script`],
        failOn: [MARK.fail, "Kernel panic", /Could not boot|Connection timed out|booting the local disk/],
        timeoutMs: 120_000,
      });
      console.log(`ipxe-script: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["boot.ipxe", `ipxe/ip-${CLIENT_IP}.ipxe`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      expect(servedFiles(lab)).not.toContain("pxelinux.0");
      // The boot record, and the dry run agreeing with it file for file (the last boot: the only one).
      const boots = await recordedBoots(lab, (b) => b.at(-1)?.verdict === "booted");
      expect(boots.at(-1)?.verdict).toBe("booted");
      const chain = dryRunFiles(lab, ["--mac", CLIENT_MAC, "--ipxe"]);
      expect(dryRunPaths(chain)).toEqual(deliveredFiles(boots.at(-1)!));
      expect(chain.every((l) => /ok \(\d+ B\)$/.test(l))).toBe(true);
    });
  },
  180_000,
);
