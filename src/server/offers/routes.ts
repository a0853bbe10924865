/**
 * Which interface a reply to a client leaves by, from the kernel's routing tables as text
 * (/proc/net/route, /proc/net/ipv6_route): parsed and matched here without any I/O, so the rules
 * (longest prefix, then lowest metric; rejected and down routes skipped; loopback and our own
 * addresses go out on lo) are tested with fixture text. path-mtu.ts does the reading.
 */
import { addressBytes, contains, type Block } from "../admission/client-filter.ts";

export interface Route {
  block: Block;
  iface: string;
  metric: number;
  /** The route's own MTU (`ip route … mtu N`); 0 when it has none and the interface's applies. */
  mtu: number;
}

const RTF_UP = 0x1;
const RTF_REJECT = 0x200;
/** IPv6 routes to this host's own addresses: the kernel loops them back whatever device they name. */
const RTF_LOCAL = 0x80000000;

/**
 * /proc/net/route: a header line, then one route per line (Iface, Destination, Gateway, Flags,
 * RefCnt, Use, Metric, Mask, MTU, …). Destination and Mask are the address's four bytes as one
 * hex number in host order, which is little-endian on every machine pxeboot ships for.
 */
export function parseIpv4Routes(text: string): Route[] {
  const routes: Route[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 9) continue;
    const flags = parseInt(f[3]!, 16);
    if (!(flags & RTF_UP) || flags & RTF_REJECT) continue;
    const dest = hostOrderBytes(f[1]!);
    const mask = hostOrderBytes(f[7]!);
    if (!dest || !mask) continue;
    routes.push({ block: { network: dest, bits: maskBits(mask) }, iface: f[0]!, metric: Number(f[6]) || 0, mtu: Number(f[8]) || 0 });
  }
  return routes;
}

/**
 * /proc/net/ipv6_route: destination (32 hex digits), its prefix length (hex), source and its
 * length, next hop, metric, refcount, use, flags, device.
 */
export function parseIpv6Routes(text: string): Route[] {
  const routes: Route[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^[0-9a-f]{32}$/i.test(f[0]!)) continue;
    const flags = parseInt(f[8]!, 16);
    if (!(flags & RTF_UP) || flags & RTF_REJECT) continue;
    const network = new Uint8Array(16);
    for (let i = 0; i < 16; i++) network[i] = parseInt(f[0]!.slice(2 * i, 2 * i + 2), 16);
    const iface = flags & RTF_LOCAL ? "lo" : f[9]!;
    routes.push({ block: { network, bits: parseInt(f[1]!, 16) }, iface, metric: parseInt(f[5]!, 16), mtu: 0 });
  }
  return routes;
}

function hostOrderBytes(hex: string): Uint8Array | undefined {
  if (!/^[0-9a-f]{8}$/i.test(hex)) return undefined;
  const n = parseInt(hex, 16);
  return Uint8Array.of(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24);
}

function maskBits(mask: Uint8Array): number {
  let bits = 0;
  for (const b of mask) for (let i = 7; i >= 0 && b & (1 << i); i--) bits++;
  return bits;
}

export interface RouteMatch {
  iface: string;
  /** The route's own MTU, 0 when none. */
  mtu: number;
  /** IPv4 (also for ::ffff: mapped clients, which the wire carries as IPv4) or IPv6: the header size differs. */
  family: 4 | 6;
  /** The matched network as "address/bits": what a cache may key on (every client in it goes the same way). */
  network: string;
}

/** The route a reply to `address` takes, or undefined when no route matches (or the address is no IP). */
export function routeFor(address: string, v4: Route[], v6: Route[]): RouteMatch | undefined {
  const bytes = addressBytes(address);
  if (!bytes) return undefined;
  const family = bytes.length === 4 ? 4 : 6;
  if (family === 4 ? bytes[0] === 127 : bytes.every((b, i) => b === (i === 15 ? 1 : 0)))
    return { iface: "lo", mtu: 0, family, network: family === 4 ? "127.0.0.0/8" : "::1/128" };
  let best: Route | undefined;
  for (const r of family === 4 ? v4 : v6) {
    if (!contains(r.block, bytes)) continue;
    if (!best || r.block.bits > best.block.bits || (r.block.bits === best.block.bits && r.metric < best.metric)) best = r;
  }
  if (!best) return undefined;
  return { iface: best.iface, mtu: best.mtu, family, network: `${formatNetwork(best.block)}/${best.block.bits}` };
}

function formatNetwork(b: Block): string {
  if (b.network.length === 4) return b.network.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b.network[i]! << 8) | b.network[i + 1]!).toString(16));
  return groups.join(":");
}

/** IPv4 header 20 bytes, IPv6 40 (no options or extension headers), UDP 8, TFTP DATA header 4. */
export function blockSizeForMtu(mtu: number, family: 4 | 6): number {
  return mtu - (family === 4 ? 20 : 40) - 8 - 4;
}
