/**
 * UEFI HTTP Boot from the same root: Debian's OVMF (HTTP Boot enabled since 2020, see README)
 * asks DHCP with vendor class "HTTPClient", gets http://SERVER:8080/ipxe.efi, loads it over
 * HTTP from `serve --http` and starts it; iPXE then runs boot.ipxe and loads kernel and initrd
 * over HTTP as in ipxe-http.test.ts. EDK2 tries its PXE boot options first: they get boot.ipxe,
 * which is no EFI image, so it moves on to HTTP.
 */
import { expect } from "bun:test";
import { deliveredFiles, dryRunFiles, dryRunPaths, recordedBoots } from "./boot-record.ts";
import { firmwareTest } from "./gate.ts";
import { CLIENT_IP, CLIENT_MAC, SERVER_IP, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, transferSummary } from "./server-log.ts";
import { HOST } from "./tools.ts";
import { kernelArgs } from "./tree.ts";

const PROFILE = "fw";
const HTTP_PORT = 8080;

function payloadKernelLine(script: string): string {
  return script.replace(/^kernel (\S+) (initrd=\S+).*$/m, (_all, kernel: string, initrd: string) => `kernel ${kernel} ${initrd} ${kernelArgs("uefi-http")}`);
}

firmwareTest(
  "OVMF UEFI HTTP Boot loads ipxe.efi from a URL served by serve --http, which boots kernel + initrd over HTTP",
  async () => {
    const p = await payloads();
    const tree = {
      init: { profile: PROFILE, hosts: [CLIENT_IP], http: HTTP_PORT },
      copies: { [`vmlinuz-${PROFILE}`]: p.kernel, [`initrd-${PROFILE}.img`]: p.initrd.path, "ipxe.efi": HOST.ipxeEfi },
      edits: { [`ipxe/netboot-${PROFILE}.ipxe`]: payloadKernelLine },
    };
    const opts = {
      bootFile: { bios: "boot.ipxe", uefi: "boot.ipxe" },
      serverArgs: ["--http", `${SERVER_IP}:${HTTP_PORT}`],
      httpBootUrl: `http://${SERVER_IP}:${HTTP_PORT}/ipxe.efi`,
    };
    await withLab(tree, opts, async (lab) => {
      const boot = await lab.boot({
        name: "uefi-http",
        machine: { firmware: "uefi", memoryMiB: 512 },
        expect: ["Linux version", `${MARK.init} profile=uefi-http`, `${MARK.done} profile=uefi-http`],
        failOn: [MARK.fail, "Kernel panic", /booting the local disk/],
        timeoutMs: 300_000,
      });
      console.log(`uefi-http: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, ["ipxe.efi", "boot.ipxe", `ipxe/ip-${CLIENT_IP}.ipxe`, `vmlinuz-${PROFILE}`, `initrd-${PROFILE}.img`]);
      expect(lab.serverLog()).toMatch(/"file":"ipxe\.efi".*"mode":"http"|"mode":"http".*"file":"ipxe\.efi"/);
      // The boot record, and the dry run agreeing with it file for file (the last boot: the PXE attempt that got boot.ipxe is one before it).
      const boots = await recordedBoots(lab, (b) => b.at(-1)?.verdict === "booted");
      expect(boots.at(-1)?.verdict).toBe("booted");
      const chain = dryRunFiles(lab, ["--mac", CLIENT_MAC, "--arch", "http"]);
      expect(dryRunPaths(chain)).toEqual(deliveredFiles(boots.at(-1)!));
      expect(chain.every((l) => /ok \(\d+ B\)$/.test(l))).toBe(true);
    });
  },
  360_000,
);
