/**
 * U-Boot (Debian's 32-bit qemu-x86 build) as the machine's firmware: its distro boot does DHCP
 * and fetches boot.scr.uimg over TFTP; the script runs `pxe get`, which walks the pxelinux.cfg
 * search (01-MAC misses, C0A8000B hits), then loads kernel and initrd with `tftpboot` and starts
 * them with `zboot` (2023.01's `pxe boot` passes a bzImage a wrong initrd size).
 * U-Boot asks `timeout 5 tsize 0 blksize 1468` and refuses an OACK with a larger blksize or
 * another timeout, so this is the test that the server echoes both as asked.
 */
import { expect } from "bun:test";
import { firmwareTest } from "./gate.ts";
import { CLIENT_HEX, type Lab, withLab } from "./harness.ts";
import { MARK, payloads, ubootScriptImage } from "./payload.ts";
import { expectServed, parseServerLog, transferSummary } from "./server-log.ts";
import { kernelArgs, pxelinuxConfig } from "./tree.ts";

/** Loaded at 0x2000000, the initrd at 0x5000000: above where the kernel unpacks itself. */
const SCRIPT = [
  "echo pxeboot u-boot script",
  "setenv pxefile_addr_r 0x4000000",
  "pxe get",
  "tftpboot 0x2000000 vmlinuz",
  "setenv kernel_size ${filesize}",
  "tftpboot 0x5000000 initrd.img",
  `setenv bootargs ${kernelArgs("uboot")}`,
  "zboot 0x2000000 ${kernel_size} 0x5000000 ${filesize}",
  "",
].join("\n");

/** The tree both boots serve: the boot script, the host's pxelinux entry, kernel and initrd. */
async function ubootTree() {
  const p = await payloads();
  return {
    copies: { "initrd.img": p.initrd.path },
    files: { [`pxelinux.cfg/${CLIENT_HEX}`]: pxelinuxConfig({ label: "uboot", kernel: "vmlinuz", initrd: "initrd.img", append: kernelArgs("uboot") }) },
    binaries: { "boot.scr.uimg": ubootScriptImage(SCRIPT) },
  };
}

/** U-Boot from power-on to the booted kernel's mark, every file it needs served. */
async function bootUboot(lab: Lab, name: string) {
  const boot = await lab.boot({
    name,
    machine: { firmware: "uboot", memoryMiB: 512 },
    expect: ["U-Boot 2023.01", "pxeboot u-boot script", "Linux version", `${MARK.done} profile=uboot`],
    failOn: [MARK.fail, /Wrong image format|Bad data CRC|Bad header checksum|Retry count exceeded|zboot failed/],
    timeoutMs: 120_000,
  });
  console.log(`${name}: booted in ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
  expectServed(lab, ["boot.scr.uimg", `pxelinux.cfg/${CLIENT_HEX}`, "vmlinuz", "initrd.img"]);
}

firmwareTest(
  "U-Boot runs a boot script over TFTP, walks pxelinux.cfg with pxe get, loads kernel + initrd",
  async () => {
    const tree = await ubootTree();
    await withLab(tree, { bootFile: { bios: "pxelinux.0", uefi: "syslinux.efi" } }, async (lab) => {
      await bootUboot(lab, "uboot");
      const lines = parseServerLog(lab.serverLog(), lab.opts.root);
      expect(lines.some((l) => l.file === "pxelinux.cfg/01-52-54-00-12-34-56" && l.outcome === "error")).toBe(true);
      for (const l of lines.filter((x) => x.outcome === "ok")) {
        expect(`${l.file}: ${l.options}`).toMatch(/timeout=5\b/);
        expect(`${l.file}: ${l.options}`).toMatch(/blksize=1468\b/);
      }
    });
  },
  240_000,
);

/**
 * The same boot over a link of MTU 1400 (bridge and tap): U-Boot still asks blksize 1468, whose
 * DATA would be sent as IP fragments, which U-Boot drops ("Retry count exceeded", checked by hand
 * with --blksize-max 1468). The server must grant what fits the bridge's MTU
 * (1400 − 20 − 8 − 4 = 1368), which U-Boot accepts in the OACK.
 */
firmwareTest(
  "U-Boot boots over an MTU-1400 link: blksize capped to 1368, no fragments",
  async () => {
    const tree = await ubootTree();
    await withLab(tree, { bootFile: { bios: "pxelinux.0", uefi: "syslinux.efi" }, mtu: 1400 }, async (lab) => {
      await bootUboot(lab, "uboot-mtu1400");
      const ok = parseServerLog(lab.serverLog(), lab.opts.root).filter((x) => x.outcome === "ok");
      expect(ok.length).toBeGreaterThan(0);
      for (const l of ok) expect(`${l.file}: ${l.options}`).toMatch(/blksize=1368\b/);
    });
  },
  240_000,
);
