/**
 * The names pxelinux derives from a client's identity: IPv4 as 8 upper-case hex digits (and
 * its shorter prefixes), a MAC as "01-aa-bb-cc-dd-ee-ff" (01 = Ethernet ARP type). Pure functions,
 * so the search order and the per-host file names are decided in one place.
 */

/** An IPv4 address as an unsigned 32-bit number. */
export type IPv4 = number;

/** A MAC as six lower-case hex octets joined by ":" (the canonical form used in memory). */
export type Mac = string;

/** The most hosts one `host add` may expand to: a /20. More is almost always a typo. */
export const MAX_HOSTS = 4096;

export function parseIPv4(text: string): IPv4 | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
}

export function formatIPv4(ip: IPv4): string {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join(".");
}

/** 192.168.0.11 → "C0A8000B", the full per-host name pxelinux asks for. */
export function hexIpName(ip: IPv4): string {
  return ip.toString(16).toUpperCase().padStart(8, "0");
}

/** "C0A8000B", "C0A8000", … "C": the prefixes pxelinux tries after the full name, longest first. */
export function hexIpSearch(ip: IPv4): string[] {
  const full = hexIpName(ip);
  const names: string[] = [];
  for (let len = 8; len >= 1; len--) names.push(full.slice(0, len));
  return names;
}

/** A hex name (1–8 digits) decoded to the network it covers; undefined when it is not one. */
export interface HexNetwork {
  network: IPv4;
  prefixBits: number;
}

/** Accepts only upper-case names: pxelinux asks in upper case and TFTP names are case-sensitive. */
export function decodeHexName(name: string): HexNetwork | undefined {
  if (!/^[0-9A-F]{1,8}$/.test(name)) return undefined;
  const prefixBits = name.length * 4;
  const network = (parseInt(name.padEnd(8, "0"), 16) >>> 0) as IPv4;
  return { network, prefixBits };
}

export function formatHexNetwork(n: HexNetwork): string {
  return n.prefixBits === 32 ? formatIPv4(n.network) : `${formatIPv4(n.network)}/${n.prefixBits}`;
}

/** Accepts aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff and aabbccddeeff, any case. */
export function parseMac(text: string): Mac | undefined {
  const hex = text.trim().toLowerCase();
  let digits: string | undefined;
  if (/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/.test(hex)) digits = hex.replace(/[:-]/g, "");
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(hex)) digits = hex.replace(/\./g, "");
  else if (/^[0-9a-f]{12}$/.test(hex)) digits = hex;
  if (!digits) return undefined;
  return digits.match(/../g)!.join(":");
}

/** aa:bb:… → "01-aa-bb-cc-dd-ee-ff", the name pxelinux asks for first. */
export function macName(mac: Mac): string {
  return "01-" + mac.replaceAll(":", "-");
}

/** "01-aa-bb-cc-dd-ee-ff" (lower case, as pxelinux asks) → the MAC; undefined otherwise. */
export function decodeMacName(name: string): Mac | undefined {
  const m = /^01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/.exec(name);
  return m ? m[1]!.replace(/-/g, ":") : undefined;
}

/** pxelinux asks for the UUID name in lower case with dashes (8-4-4-4-12). */
export function parseUuid(text: string): string | undefined {
  const u = text.trim().toLowerCase();
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(u) ? u : undefined;
}

/**
 * A single client as `host list` names it: a dotted IPv4, its 8-digit hex name (C0A8000B, any
 * case), a MAC in any common form, or its pxelinux name (01-aa-bb-cc-dd-ee-ff).
 */
export function parseClientName(text: string): { ip: IPv4 } | { mac: Mac } | undefined {
  const s = text.trim();
  const ip = parseIPv4(s);
  if (ip !== undefined) return { ip };
  if (/^[0-9a-fA-F]{8}$/.test(s)) return { ip: parseInt(s, 16) >>> 0 };
  const mac = parseMac(s) ?? (/^01-/i.test(s) ? parseMac(s.slice(3)) : undefined);
  return mac ? { mac } : undefined;
}
