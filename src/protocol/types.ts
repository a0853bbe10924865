/** TFTP wire vocabulary (RFC 1350, 2347). Everything else in protocol/ builds on these types. */

export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type TransferMode = "octet" | "netascii";

/** Options as they appear on the wire: lower-cased names, raw string values, in request order. */
export type RawOptions = Map<string, string>;

export interface RequestPacket {
  op: typeof Opcode.RRQ | typeof Opcode.WRQ;
  filename: string;
  /** As sent, lower-cased; validated later so an unknown mode gets a proper ERROR 4. */
  mode: string;
  options: RawOptions;
}
export interface DataPacket {
  op: typeof Opcode.DATA;
  block: number;
  data: Uint8Array;
}
export interface AckPacket {
  op: typeof Opcode.ACK;
  block: number;
}
export interface ErrorPacket {
  op: typeof Opcode.ERROR;
  code: number;
  message: string;
}
export interface OackPacket {
  op: typeof Opcode.OACK;
  options: RawOptions;
}
export type Packet = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** Options after negotiation: what both sides will use for the transfer. */
export interface TransferOptions {
  blockSize: number;
  windowSize: number;
  /** Seconds the client asked us to wait before retransmitting (RFC 2349), if it asked. */
  timeoutSec?: number;
  /** Block number that follows 65535. */
  rollover: 0 | 1;
}

export const DEFAULT_BLOCK_SIZE = 512;
export const MIN_BLOCK_SIZE = 8;
export const MAX_BLOCK_SIZE = 65464;
export const MAX_WINDOW_SIZE = 65535;
