/**
 * UEFI machine (OVMF, EDK2's own PXE/TFTP client, which asks for windowsize): DHCP with client
 * arch 7 → syslinux.efi → ldlinux.e64 → the same pxelinux.cfg search and files as BIOS machines.
 */
import { expect } from "bun:test";
import { firmwareTest } from "./gate.ts";
import { CLIENT_HEX, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, grantedOptions, servedFiles, transferSummary } from "./server-log.ts";
import { kernelArgs, pxelinuxConfig } from "./tree.ts";
import { deliveredFiles, recordedBoots } from "./boot-record.ts";

firmwareTest(
  "OVMF UEFI boots syslinux.efi, which reads pxelinux.cfg by hex IP and boots kernel + initrd",
  async () => {
    const p = await payloads();
    const tree = {
      copies: { "initrd.img": p.initrd.path },
      files: {
        [`pxelinux.cfg/${CLIENT_HEX}`]: pxelinuxConfig({ label: "uefi", kernel: "vmlinuz", initrd: "initrd.img", append: kernelArgs("uefi-hexip") }),
        "pxelinux.cfg/default": pxelinuxConfig({ label: "fallback", kernel: "vmlinuz", initrd: "initrd.img", append: kernelArgs("default") }),
      },
    };
    // Four workers: the boot record must come out whole whichever processes served its files.
    await withLab(tree, { bootFile: { bios: "pxelinux.0", uefi: "syslinux.efi" }, serverArgs: ["--workers", "4"] }, async (lab) => {
      const boot = await lab.boot({
        name: "uefi-hexip",
        machine: { firmware: "uefi", memoryMiB: 512 },
        expect: ["Linux version", `${MARK.init} profile=uefi-hexip`, `${MARK.done} profile=uefi-hexip`],
        failOn: [MARK.fail, "Kernel panic", "profile=default"],
        timeoutMs: 150_000,
      });
      console.log(`uefi-hexip: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["syslinux.efi", "ldlinux.e64", `pxelinux.cfg/${CLIENT_HEX}`, "vmlinuz", "initrd.img"]);
      expect(servedFiles(lab)).not.toContain("pxelinux.cfg/default");
      // EDK2 asks for windowsize 4: its NBP download is the firmware test of the windowed send path.
      expect(grantedOptions(lab, "syslinux.efi")).toEqual({ blksize: "1468", windowsize: "4" });
      const boots = await recordedBoots(lab, (b) => b.at(-1)?.verdict === "booted");
      expect(boots.map((b) => b.verdict)).toEqual(["booted"]);
      expect(deliveredFiles(boots[0]!)).toEqual(servedFiles(lab));
    });
  },
  200_000,
);
