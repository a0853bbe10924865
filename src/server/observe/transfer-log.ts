/**
 * The one log line per finished transfer. Expected misses (the pxelinux config search asks for up
 * to a dozen names that don't exist on every boot) go to debug so they don't drown real errors.
 */
import { displayName } from "../../files/bytes-path.ts";
import type { Logger } from "../../log.ts";
import { ErrorCode } from "../../protocol/types.ts";
import type { TransferObserver, TransferRecord } from "../../records/transfer-record.ts";

/**
 * Names firmware asks for knowing most will not exist: pxelinux's config search (UUID, 01-MAC,
 * hex IP shrinking digit by digit, default), GRUB's (grub.cfg-01-MAC, grub.cfg-HEX…, and its
 * module and list probes under grub/), iPXE's per-host chain (ipxe/mac-…, ipxe/ip-…, autoexec.ipxe),
 * and the optional files shim asks for beside itself before GRUB (revocation lists, certificates).
 * A miss of anything else (a mistyped kernel, a missing initrd) is what an admin must see.
 */
const SEARCH_STEP = /^(?:pxelinux\.cfg\/|grub\/|boot\/grub\/|ipxe\/(?:mac|ip|uuid)-|autoexec\.ipxe$)|(?:^|\/)(?:revocations_(?:sku|sbat)|shim_certificate_\d+)\.efi$/;

export function isFirmwareSearchStep(file: string): boolean {
  return SEARCH_STEP.test(file.replace(/^\/+/, ""));
}

/** A miss that is part of a normal boot: logged at debug so it doesn't drown real errors. */
function isExpectedMiss(r: TransferRecord): boolean {
  return r.outcome === "error" && r.errorCode === ErrorCode.FILE_NOT_FOUND && r.bytes === 0 && isFirmwareSearchStep(r.file || r.requested);
}

function transferFields(r: TransferRecord) {
  const seconds = r.durationMs / 1000;
  return {
    client: `${r.clientAddress.includes(":") ? `[${r.clientAddress}]` : r.clientAddress}:${r.clientPort}`,
    file: displayName(r.file || r.requested),
    // What the client sent, where remap rules (or backslashes, "..") made another file of it.
    requested: r.file && r.requested.replace(/^\/+/, "") !== r.file ? displayName(r.requested) : undefined,
    mode: r.mode,
    options: Object.keys(r.options).length ? Object.entries(r.options).map(([k, v]) => `${k}=${v}`).join(",") : undefined,
    bytes: r.bytes,
    ms: Math.round(r.durationMs),
    rate: r.outcome === "ok" && seconds > 0 ? `${(r.bytes / 1e6 / seconds).toFixed(1)}MB/s` : undefined,
    retransmits: r.retransmits || undefined,
    outcome: r.outcome,
    code: r.errorCode,
    reason: r.reason,
  };
}

/** Every ending, whatever the protocol: its log line, then each observer (install-once, metrics, hooks). */
export function reportTransfer(log: Logger, observers: readonly TransferObserver[], record: TransferRecord): void {
  logTransfer(log, record);
  for (const observe of observers) {
    try {
      observe(record);
    } catch (err) {
      log.error("transfer observer failed", { error: String(err) });
    }
  }
}

export function logTransfer(log: Logger, r: TransferRecord): void {
  const fields = transferFields(r);
  // Uploads are rare and change the tree: their lines say so in the message, not only in a field.
  const what = r.direction === "write" ? "upload" : "transfer";
  if (r.outcome === "ok") log.info(`${what} ok`, fields);
  else if (r.outcome === "probe") log.info("size probe", fields);
  else if (isExpectedMiss(r) && r.direction === "read") log.debug("not found", fields);
  else if (r.outcome === "timeout") log.warn(`${what} timed out`, fields);
  else log.warn(`${what} failed`, fields);
}
