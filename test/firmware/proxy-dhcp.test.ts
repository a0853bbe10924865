/**
 * `serve --proxy-dhcp` with firmware: the site's DHCP server (dnsmasq with only --dhcp-range)
 * hands out addresses and knows nothing of PXE; pxeboot answers the PXE clients' DISCOVERs with
 * the boot file alone. Hosts are named by MAC with `pxeboot host add`, as a proxy sees them.
 */
import { expect } from "bun:test";
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { firmwareTest } from "./gate.ts";
import { CLIENT_MAC, SERVER_IP, withLab, type Lab } from "./harness.ts";
import { HOST_CURL, MARK, payloads } from "./payload.ts";
import { expectServed, servedFiles, transferSummary } from "./server-log.ts";
import { recordedBoots } from "./boot-record.ts";
import { ipxeKernelLine, kernelArgs, type TreeSpec } from "./tree.ts";

const PROFILE = "fw";
const MARKER = "Kickstart_end";
const HTTP_PORT = 8080;
const MAC_DASHES = CLIENT_MAC.replace(/:/g, "-");

/** The site server's command line offers addresses only: no boot file, no PXE or iPXE options. */
function expectSiteDhcpOnly(lab: Lab): void {
  expect(lab.dhcpArgv.some((a) => a.startsWith("--dhcp-range=192.168.0."))).toBe(true);
  expect(lab.dhcpArgv.filter((a) => /^--(dhcp-boot|dhcp-option|dhcp-match|dhcp-vendorclass|dhcp-userclass|pxe-service|enable-tftp)/.test(a))).toEqual([]);
}

/** The server's JSON lines for the proxy's decisions about the test machine. */
function proxyLines(lab: Lab): Record<string, unknown>[] {
  return lab
    .serverLog()
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes("proxy DHCP"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.mac === CLIENT_MAC && r.level !== "debug");
}


/** Keep GRUB's profile entry (kernel and initrd) and give its linux line the payload's arguments. */
function grubKernelArgs(args: string) {
  return (cfg: string) => cfg.replace(/^(\s*linux \S+) .*$/m, (_all, linux: string) => `${linux} ${args}`);
}

firmwareTest(
  "proxy DHCP, BIOS (SeaBIOS + iPXE ROM), MAC from `host add`: boot.ipxe from the proxy's offer, the host's profile, kernel + initrd",
  async () => {
    const p = await payloads();
    const tree: TreeSpec = {
      init: { profile: PROFILE, hosts: [CLIENT_MAC] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
      edits: { [`ipxe/netboot-${PROFILE}.ipxe`]: ipxeKernelLine(kernelArgs("proxy-bios")) },
    };
    await withLab(tree, { bootFile: { bios: "unused", uefi: "unused" }, proxyDhcp: [] }, async (lab) => {
      expectSiteDhcpOnly(lab);
      const boot = await lab.boot({
        name: "proxy-bios",
        machine: { firmware: "bios" },
        expect: ["Linux version", `${MARK.init} profile=proxy-bios`, `${MARK.done} profile=proxy-bios`],
        failOn: [MARK.fail, "Kernel panic", /Could not boot|No configuration methods/],
        timeoutMs: 150_000,
      });
      console.log(`proxy-bios: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["boot.ipxe", `ipxe/mac-${MAC_DASHES}.ipxe`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      const offers = proxyLines(lab).filter((r) => r.msg === "proxy DHCP: boot offer" || r.message === "proxy DHCP: boot offer");
      expect(offers.length).toBe(1);
      expect(offers[0]).toMatchObject({ arch: 0, userClass: "iPXE", file: "boot.ipxe", profile: PROFILE });
      // The boot record starts at the proxy's offer and goes on under the same MAC.
      const boots = await recordedBoots(lab, (b) => b.at(-1)?.verdict === "booted");
      expect(boots.at(-1)!.verdict).toBe("booted");
      expect(boots.at(-1)!.steps[0]).toMatchObject({ kind: "offer", via: "dhcp", file: "boot.ipxe" });
    });
  },
  200_000,
);

firmwareTest(
  "proxy DHCP, UEFI (OVMF, arch 7): init's default shim → GRUB with option 43 {6: 8}, the MAC's GRUB entry, kernel + initrd",
  async () => {
    const p = await payloads();
    const tree: TreeSpec = {
      init: { profile: PROFILE, hosts: [CLIENT_MAC] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
      edits: { [`grub/netboot-${PROFILE}.cfg`]: grubKernelArgs(kernelArgs("proxy-uefi")) },
    };
    await withLab(tree, { bootFile: { bios: "unused", uefi: "unused" }, proxyDhcp: [] }, async (lab) => {
      expectSiteDhcpOnly(lab);
      const boot = await lab.boot({
        name: "proxy-uefi",
        machine: { firmware: "uefi", memoryMiB: 512 },
        expect: ["Linux version", `${MARK.init} profile=proxy-uefi`, `${MARK.done} profile=proxy-uefi`],
        failOn: [MARK.fail, "Kernel panic"],
        timeoutMs: 180_000,
      });
      console.log(`proxy-uefi: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["shimx64.efi", "grubx64.efi", "grub/grub.cfg", `grub/mac-${CLIENT_MAC}.cfg`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      const offers = proxyLines(lab).filter((r) => String(r.msg ?? r.message).includes("boot offer"));
      expect(offers[0]).toMatchObject({ arch: 7, file: "shimx64.efi" });
    });
  },
  240_000,
);

firmwareTest(
  "proxy DHCP install-once: boot 1 netboots and fetches the marker; boot 2 gets no offer and boots the local disk",
  async () => {
    const p = await payloads();
    const installer = await p.curlInitrd();
    const client = existsSync(HOST_CURL) && installer.curl ? "curl" : "busybox";
    const args = kernelArgs(`netboot-${PROFILE}`, [`pxetest.fetch=${MARKER}`, `pxetest.fetch_client=${client}`]);
    const tree: TreeSpec = {
      init: { profile: PROFILE, hosts: [CLIENT_MAC] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: installer.initrd.path },
      files: { [MARKER]: "install finished\n" },
      edits: { [`ipxe/netboot-${PROFILE}.ipxe`]: ipxeKernelLine(args) },
    };
    await withLab(tree, { bootFile: { bios: "unused", uefi: "unused" }, proxyDhcp: [] }, async (lab) => {
      const machine = { firmware: "bios" as const, disk: p.localDisk };
      const marker = readFileSync(join(lab.opts.root, MARKER));
      await lab.boot({
        name: "proxy-install-1",
        machine,
        expect: [`${MARK.fetched} ${MARKER} size=${marker.length}`, `${MARK.done} profile=netboot-${PROFILE}`],
        failOn: [MARK.fail, "Kernel panic", MARK.localDisk],
        timeoutMs: 150_000,
      });
      expect(lab.serverLog()).toContain("installed: netboot entries removed");
      expect(() => lstatSync(join(lab.opts.root, `pxelinux.cfg/01-${MAC_DASHES}`))).toThrow();
      const before = servedFiles(lab).length;
      const second = await lab.boot({
        name: "proxy-install-2",
        machine,
        expect: [MARK.localDisk],
        failOn: [MARK.init, "Kernel panic"],
        timeoutMs: 120_000,
      });
      console.log(`proxy install-once boot 2: ${second.elapsedMs} ms`);
      expect(servedFiles(lab).slice(before)).toEqual([]);
      expect(proxyLines(lab).some((r) => String(r.reason).startsWith("installed"))).toBe(true);
    });
  },
  360_000,
);

firmwareTest(
  "proxy DHCP --proxy-dhcp-known-only: a MAC `host add` never named gets no offer and boots its disk",
  async () => {
    const p = await payloads();
    const tree: TreeSpec = {
      init: { profile: PROFILE, hosts: ["52:54:00:99:99:99"] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
    };
    await withLab(tree, { bootFile: { bios: "unused", uefi: "unused" }, proxyDhcp: ["--proxy-dhcp-known-only"] }, async (lab) => {
      await lab.boot({
        name: "proxy-unknown",
        machine: { firmware: "bios", disk: p.localDisk },
        expect: [MARK.localDisk],
        failOn: [MARK.init, "Kernel panic"],
        timeoutMs: 120_000,
      });
      expect(servedFiles(lab)).toEqual([]);
      expect(proxyLines(lab).some((r) => String(r.reason).includes("known-only"))).toBe(true);
    });
  },
  200_000,
);

firmwareTest(
  "proxy DHCP on 4011 only (the site server sends option 60 PXEClient): OVMF asks port 4011 for its file and boots",
  async () => {
    const p = await payloads();
    const tree: TreeSpec = {
      init: { profile: PROFILE, hosts: [CLIENT_MAC] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
      edits: { [`grub/netboot-${PROFILE}.cfg`]: grubKernelArgs(kernelArgs("proxy-4011")) },
    };
    const opts = { bootFile: { bios: "unused", uefi: "unused" }, proxyDhcp: ["--proxy-dhcp-4011-only"], siteDhcpExtra: ["--dhcp-option-force=60,PXEClient"] };
    await withLab(tree, opts, async (lab) => {
      const boot = await lab.boot({
        name: "proxy-4011",
        machine: { firmware: "uefi", memoryMiB: 512 },
        expect: ["Linux version", `${MARK.init} profile=proxy-4011`, `${MARK.done} profile=proxy-4011`],
        failOn: [MARK.fail, "Kernel panic"],
        timeoutMs: 180_000,
      });
      console.log(`proxy-4011: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expect(lab.serverLog()).toContain('"ports":"4011"');
      const acks = proxyLines(lab).filter((r) => String(r.msg).includes("port 4011"));
      expect(acks[0]).toMatchObject({ arch: 7, file: "shimx64.efi" });
      expectServed(lab, ["shimx64.efi", "grubx64.efi", `grub/mac-${CLIENT_MAC}.cfg`, `vmlinuz-${PROFILE}`]);
    });
  },
  240_000,
);

firmwareTest(
  "proxy DHCP, UEFI HTTP Boot (OVMF with its PXE options off): the HTTPClient DISCOVER gets ipxe.efi's URL on --http; iPXE then boot.ipxe, the MAC's script, kernel + initrd, all over HTTP",
  async () => {
    const p = await payloads();
    const tree: TreeSpec = {
      init: { profile: PROFILE, hosts: [CLIENT_MAC] },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
      edits: { [`ipxe/netboot-${PROFILE}.ipxe`]: ipxeKernelLine(kernelArgs("proxy-http")) },
    };
    const opts = { bootFile: { bios: "unused", uefi: "unused" }, proxyDhcp: [], serverArgs: ["--http", `${SERVER_IP}:${HTTP_PORT}`] };
    await withLab(tree, opts, async (lab) => {
      expectSiteDhcpOnly(lab);
      const boot = await lab.boot({
        name: "proxy-http",
        machine: { firmware: "uefi", memoryMiB: 512, httpBootOnly: true },
        expect: ["Linux version", `${MARK.init} profile=proxy-http`, `${MARK.done} profile=proxy-http`],
        failOn: [MARK.fail, "Kernel panic"],
        timeoutMs: 300_000,
      });
      console.log(`proxy-http: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["ipxe.efi", "boot.ipxe", `ipxe/mac-${MAC_DASHES}.ipxe`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      // Nothing went over TFTP: the firmware had no PXE option to try.
      expect(lab.serverLog()).not.toMatch(/"mode":"octet"/);
      const offers = proxyLines(lab).filter((r) => String(r.msg ?? r.message).includes("boot offer"));
      expect(offers[0]).toMatchObject({ arch: 16, file: `http://${SERVER_IP}:${HTTP_PORT}/ipxe.efi` });
      expect(offers.some((r) => r.userClass === "iPXE" && r.file === `http://${SERVER_IP}:${HTTP_PORT}/boot.ipxe`)).toBe(true);
    });
  },
  360_000,
);
