/**
 * The seed's scenario, end to end, on the layout `pxeboot init --owner nobody` + `pxeboot host add`
 * make, served by `pxeboot serve --user nobody` as the README's systemd unit runs it:
 *   boot 1: pxelinux finds C0A8000B -> default.netboot-PROFILE; that "installer" (the busybox
 *           initrd with the host's curl added) fetches Kickstart_end with the command the
 *           product documents for a Kickstart %post, `curl -s tftp://SERVER/Kickstart_end -o FILE`
 *           (busybox tftp where the host has no curl to copy in); the server, no longer root,
 *           sees the complete fetch and removes the host's C0A8000B link.
 *   boot 2: the same machine (same MAC, same address) netboots again; pxelinux's search now ends
 *           at `default`, init's LOCALBOOT 0; the BIOS falls through to the machine's disk, whose
 *           boot sector prints LOCAL-DISK-BOOT. A second netboot into the installer fails the test.
 */
import { expect } from "bun:test";
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { firmwareTest } from "./gate.ts";
import { CLIENT_HEX, CLIENT_IP, withLab } from "./harness.ts";
import { HOST_CURL, MARK, payloads } from "./payload.ts";
import { expectServed, grantedOptions, servedFiles, transferSummary } from "./server-log.ts";
import { kernelArgs } from "./tree.ts";

const PROFILE = "7.2";
const MARKER = "Kickstart_end";
/** The unprivileged user of the README's `serve --user nobody`. */
const USER = "nobody";

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

firmwareTest(
  "install-once: boot 1 netboots the profile and fetches Kickstart_end with curl, boot 2 of the same machine boots locally (server as nobody)",
  async () => {
    const p = await payloads();
    const installer = await p.curlInitrd();
    // CI installs curl; a host without it can only test busybox, and must say so rather than pass as curl.
    const client = existsSync(HOST_CURL) ? "curl" : "busybox";
    if (client === "curl" && !installer.curl) throw new Error(`${HOST_CURL} exists but could not go into the initrd: ${installer.why}`);
    const tree = {
      init: { profile: PROFILE, hosts: [CLIENT_IP], owner: USER },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: installer.initrd.path },
      edits: {
        [`pxelinux.cfg/default.netboot-${PROFILE}`]: (cfg: string) =>
          cfg.replace(/^(\s*)APPEND .*$/m, `$1APPEND ${kernelArgs(`netboot-${PROFILE}`, [`pxetest.fetch=${MARKER}`, "pxetest.fetch_client=curl"])}`),
      },
    };
    const serverArgs = ["--user", USER];
    await withLab(tree, { bootFile: { bios: "pxelinux.0", uefi: "syslinux.efi" }, serverArgs }, async (lab) => {
      const hostEntry = join(lab.opts.root, "pxelinux.cfg", CLIENT_HEX);
      expect(exists(hostEntry)).toBe(true);
      // What init wrote, not a guess: the marker is non-empty, so tsize and the size both prove a whole fetch.
      const marker = readFileSync(join(lab.opts.root, MARKER));
      expect(marker.length).toBeGreaterThan(0);
      const markerSha = createHash("sha256").update(marker).digest("hex");
      const machine = { firmware: "bios" as const, disk: p.localDisk };

      const first = await lab.boot({
        name: "install-boot-1",
        machine,
        expect: [`${MARK.fetched} ${MARKER} size=${marker.length} sha256=${markerSha} client=${client}`, `${MARK.done} profile=netboot-${PROFILE}`],
        failOn: [MARK.fail, "Kernel panic", MARK.localDisk],
        timeoutMs: 150_000,
      });
      const afterFirst = servedFiles(lab).length;
      console.log(`install-once boot 1 (${client}, ${installer.initrd.size} B initrd): ${first.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, [`pxelinux.cfg/${CLIENT_HEX}`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`, MARKER]);
      if (client === "curl") {
        // curl always asks for tsize and blksize; a whole fetch of a non-empty marker is granted its real size.
        const granted = grantedOptions(lab, MARKER);
        expect(granted.tsize).toBe(String(marker.length));
        expect(granted.blksize).toBeDefined();
      }
      const log = lab.serverLog();
      expect(log).toContain("dropped privileges");
      expect(log).toContain("installed: netboot entries removed");
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
  360_000,
);
