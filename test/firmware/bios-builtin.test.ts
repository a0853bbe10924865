/**
 * BIOS on the tree `pxeboot init` makes from its built-in loaders: the iPXE ROM → the built-in
 * pxelinux.0 → ldlinux.c32 → pxelinux.cfg/C0A8000B (the link `pxeboot host add` made to the
 * profile) → kernel + initrd. The tree's loaders are checked against the manifest first, so
 * what booted is what the binary carries.
 */
import { expect } from "bun:test";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_MANIFEST, sha256Hex } from "../../src/loaders/builtin.ts";
import { firmwareTest } from "./gate.ts";
import { CLIENT_HEX, CLIENT_IP, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, servedFiles, transferSummary } from "./server-log.ts";
import { ipxeKernelLine, kernelArgs } from "./tree.ts";

const PROFILE = "fw";

firmwareTest(
  "BIOS iPXE ROM boots the built-in pxelinux.0 of init's tree, which follows host add's link to the profile",
  async () => {
    const p = await payloads();
    const spec = {
      init: { profile: PROFILE, hosts: [CLIENT_IP] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
      edits: { [`pxelinux.cfg/default.netboot-${PROFILE}`]: (cfg: string) => cfg.replace(/^  APPEND .*$/m, `  APPEND ${kernelArgs("builtin-pxelinux")}`) },
    };
    await withLab(spec, { bootFile: { bios: "pxelinux.0", uefi: "shimx64.efi" } }, async (lab) => {
      for (const file of ["pxelinux.0", "ldlinux.c32"]) {
        const entry = BUILTIN_MANIFEST.files.find((e) => e.file === file)!;
        expect({ file, sha256: sha256Hex(readFileSync(join(lab.opts.root, file))) }).toEqual({ file, sha256: entry.sha256 });
      }
      const boot = await lab.boot({
        name: "builtin-pxelinux",
        machine: { firmware: "bios" },
        expect: ["PXELINUX 6.04", "Linux version", `${MARK.init} profile=builtin-pxelinux`, `${MARK.done} profile=builtin-pxelinux`],
        failOn: [MARK.fail, "Kernel panic"],
        timeoutMs: 120_000,
      });
      console.log(`builtin-pxelinux: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["pxelinux.0", "ldlinux.c32", `pxelinux.cfg/${CLIENT_HEX}`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
    });
  },
  180_000,
);


firmwareTest(
  "BIOS: the iPXE ROM chains the built-in undionly.kpxe, which runs on the ROM's UNDI, then init's boot.ipxe → the host's script → kernel + initrd",
  async () => {
    const p = await payloads();
    // QEMU's only BIOS PXE stacks are iPXE ROMs, and their DHCP requests are byte for byte those
    // of undionly.kpxe (same build, user class iPXE, option 175 with the same bus id and
    // version: captured on br0), so no DHCP server can send the ROM to undionly.kpxe and the
    // chained iPXE to boot.ipxe: a real farm's vendor ROM is no iPXE and gets undionly.kpxe by
    // the snippet's !ipxe rule. So the ROM first gets a one-line boot.ipxe that chains
    // undionly.kpxe, and once undionly.kpxe has been sent, the lab puts init's own boot.ipxe back
    // for the second stage's DHCP (seconds later: undionly initialises and asks DHCP first).
    const spec = {
      init: { profile: PROFILE, hosts: [CLIENT_IP] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
      edits: { [`ipxe/netboot-${PROFILE}.ipxe`]: ipxeKernelLine(kernelArgs("builtin-undionly")) },
    };
    await withLab(spec, { bootFile: { bios: "boot.ipxe", uefi: "shimx64.efi" } }, async (lab) => {
      const root = lab.opts.root;
      const entry = BUILTIN_MANIFEST.files.find((e) => e.file === "undionly.kpxe")!;
      expect(sha256Hex(readFileSync(join(root, "undionly.kpxe")))).toBe(entry.sha256);
      const initScript = readFileSync(join(root, "boot.ipxe"), "utf8");
      const swap = (text: string) => {
        writeFileSync(join(root, ".boot.ipxe.new"), text);
        renameSync(join(root, ".boot.ipxe.new"), join(root, "boot.ipxe"));
      };
      swap("#!ipxe\n# first stage (the lab's): chain the built-in undionly.kpxe\nchain /undionly.kpxe\n");
      let restored = false;
      const watcher = (async () => {
        for (let i = 0; i < 1800 && !restored; i++) {
          if (servedFiles(lab).includes("undionly.kpxe")) {
            swap(initScript);
            restored = true;
          } else await Bun.sleep(50);
        }
      })();
      try {
        const boot = await lab.boot({
          name: "builtin-undionly",
          machine: { firmware: "bios" },
          // undionly says it found the ROM's UNDI; then its own banner, DHCP and the script chain.
          expect: ["UNDI device is PCI", /using undionly on/, "Linux version", `${MARK.init} profile=builtin-undionly`, `${MARK.done} profile=builtin-undionly`],
          failOn: [MARK.fail, "Kernel panic", /Could not boot|booting the local disk/],
          timeoutMs: 150_000,
        });
        console.log(`builtin-undionly: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      } finally {
        restored = true;
        await watcher;
      }
      expectServed(lab, ["boot.ipxe", "undionly.kpxe", "boot.ipxe", `ipxe/ip-${CLIENT_IP}.ipxe`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      expect(servedFiles(lab).filter((f) => f === "undionly.kpxe").length).toBe(1);
    });
  },
  200_000,
);
