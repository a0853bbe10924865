/**
 * BIOS on the tree `pxeboot init` makes from its built-in loaders: the iPXE ROM → the built-in
 * pxelinux.0 → ldlinux.c32 → pxelinux.cfg/C0A8000B (the link `pxeboot host add` made to the
 * profile) → kernel + initrd. The tree's loaders are checked against the manifest first, so
 * what booted is what the binary carries.
 */
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_MANIFEST, sha256Hex } from "../../src/loaders/builtin.ts";
import { firmwareTest } from "./gate.ts";
import { CLIENT_HEX, CLIENT_IP, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, transferSummary } from "./server-log.ts";
import { kernelArgs } from "./tree.ts";

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
