/**
 * Encode and decode TFTP datagrams. Decoding never throws on hostile input: it returns a
 * `DecodeFailure` that the caller turns into ERROR 4, so one bad datagram can't hurt a server.
 */
import { Opcode, type Packet, type RawOptions, type RequestPacket } from "./types.ts";

export interface DecodeFailure {
  op: 0;
  reason: string;
}

const MAX_STRINGS = 64; // an RRQ with more fields than this is garbage, not a long option list

/** Bytes as latin1, so every byte maps to one char and control bytes stay visible to the checks. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Split a NUL-terminated string list; null when the last field is not terminated. */
function nulStrings(bytes: Uint8Array, start: number): string[] | null {
  const out: string[] = [];
  let i = start;
  while (i < bytes.length) {
    const end = bytes.indexOf(0, i);
    if (end < 0) return null;
    out.push(latin1(bytes, i, end));
    if (out.length > MAX_STRINGS) return null;
    i = end + 1;
  }
  return out;
}

function decodeRequest(op: RequestPacket["op"], bytes: Uint8Array): RequestPacket | DecodeFailure {
  const fields = nulStrings(bytes, 2);
  if (!fields || fields.length < 2) return { op: 0, reason: "malformed request" };
  const [filename, mode, ...rest] = fields as [string, string, ...string[]];
  const options: RawOptions = new Map();
  // RFC 2347: name/value pairs. Some clients pad with an empty trailing string; tolerate that.
  for (let i = 0; i + 1 < rest.length; i += 2) {
    const name = rest[i]!.toLowerCase();
    if (name && !options.has(name)) options.set(name, rest[i + 1]!);
  }
  return { op, filename, mode: mode.toLowerCase(), options };
}

export function decodePacket(bytes: Uint8Array): Packet | DecodeFailure {
  if (bytes.length < 2) return { op: 0, reason: "truncated packet" };
  const op = (bytes[0]! << 8) | bytes[1]!;
  switch (op) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return decodeRequest(op, bytes);
    case Opcode.DATA:
      if (bytes.length < 4) return { op: 0, reason: "truncated DATA" };
      return { op, block: (bytes[2]! << 8) | bytes[3]!, data: bytes.subarray(4) };
    case Opcode.ACK:
      if (bytes.length < 4) return { op: 0, reason: "truncated ACK" };
      return { op, block: (bytes[2]! << 8) | bytes[3]! };
    case Opcode.ERROR: {
      if (bytes.length < 4) return { op: 0, reason: "truncated ERROR" };
      const end = bytes.indexOf(0, 4);
      return { op, code: (bytes[2]! << 8) | bytes[3]!, message: latin1(bytes, 4, end < 0 ? bytes.length : end) };
    }
    case Opcode.OACK: {
      const fields = nulStrings(bytes, 2);
      if (!fields) return { op: 0, reason: "malformed OACK" };
      const options: RawOptions = new Map();
      for (let i = 0; i + 1 < fields.length; i += 2) options.set(fields[i]!.toLowerCase(), fields[i + 1]!);
      return { op, options };
    }
    default:
      return { op: 0, reason: `unknown opcode ${op}` };
  }
}

export function isDecodeFailure(p: Packet | DecodeFailure): p is DecodeFailure {
  return p.op === 0;
}

function putStrings(out: Uint8Array, at: number, strings: readonly string[]): number {
  for (const s of strings) {
    for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i) & 0xff;
    out[at++] = 0;
  }
  return at;
}

const stringsLength = (strings: readonly string[]) => strings.reduce((n, s) => n + s.length + 1, 0);

function withOpcode(op: number, bodyLength: number): Uint8Array {
  const b = new Uint8Array(2 + bodyLength);
  b[1] = op;
  return b;
}

export function encodeAck(block: number): Uint8Array {
  const b = withOpcode(Opcode.ACK, 2);
  b[2] = (block >> 8) & 0xff;
  b[3] = block & 0xff;
  return b;
}

/** Writes the 4-byte DATA header in place: the payload is already in `packet` from offset 4. */
export function writeDataHeader(packet: Uint8Array, block: number): void {
  packet[0] = 0;
  packet[1] = Opcode.DATA;
  packet[2] = (block >> 8) & 0xff;
  packet[3] = block & 0xff;
}

export function encodeData(block: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + data.length);
  writeDataHeader(b, block);
  b.set(data, 4);
  return b;
}

export function encodeError(code: number, message: string): Uint8Array {
  const clean = message.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
  const b = withOpcode(Opcode.ERROR, 2 + clean.length + 1);
  b[2] = (code >> 8) & 0xff;
  b[3] = code & 0xff;
  putStrings(b, 4, [clean]);
  return b;
}

function pairs(options: RawOptions): string[] {
  const out: string[] = [];
  for (const [k, v] of options) out.push(k, v);
  return out;
}

export function encodeOack(options: RawOptions): Uint8Array {
  const strings = pairs(options);
  const b = withOpcode(Opcode.OACK, stringsLength(strings));
  putStrings(b, 2, strings);
  return b;
}

export function encodeRequest(
  op: RequestPacket["op"],
  filename: string,
  mode: string,
  options: RawOptions = new Map(),
): Uint8Array {
  const strings = [filename, mode, ...pairs(options)];
  const b = withOpcode(op, stringsLength(strings));
  putStrings(b, 2, strings);
  return b;
}
