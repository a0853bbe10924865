/**
 * Large files across the 16-bit block counter. pxelinux (blksize 1408) loads an initrd of more
 * than 32 MiB holding a random payload; /init checks the payload's sha256, then fetches the very
 * same initrd again with busybox tftp without a blksize option — a plain 512-byte client, whose
 * block number passes 65535 after 32 MiB — and checks that copy's sha256 against the file's.
 */
import { firmwareTest } from "./gate.ts";
import { CLIENT_HEX, withLab } from "./harness.ts";
import { MARK, payloads } from "./payload.ts";
import { expectServed, transferSummary } from "./server-log.ts";
import { kernelArgs, pxelinuxConfig } from "./tree.ts";

/**
 * Past 65535 blocks of 512 bytes with room to spare; the cpio around it adds ~2.3 MB. At pxelinux's
 * 1408 bytes the counter wraps only past 88 MiB: PXEBOOT_FIRMWARE_ROLLOVER_MIB=90 tests that too
 * (about two more minutes).
 */
const PAYLOAD_MIB = Number(process.env.PXEBOOT_FIRMWARE_ROLLOVER_MIB ?? 33);
const PAYLOAD_BYTES = PAYLOAD_MIB * 1024 * 1024;

firmwareTest(
  "rollover: pxelinux loads a > 32 MiB initrd, which checks its payload and refetches itself with 512-byte blocks",
  async () => {
    const p = await payloads();
    const big = await p.bigInitrd(PAYLOAD_BYTES);
    const args = kernelArgs("rollover", [
      "pxetest.file=/payload.bin",
      `pxetest.sha256=${big.payload.sha256}`,
      "pxetest.fetch=initrd-big.img",
      `pxetest.fetch_sha256=${big.initrd.sha256}`,
    ]);
    const tree = {
      copies: { "initrd-big.img": big.initrd.path },
      files: { [`pxelinux.cfg/${CLIENT_HEX}`]: pxelinuxConfig({ label: "rollover", kernel: "vmlinuz", initrd: "initrd-big.img", append: args }) },
    };
    await withLab(tree, { bootFile: { bios: "pxelinux.0", uefi: "syslinux.efi" } }, async (lab) => {
      const boot = await lab.boot({
        name: "rollover",
        // The initrd, its unpacked payload and the refetched copy all live in RAM.
        machine: { firmware: "bios", memoryMiB: Math.max(512, 256 + 3 * (PAYLOAD_MIB + 3)) },
        expect: [
          `${MARK.shaOk} /payload.bin`,
          `${MARK.fetched} initrd-big.img size=${big.initrd.size} sha256=${big.initrd.sha256}`,
          `${MARK.done} profile=rollover`,
        ],
        failOn: [MARK.fail, "Kernel panic"],
        timeoutMs: 240_000 + PAYLOAD_MIB * 3_000,
      });
      console.log(`rollover (${big.initrd.size} B initrd): ${boot.elapsedMs} ms\n${transferSummary(lab)}`);
      expectServed(lab, [`pxelinux.cfg/${CLIENT_HEX}`, "vmlinuz", "initrd-big.img", "initrd-big.img"]);
    });
  },
  300_000 + PAYLOAD_MIB * 3_000,
);
