/**
 * The seed's scenario, end to end, on two trees: a hand-made one as every tftpd-hpa site has it
 * (root's, 0755, no `pxeboot init`) served by `pxeboot serve` as root with no flag, and the
 * layout `pxeboot init --owner nobody` + `pxeboot host add` make, served by `pxeboot serve --user
 * nobody`:
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
import { deliveredFiles, recordedBoots } from "./boot-record.ts";
import { kernelArgs, type TreeSpec } from "./tree.ts";

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

type Payloads = Awaited<ReturnType<typeof payloads>>;
type Installer = Awaited<ReturnType<Payloads["curlInitrd"]>>;

/** Boot 1 installs and fetches the marker; the server restarts; boot 2 of the same machine must boot its disk. */
async function installThenBootLocally(p: Payloads, installer: Installer, tree: TreeSpec, serverArgs: string[], checkServer: (log: string) => void) {
  // CI installs curl; a host without it can only test busybox, and must say so rather than pass as curl.
  const client = existsSync(HOST_CURL) ? "curl" : "busybox";
  if (client === "curl" && !installer.curl) throw new Error(`${HOST_CURL} exists but could not go into the initrd: ${installer.why}`);
  await withLab(tree, { bootFile: { bios: "pxelinux.0", uefi: "syslinux.efi" }, serverArgs }, async (lab) => {
    const hostEntry = join(lab.opts.root, "pxelinux.cfg", CLIENT_HEX);
    expect(exists(hostEntry)).toBe(true);
    // What the tree holds, not a guess: the marker is non-empty, so tsize and the size both prove a whole fetch.
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
    checkServer(log);
    expect(exists(hostEntry)).toBe(false);

    // Boot 2 comes to a restarted server: the install and the boot records outlive the process.
    await lab.restartServer();
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
    // The boot records: the install boot ends installed, the next one boots the disk.
    const boots = await recordedBoots(lab, (b) => b.length >= 2 && b.at(-1)!.verdict === "local-boot");
    expect(boots.map((b) => b.verdict)).toEqual(["installed", "local-boot"]);
    expect(deliveredFiles(boots[0]!)).toEqual(servedFiles(lab).slice(0, afterFirst));
    expect(deliveredFiles(boots[1]!)).toEqual(secondBoot);
  });
}

const APPEND = kernelArgs(`netboot-${PROFILE}`, [`pxetest.fetch=${MARKER}`, "pxetest.fetch_client=curl"]);

firmwareTest(
  "install-once on a hand-made root-owned tree, serve started as root with no flag: boot 1 installs, the server restarts, boot 2 boots locally",
  async () => {
    const p = await payloads();
    const installer = await p.curlInitrd();
    // No init: the files a tftpd-hpa site has, every one root's (the test runs as root), 0755 directories.
    const tree: TreeSpec = {
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: installer.initrd.path },
      files: {
        [MARKER]: "install finished\n",
        "pxelinux.cfg/default": "DEFAULT local\nPROMPT 0\nTIMEOUT 0\nLABEL local\n  LOCALBOOT 0\n",
        [`pxelinux.cfg/default.netboot-${PROFILE}`]: `DEFAULT install\nPROMPT 0\nLABEL install\n  KERNEL vmlinuz-${PROFILE}\n  INITRD initrd-${PROFILE}.img\n  APPEND ${APPEND}\n`,
      },
      links: { [`pxelinux.cfg/${CLIENT_HEX}`]: `default.netboot-${PROFILE}` },
    };
    await installThenBootLocally(p, installer, tree, [], (log) => {
      expect(log).toContain("boot control: hosts are switched by a separate process");
      expect(log).not.toContain("install-once cannot switch hosts");
      expect(log).not.toContain("install-once failed");
    });
  },
  360_000,
);

firmwareTest(
  "install-once: boot 1 netboots the profile and fetches Kickstart_end with curl, the server restarts, boot 2 of the same machine boots locally (init --owner nobody, server as nobody)",
  async () => {
    const p = await payloads();
    const installer = await p.curlInitrd();
    const tree: TreeSpec = {
      init: { profile: PROFILE, hosts: [CLIENT_IP], owner: USER },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: installer.initrd.path },
      edits: { [`pxelinux.cfg/default.netboot-${PROFILE}`]: (cfg: string) => cfg.replace(/^(\s*)APPEND .*$/m, `$1APPEND ${APPEND}`) },
    };
    await installThenBootLocally(p, installer, tree, ["--user", USER], () => {});
  },
  360_000,
);
