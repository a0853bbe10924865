/**
 * DHCP/BOOTP packets (RFC 2131 §2, RFC 2132), parsed and built without sockets. Parsing is
 * strict where a wrong guess would make us answer something we do not understand (a header cut
 * short, an option running past the end, a missing magic cookie) and lenient where real firmware
 * is sloppy (PAD runs, a missing END). Option 52 (overload) is followed into the `file` and
 * `sname` fields; an option given more than once is joined, as RFC 3396 says.
 */

/** The fixed BOOTP header: op … file, without the magic cookie. */
export const HEADER_BYTES = 236;
/** Header plus the magic cookie: the smallest packet that can be DHCP. */
export const MIN_DHCP_BYTES = HEADER_BYTES + 4;
/** BOOTP relays and old clients drop anything shorter (RFC 1542 §2.1): replies are padded to it. */
export const MIN_REPLY_BYTES = 300;
const COOKIE = 0x63825363;
const SNAME_AT = 44;
const SNAME_BYTES = 64;
const FILE_AT = 108;
const FILE_BYTES = 128;

export const OPT = {
  PAD: 0,
  VENDOR_SPECIFIC: 43,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  VENDOR_CLASS: 60,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  IPXE_ENCAP: 175,
  END: 255,
} as const;

export const MSG = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;

/** One DHCP message. Addresses are dotted quads; `chaddr` is all 16 bytes of the field. */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: Uint8Array;
  /** The field as text up to its first NUL (empty when it carries overloaded options). */
  sname: string;
  file: string;
  /** Each option's value, instances of one code joined; in the order first seen. */
  options: Map<number, Uint8Array>;
}

export type ParseResult = { ok: true; packet: DhcpPacket } | { ok: false; reason: string };

export function parseDhcp(buf: Uint8Array): ParseResult {
  if (buf.length < MIN_DHCP_BYTES) return { ok: false, reason: `${buf.length} bytes: shorter than a DHCP header (${MIN_DHCP_BYTES})` };
  if (readU32(buf, HEADER_BYTES) !== COOKIE) return { ok: false, reason: "no DHCP magic cookie (plain BOOTP)" };
  const options = new Map<number, Uint8Array>();
  const main = readOptions(buf, MIN_DHCP_BYTES, buf.length, options, "options");
  if (typeof main === "string") return { ok: false, reason: main };
  // Option 52 says the file and/or sname fields hold options too, read after the main area (§4.1).
  const overload = options.get(OPT.OVERLOAD);
  let fileHoldsOptions = false;
  let snameHoldsOptions = false;
  if (overload) {
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) return { ok: false, reason: "option 52 (overload) is not 1, 2 or 3" };
    fileHoldsOptions = (overload[0]! & 1) !== 0;
    snameHoldsOptions = (overload[0]! & 2) !== 0;
    // Overloaded fields may not overload again: drop 52 so a second one inside is not taken for it.
    options.delete(OPT.OVERLOAD);
    if (fileHoldsOptions) {
      const r = readOptions(buf, FILE_AT, FILE_AT + FILE_BYTES, options, "file field");
      if (typeof r === "string") return { ok: false, reason: r };
    }
    if (snameHoldsOptions) {
      const r = readOptions(buf, SNAME_AT, SNAME_AT + SNAME_BYTES, options, "sname field");
      if (typeof r === "string") return { ok: false, reason: r };
    }
    options.delete(OPT.OVERLOAD);
    options.set(OPT.OVERLOAD, overload);
  }
  return {
    ok: true,
    packet: {
      op: buf[0]!,
      htype: buf[1]!,
      hlen: buf[2]!,
      hops: buf[3]!,
      xid: readU32(buf, 4),
      secs: (buf[8]! << 8) | buf[9]!,
      flags: (buf[10]! << 8) | buf[11]!,
      ciaddr: ipAt(buf, 12),
      yiaddr: ipAt(buf, 16),
      siaddr: ipAt(buf, 20),
      giaddr: ipAt(buf, 24),
      chaddr: buf.slice(28, 44),
      sname: snameHoldsOptions ? "" : cString(buf, SNAME_AT, SNAME_BYTES),
      file: fileHoldsOptions ? "" : cString(buf, FILE_AT, FILE_BYTES),
      options,
    },
  };
}

/**
 * Reads code/length/value triples from [start, end) into `into`; stops at END or the end of the
 * area. Returns an error text when an option's length runs past the area.
 */
function readOptions(buf: Uint8Array, start: number, end: number, into: Map<number, Uint8Array>, area: string): string | undefined {
  let i = start;
  // Each step consumes at least one byte, so the loop is bounded by the area's size.
  while (i < end) {
    const code = buf[i]!;
    if (code === OPT.END) return undefined;
    if (code === OPT.PAD) {
      i++;
      continue;
    }
    if (i + 1 >= end) return `option ${code} in the ${area} has no length byte`;
    const len = buf[i + 1]!;
    if (i + 2 + len > end) return `option ${code} in the ${area} claims ${len} bytes, past the end`;
    // One copy (slice), not a view and then a copy: a storm parses a thousand of these a second.
    const value = buf.slice(i + 2, i + 2 + len);
    const before = into.get(code);
    into.set(code, before ? concat(before, value) : value);
    i += 2 + len;
  }
  return undefined;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function ipAt(buf: Uint8Array, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

function cString(buf: Uint8Array, at: number, max: number): string {
  let end = at;
  while (end < at + max && buf[end] !== 0) end++;
  // Clients leave both fields empty: no view, no decoder for that.
  return end === at ? "" : latin1.decode(buf.subarray(at, end));
}

/** Writes `text` at `at`; byte for byte when it is ASCII (boot file names and URLs are), else UTF-8. */
function writeText(out: Uint8Array, at: number, text: string, max: number, field: string): void {
  let ascii = true;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7e) ascii = false;
  if (ascii) {
    if (text.length >= max) throw new Error(`${field} longer than ${max - 1} bytes: ${text}`);
    for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
    return;
  }
  const bytes = utf8.encode(text);
  if (bytes.length >= max) throw new Error(`${field} longer than ${max - 1} bytes: ${text}`);
  out.set(bytes, at);
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextEncoder();

/** Writes "a.b.c.d" as four bytes at `at`; throws on anything else (callers pass addresses they built). */
function writeIp(out: Uint8Array, at: number, ip: string): void {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || value > 255 || part > 3) throw new Error(`not an IPv4 address: ${ip}`);
      out[at + part++] = value;
      value = digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
    } else throw new Error(`not an IPv4 address: ${ip}`);
  }
  if (part !== 4) throw new Error(`not an IPv4 address: ${ip}`);
}

/** "a.b.c.d" → its four bytes; throws on anything else. */
export function ipBytes(ip: string): Uint8Array {
  const out = new Uint8Array(4);
  writeIp(out, 0, ip);
  return out;
}

/**
 * Encodes a packet. Options go in the options area only (never overloaded: our replies are
 * small), a value longer than 255 bytes is split into instances of the same code (RFC 3396),
 * and the packet is padded to the BOOTP minimum. `sname` and `file` must fit their fields.
 */
export function buildDhcp(p: DhcpPacket): Uint8Array {
  let optionBytes = 1;
  for (const v of p.options.values()) optionBytes += Math.max(1, Math.ceil(v.length / 255)) * 2 + v.length;
  const out = new Uint8Array(Math.max(MIN_REPLY_BYTES, MIN_DHCP_BYTES + optionBytes));
  out[0] = p.op;
  out[1] = p.htype;
  out[2] = p.hlen;
  out[3] = p.hops;
  // Big-endian by hand: a DataView per reply costs more than the four stores.
  writeU32(out, 4, p.xid >>> 0);
  out[8] = (p.secs >>> 8) & 255;
  out[9] = p.secs & 255;
  out[10] = (p.flags >>> 8) & 255;
  out[11] = p.flags & 255;
  writeIp(out, 12, p.ciaddr);
  writeIp(out, 16, p.yiaddr);
  writeIp(out, 20, p.siaddr);
  writeIp(out, 24, p.giaddr);
  out.set(p.chaddr.length > 16 ? p.chaddr.subarray(0, 16) : p.chaddr, 28);
  writeText(out, SNAME_AT, p.sname, SNAME_BYTES, "sname");
  writeText(out, FILE_AT, p.file, FILE_BYTES, "file");
  writeU32(out, HEADER_BYTES, COOKIE);
  let i = MIN_DHCP_BYTES;
  for (const [code, value] of p.options) {
    if (value.length <= 255) {
      out[i++] = code;
      out[i++] = value.length;
      out.set(value, i);
      i += value.length;
      continue;
    }
    for (let at = 0; at < value.length; at += 255) {
      const chunk = value.subarray(at, at + 255);
      out[i++] = code;
      out[i++] = chunk.length;
      out.set(chunk, i);
      i += chunk.length;
    }
  }
  out[i] = OPT.END;
  return out;
}

function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 255;
  out[at + 2] = (v >>> 8) & 255;
  out[at + 3] = v & 255;
}

/** Encodes sub-options (option 43's inside): code, length, value, then END. */
export function encodeSubOptions(subs: [number, Uint8Array][]): Uint8Array {
  const parts: number[] = [];
  for (const [code, v] of subs) parts.push(code, v.length, ...v);
  parts.push(OPT.END);
  return Uint8Array.from(parts);
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** The client's hardware address as aa:bb:…, for Ethernet (htype 1, hlen 6). */
export function formatChaddr(chaddr: Uint8Array, hlen: number): string {
  let out = HEX[chaddr[0]!]!;
  for (let i = 1; i < hlen; i++) out += ":" + HEX[chaddr[i]!]!;
  return out;
}
