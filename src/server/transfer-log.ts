/**
 * The one log line per finished transfer. Expected misses (the pxelinux config search asks for up
 * to a dozen names that don't exist on every boot) go to debug so they don't drown real errors.
 */
import { displayName } from "../files/bytes-path.ts";
import type { Logger } from "../log.ts";
import { ErrorCode } from "../protocol/types.ts";
import type { TransferRecord } from "./types.ts";

/** A miss that is part of a normal boot: config search, optional loader modules, probes for names. */
function isExpectedMiss(r: TransferRecord): boolean {
  return r.outcome === "error" && r.errorCode === ErrorCode.FILE_NOT_FOUND && r.bytes === 0;
}

function transferFields(r: TransferRecord) {
  const seconds = r.durationMs / 1000;
  return {
    client: `${r.clientAddress.includes(":") ? `[${r.clientAddress}]` : r.clientAddress}:${r.clientPort}`,
    file: displayName(r.file || r.requested),
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

export function logTransfer(log: Logger, r: TransferRecord): void {
  const fields = transferFields(r);
  if (r.outcome === "ok") log.info("transfer ok", fields);
  else if (r.outcome === "probe") log.info("size probe", fields);
  else if (isExpectedMiss(r)) log.debug("not found", fields);
  else if (r.outcome === "timeout") log.warn("transfer timed out", fields);
  else log.warn("transfer failed", fields);
}
