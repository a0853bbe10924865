/**
 * Every TFTP error this program sends, in one catalogue: the code (RFC 1350 §5, RFC 2347 for 8)
 * and the wire message are chosen here and nowhere else, so the same situation always reads the
 * same on the wire and in the log. Callers name the situation; `detail` is for the log only.
 */
import { encodeError } from "./packet.ts";
import { ErrorCode } from "./types.ts";

/** A refusal or abort carried as a value, so one place turns it into the ERROR packet and the log line. */
export class TftpError extends Error {
  constructor(
    readonly code: ErrorCode,
    /** Goes on the wire: short, and free of local paths. */
    message: string,
    /** Extra detail for the log only (never sent to the client). */
    readonly detail?: string,
  ) {
    super(message);
    this.name = "TftpError";
  }

  /** The ERROR datagram for this error. */
  encode(): Uint8Array {
    return encodeError(this.code, this.message);
  }

  /** "message (detail)": what the transfer log says. */
  get logReason(): string {
    return this.detail ? `${this.message} (${this.detail})` : this.message;
  }
}

// Code 0, "not defined": the situations that have no code of their own.
export const serverError = (detail?: string) => new TftpError(ErrorCode.NOT_DEFINED, "Server error", detail);
export const readError = (detail?: string) => new TftpError(ErrorCode.NOT_DEFINED, "Read error", detail);
export const cannotOpen = (detail?: string) => new TftpError(ErrorCode.NOT_DEFINED, "Cannot open file", detail);
export const fileChanged = () => new TftpError(ErrorCode.NOT_DEFINED, "File changed during transfer");
export const tooLargeForNetascii = () => new TftpError(ErrorCode.NOT_DEFINED, "File too large for netascii; use octet");
export const shuttingDown = () => new TftpError(ErrorCode.NOT_DEFINED, "Server shutting down");
export const cancelled = () => new TftpError(ErrorCode.NOT_DEFINED, "Transfer cancelled");
export const writeError = (detail?: string) => new TftpError(ErrorCode.NOT_DEFINED, "Write error", detail);

// 1, 2: the file.
export const notFound = (detail?: string) => new TftpError(ErrorCode.FILE_NOT_FOUND, "File not found", detail);
export const accessViolation = (message = "Access violation", detail?: string) =>
  new TftpError(ErrorCode.ACCESS_VIOLATION, message, detail);
export const writeRefused = () => new TftpError(ErrorCode.ACCESS_VIOLATION, "Write requests are not accepted by this server");

// 3, 6: where an upload goes.
export const diskFull = (detail?: string) => new TftpError(ErrorCode.DISK_FULL, "Disk full or allocation exceeded", detail);
export const fileExists = (detail?: string) => new TftpError(ErrorCode.FILE_EXISTS, "File already exists", detail);

// 4: the packet.
export const illegalOperation = (message: string, detail?: string) => new TftpError(ErrorCode.ILLEGAL_OPERATION, message, detail);
export const malformed = (reason: string) => new TftpError(ErrorCode.ILLEGAL_OPERATION, `Illegal TFTP operation (${reason})`);
export const unsupportedMode = (mode: string) => new TftpError(ErrorCode.ILLEGAL_OPERATION, `Unsupported transfer mode '${mode}'`);

// 5: a stranger at a transfer's port (RFC 1350 §4).
export const unknownTid = () => new TftpError(ErrorCode.UNKNOWN_TID, "Unknown transfer ID");
/** Sent to every stranger: a flood of them must not allocate a packet each. */
export const UNKNOWN_TID_PACKET = unknownTid().encode();

// 8: option negotiation (RFC 2347).
export const optionRefused = (reason: string) => new TftpError(ErrorCode.OPTION_REFUSED, reason);
/** What a PXE ROM answers an OACK with when it only wanted the size. */
export const tsizeProbe = () => new TftpError(ErrorCode.OPTION_REFUSED, "tsize probe");

// A receiving side (pxeboot get and bench) refusing what the sender sent.
export const unexpectedOpcode = (op: number) => illegalOperation(`unexpected opcode ${op}`);
export const oversizedData = (block: number, blockSize: number) => illegalOperation(`DATA ${block} larger than blksize ${blockSize}`);
/** A size probe answered with DATA: the server ignored the options, so there is no size to learn. */
export const noOackForProbe = () => optionRefused("server answered without OACK: no tsize");
