/**
 * The HOST argument of `pxeboot host`: one IPv4 address, a CIDR block, a range, or a MAC.
 * Expansion is bounded so a typo like /8 fails with a message instead of writing 16 M links.
 */
import { UsageError } from "../usage-error.ts";
import { MAX_HOSTS, decodeHexName, formatHexNetwork, formatIPv4, parseClientName, parseIPv4, type IPv4, type Mac } from "./hexip.ts";

export type HostSpec = { kind: "ips"; ips: IPv4[] } | { kind: "mac"; mac: Mac };

const HOST_FORMS =
  "use an IPv4 address (192.168.0.11 or its hex name C0A8000B), a CIDR block (192.168.0.0/24), a range (192.168.0.10-192.168.0.20 or 192.168.0.10-20) or a MAC (aa:bb:cc:dd:ee:ff or 01-aa-bb-cc-dd-ee-ff)";

export function parseHostSpec(text: string, maxHosts = MAX_HOSTS): HostSpec {
  const s = text.trim();
  const one = parseClientName(s);
  if (one) return "mac" in one ? { kind: "mac", mac: one.mac } : { kind: "ips", ips: [one.ip] };
  // A shorter hex name is a subnet-wide entry someone wrote by hand, not a host of ours.
  const net = /^[0-9A-F]{1,7}$/.test(s) ? decodeHexName(s) : undefined;
  if (net)
    throw new UsageError(
      `'${s}' is the subnet entry for ${formatHexNetwork(net)}, not one host: edit pxelinux.cfg/${s} by hand, or give hosts (${formatHexNetwork(net)})`,
    );
  const cidr = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  if (cidr) return { kind: "ips", ips: expandCidr(s, cidr[1]!, Number(cidr[2]), maxHosts) };
  const range = /^([\d.]+)-([\d.]+)$/.exec(s);
  if (range) return { kind: "ips", ips: expandRange(s, range[1]!, range[2]!, maxHosts) };
  throw new UsageError(`'${text}' is not a host: ${HOST_FORMS}`);
}

function expandCidr(spec: string, base: string, bits: number, maxHosts: number): IPv4[] {
  const ip = parseIPv4(base);
  if (ip === undefined || bits > 32) throw new UsageError(`'${spec}' is not a valid CIDR block: ${HOST_FORMS}`);
  const size = 2 ** (32 - bits);
  // Network and broadcast addresses are never hosts, except in /31 and /32.
  const skipEnds = bits <= 30;
  const count = skipEnds ? size - 2 : size;
  if (count > maxHosts)
    throw new UsageError(`'${spec}' expands to ${count} hosts, more than ${maxHosts}: split it into smaller blocks`);
  const network = bits === 0 ? 0 : (ip & (~0 << (32 - bits))) >>> 0;
  if (network !== ip)
    throw new UsageError(`'${spec}' has host bits set: did you mean ${formatIPv4(network)}/${bits}?`);
  const first = skipEnds ? network + 1 : network;
  return Array.from({ length: count }, (_, i) => (first + i) >>> 0);
}

function expandRange(spec: string, fromText: string, toText: string, maxHosts: number): IPv4[] {
  const from = parseIPv4(fromText);
  // "192.168.0.10-20" abbreviates the last octet of the end address.
  const to = /^\d{1,3}$/.test(toText) && from !== undefined ? withLastOctet(from, Number(toText)) : parseIPv4(toText);
  if (from === undefined || to === undefined) throw new UsageError(`'${spec}' is not a valid range: ${HOST_FORMS}`);
  if (to < from) throw new UsageError(`'${spec}' ends before it starts: write the lower address first`);
  const count = to - from + 1;
  if (count > maxHosts)
    throw new UsageError(`'${spec}' expands to ${count} hosts, more than ${maxHosts}: split it into smaller ranges`);
  return Array.from({ length: count }, (_, i) => (from + i) >>> 0);
}

function withLastOctet(ip: IPv4, octet: number): IPv4 | undefined {
  return octet > 255 ? undefined : ((ip & 0xffffff00) | octet) >>> 0;
}
