/**
 * BIOS machine, iPXE option ROM as its PXE firmware: DHCP → pxelinux.0 → ldlinux.c32 → the
 * pxelinux.cfg search (01-MAC misses, C0A8000B hits) → kernel + initrd → /init's marker.
 * `default` exists and boots a different profile, so landing there instead would be caught.
 */
import { expect } from "bun:test";
import { firmwareTest } from "./gate.ts";
import { CLIENT_HEX, CLIENT_IP, CLIENT_MAC, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, grantedOptions, servedFiles, transferSummary } from "./server-log.ts";
import { kernelArgs, pxelinuxConfig } from "./tree.ts";
import { HOST } from "./tools.ts";
import { deliveredFiles, dryRunFiles, dryRunPaths, recordedBoots } from "./boot-record.ts";

firmwareTest(
  "BIOS iPXE ROM boots pxelinux, which picks pxelinux.cfg by hex IP and boots kernel + initrd",
  async () => {
    const p = await payloads();
    const tree = {
      copies: { "initrd.img": p.initrd.path },
      files: {
        [`pxelinux.cfg/${CLIENT_HEX}`]: pxelinuxConfig({ label: "hexip", kernel: "vmlinuz", initrd: "initrd.img", append: kernelArgs("hexip") }),
        "pxelinux.cfg/default": pxelinuxConfig({ label: "fallback", kernel: "vmlinuz", initrd: "initrd.img", append: kernelArgs("default") }),
      },
    };
    await withLab(tree, { bootFile: { bios: "pxelinux.0", uefi: "syslinux.efi" } }, async (lab) => {
      const boot = await lab.boot({
        name: "bios-hexip",
        machine: { firmware: "bios" },
        expect: ["PXELINUX 6.04", "Linux version", `${MARK.init} profile=hexip`, `${MARK.done} profile=hexip`],
        failOn: [MARK.fail, "Kernel panic", "profile=default"],
        timeoutMs: 120_000,
      });
      console.log(`bios-hexip: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["pxelinux.0", "ldlinux.c32", `pxelinux.cfg/${CLIENT_HEX}`, "vmlinuz", "initrd.img"]);
      expect(servedFiles(lab)).not.toContain("pxelinux.cfg/default");
      // Granted as asked (iPXE 1432, pxelinux 1408), with the size: without tsize iPXE gets slow.
      expect(grantedOptions(lab, "pxelinux.0")).toEqual({ blksize: "1432", tsize: String(Bun.file(HOST.pxelinux).size) });
      expect(grantedOptions(lab, "vmlinuz")).toEqual({ tsize: String(Bun.file(p.kernel).size), blksize: "1408" });
      // The boot record: one boot, booted, its delivered files the ones the server log shows, in order.
      const boots = await recordedBoots(lab, (b) => b.at(-1)?.verdict === "booted");
      expect(boots.length).toBe(1);
      expect(boots[0]!.verdict).toBe("booted");
      expect(deliveredFiles(boots[0]!)).toEqual(servedFiles(lab));
      // The dry run agrees with the real boot: the files it says the boot fetches are the ones delivered.
      const chain = dryRunFiles(lab, ["--mac", CLIENT_MAC]);
      expect(dryRunPaths(chain)).toEqual(deliveredFiles(boots[0]!));
      expect(chain.every((l) => /ok \(\d+ B\)$/.test(l))).toBe(true);
    });
  },
  180_000,
);
