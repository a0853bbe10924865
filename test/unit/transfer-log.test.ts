/** Which misses an admin sees: a firmware's search steps stay at debug, every other miss warns. */
import { describe, expect, test } from "bun:test";
import type { LogFields, Logger } from "../../src/log.ts";
import { isFirmwareSearchStep, logTransfer } from "../../src/server/observe/transfer-log.ts";
import type { TransferRecord } from "../../src/records/transfer-record.ts";

function capture(): Logger & { lines: [string, string][] } {
  const lines: [string, string][] = [];
  const at = (level: string) => (msg: string, _f?: LogFields) => void lines.push([level, msg]);
  return { lines, level: "debug", debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

const miss = (requested: string): TransferRecord =>
  ({
    clientAddress: "192.168.0.11",
    clientPort: 2070,
    requested,
    file: "",
    mode: "octet",
    options: {},
    bytes: 0,
    size: -1,
    durationMs: 1,
    outcome: "error",
    errorCode: 1,
    reason: "File not found",
    retransmits: 0,
    direction: "read",
  }) as TransferRecord;

describe("missing files in the log", () => {
  test("steps of the pxelinux, GRUB and iPXE searches are expected", () => {
    for (const f of [
      "pxelinux.cfg/01-52-54-00-12-34-56",
      "pxelinux.cfg/C0A8000B",
      "pxelinux.cfg/C0A80",
      "/pxelinux.cfg/a1b2c3d4-0000-0000-0000-000000000000",
      "grub/grub.cfg-01-52-54-00-12-34-56",
      "grub/x86_64-efi/command.lst",
      "ipxe/mac-52-54-00-12-34-56.ipxe",
      "/ipxe/ip-192.168.0.11.ipxe",
      "autoexec.ipxe",
      // shim 16 asks these beside itself before loading GRUB; all are optional.
      "revocations_sku.efi",
      "revocations_sbat.efi",
      "shim_certificate_0.efi",
      "/EFI/BOOT/shim_certificate_0.efi",
    ])
      expect([f, isFirmwareSearchStep(f)]).toEqual([f, true]);
  });

  test("a missing kernel, initrd or loader is not", () => {
    for (const f of ["vmlinuz-7.2", "initrd-7.2.img", "pxelinux.0", "ldlinux.c32", "Kickstart_end", "ipxe.efi", "grubx64.efi", "shimx64.efi"])
      expect([f, isFirmwareSearchStep(f)]).toEqual([f, false]);
  });

  test("levels: search misses at debug, a mistyped kernel at warning", () => {
    const log = capture();
    logTransfer(log, miss("pxelinux.cfg/01-52-54-00-12-34-56"));
    logTransfer(log, miss("vmlinuz-7.3"));
    expect(log.lines).toEqual([
      ["debug", "not found"],
      ["warn", "transfer failed"],
    ]);
  });
});
