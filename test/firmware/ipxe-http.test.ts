/**
 * HTTP boot from the same root: iPXE (the QEMU NIC ROM) gets boot.ipxe over TFTP, chains the
 * host's profile script, and loads kernel and initrd over HTTP from `serve --http` — the script
 * `pxeboot init --http 8080` wrote, fetching from http://${next-server}:8080/.
 */
import { expect } from "bun:test";
import { firmwareTest } from "./gate.ts";
import { CLIENT_IP, SERVER_IP, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, parseServerLog, transferSummary } from "./server-log.ts";
import { kernelArgs } from "./tree.ts";

const PROFILE = "fw";
const HTTP_PORT = 8080;

function payloadKernelLine(script: string): string {
  return script.replace(/^kernel (\S+) (initrd=\S+).*$/m, (_all, kernel: string, initrd: string) => `kernel ${kernel} ${initrd} ${kernelArgs("ipxe-http")}`);
}

/** The JSON log lines of files that went out over HTTP (mode "http"), complete ones only. */
function servedOverHttp(log: string): string[] {
  return log
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes('"mode":"http"') && l.includes('"outcome":"ok"'))
    .map((l) => (JSON.parse(l) as { file: string }).file);
}

firmwareTest(
  "iPXE ROM loads kernel and initrd over HTTP from serve --http (init --http layout) and boots Linux",
  async () => {
    const p = await payloads();
    const tree = {
      init: { profile: PROFILE, hosts: [CLIENT_IP], http: HTTP_PORT },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path },
      edits: { [`ipxe/netboot-${PROFILE}.ipxe`]: payloadKernelLine },
    };
    const opts = { bootFile: { bios: "boot.ipxe", uefi: "syslinux.efi" }, serverArgs: ["--http", `${SERVER_IP}:${HTTP_PORT}`] };
    await withLab(tree, opts, async (lab) => {
      const boot = await lab.boot({
        name: "ipxe-http",
        machine: { firmware: "bios" },
        expect: ["Linux version", `${MARK.init} profile=ipxe-http`, `${MARK.done} profile=ipxe-http`],
        failOn: [MARK.fail, "Kernel panic", /Could not boot|Connection timed out|booting the local disk|Operation not supported/],
        timeoutMs: 120_000,
      });
      console.log(`ipxe-http: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expect(boot.serial).toContain(`http://${SERVER_IP}:${HTTP_PORT}/vmlinuz-${PROFILE}`);
      expectServed(lab, ["boot.ipxe", `ipxe/ip-${CLIENT_IP}.ipxe`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      expect(servedOverHttp(lab.serverLog())).toEqual([`vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      const tftp = parseServerLog(lab.serverLog(), lab.opts.root).filter((l) => l.outcome === "ok" && l.file.startsWith("vmlinuz"));
      expect(tftp.length).toBe(1); // the kernel came once, over HTTP, not over TFTP as well
    });
  },
  180_000,
);
