import { ErrorCode } from "./types.ts";

/**
 * A refusal decided anywhere in the server, carried as a value so that one place turns it into
 * the ERROR packet and the log line. `message` goes on the wire, so keep it short and free of
 * local paths.
 */
export class TftpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra detail for the log only (never sent to the client). */
    readonly detail?: string,
  ) {
    super(message);
    this.name = "TftpError";
  }
}

export const notFound = (detail?: string) => new TftpError(ErrorCode.FILE_NOT_FOUND, "File not found", detail);
export const accessViolation = (message = "Access violation", detail?: string) =>
  new TftpError(ErrorCode.ACCESS_VIOLATION, message, detail);
export const illegalOperation = (message: string, detail?: string) =>
  new TftpError(ErrorCode.ILLEGAL_OPERATION, message, detail);
