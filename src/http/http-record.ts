/**
 * An HTTP response as a TransferRecord, so it goes through the same log line, metrics and
 * install-once as a TFTP transfer. The mode says "http" and the options carry the status (and
 * the range), which keeps the TFTP line's format as it was.
 */
import { ErrorCode } from "../protocol/types.ts";
import type { TransferOutcome, TransferRecord } from "../records/transfer-record.ts";

/** The TFTP error an HTTP refusal corresponds to (metrics count errors by TFTP code). */
export function errorCodeFor(status: number): ErrorCode {
  if (status === 404) return ErrorCode.FILE_NOT_FOUND;
  if (status === 403) return ErrorCode.ACCESS_VIOLATION;
  if (status === 400 || status === 405) return ErrorCode.ILLEGAL_OPERATION;
  return ErrorCode.NOT_DEFINED;
}

export interface HttpExchange {
  clientAddress: string;
  clientPort: number;
  /** The name as the client sent it (the raw path when it was refused before decoding). */
  requested: string;
  /** Root-relative after confinement; "" when refused before that. */
  file: string;
  status: number;
  range?: { start: number; end: number };
  bytes: number;
  /** The file's size; -1 when unknown (refused). */
  size: number;
  durationMs: number;
  outcome: TransferOutcome;
  reason?: string;
}

export function httpRecord(x: HttpExchange): TransferRecord {
  const options: Record<string, string> = { status: String(x.status) };
  if (x.range) options.range = `${x.range.start}-${x.range.end}`;
  return {
    direction: "read",
    clientAddress: x.clientAddress,
    clientPort: x.clientPort,
    requested: x.requested,
    file: x.file,
    mode: "http",
    options,
    bytes: x.bytes,
    size: x.size,
    durationMs: x.durationMs,
    outcome: x.outcome,
    reason: x.reason,
    errorCode: x.outcome === "error" && x.status >= 400 ? errorCodeFor(x.status) : undefined,
    retransmits: 0,
  };
}
