/**
 * The proxy DHCP's sockets: per served interface, one on port 67 bound to the interface
 * (SO_BINDTODEVICE: Bun does not say which interface a broadcast came in on, and a broadcast
 * reply from an unbound socket fails with ENETUNREACH) and one on the interface's address, port
 * 4011. Bound as root, before the privilege drop, like the TFTP port. Every decision is
 * proxy.ts's; this file moves datagrams.
 */
import type { udp } from "bun";
import type { Logger } from "../log.ts";
import { bindToInterface, disableRecvErr, setReceiveBuffer, socketFd, UDP_FLAG_REUSEPORT } from "../server/io/sockopt.ts";
import { UsageError } from "../usage-error.ts";
import { treeFacts } from "./tree-facts.ts";
import { answerDatagram, type ProxyContext, type ProxyDhcpCounts } from "./proxy.ts";
import type { RequestPort } from "./pxe-request.ts";
import { StormGuard } from "./storm-guard.ts";
import { udpPortHolders } from "./port-holder.ts";
import { interfaceIPv4, interfaceNames } from "./interfaces.ts";

export const DHCP_SERVER_PORT = 67;
export const PXE_BOOT_SERVER_PORT = 4011;

/**
 * A rack powering on sends its DISCOVERs within milliseconds; the default 208 KiB buffer holds
 * ~250 of them (each costs ~830 bytes of buffer), the rest would be lost before we read one.
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface ProxyDhcpOptions {
  root: string;
  /** Interface names; empty: every interface with an IPv4 address, loopback aside. */
  interfaces: string[];
  knownOnly: boolean;
  /** Leave port 67 to the site's DHCP server (it sends option 60 PXEClient); answer on 4011 only. */
  binlOnly: boolean;
  /** serve --http's port: HTTP Boot clients and iPXE get URLs. */
  httpPort?: number;
  log: Logger;
  counts: ProxyDhcpCounts;
  now?: () => number;
  /** Told of each boot file offered (the boot records' first step of a boot). */
  onOffer?: (mac: string, file: string) => void;
}

export interface ServedInterface {
  name: string;
  address: string;
}

export interface RunningProxyDhcp {
  served: ServedInterface[];
  close(): void;
}

/** What servedInterfaces needs to know of the host (tests pass their own). */
export interface InterfaceTable {
  names(): string[];
  ipv4(name: string): string | undefined;
}

const hostInterfaces: InterfaceTable = { names: interfaceNames, ipv4: interfaceIPv4 };

/** Names → their IPv4 address; every interface with one (loopback aside) when none are named. */
export function servedInterfaces(names: string[], table: InterfaceTable = hostInterfaces): ServedInterface[] {
  if (names.length === 0) {
    const all = table
      .names()
      .filter((n) => n !== "lo")
      .map((name) => ({ name, address: table.ipv4(name) }))
      .filter((i): i is ServedInterface => i.address !== undefined && !i.address.startsWith("127."));
    if (all.length === 0) throw new UsageError("--proxy-dhcp all: this host has no interface with an IPv4 address to serve");
    return all;
  }
  const known = table.names();
  return names.map((name) => {
    if (!known.includes(name)) throw new UsageError(`--proxy-dhcp: no interface '${name}' (this host has: ${known.join(", ")})`);
    const address = table.ipv4(name);
    if (!address) throw new UsageError(`--proxy-dhcp: interface '${name}' has no IPv4 address (PXE is IPv4): give it one, or name another`);
    return { name, address };
  });
}

export async function startProxyDhcp(opts: ProxyDhcpOptions): Promise<RunningProxyDhcp> {
  const served = servedInterfaces(opts.interfaces);
  const ctx: ProxyContext = {
    tree: treeFacts(opts.root),
    policy: { knownOnly: opts.knownOnly, ...(opts.httpPort !== undefined ? { httpPort: opts.httpPort } : {}) },
    guard: new StormGuard(),
    counts: opts.counts,
  };
  const now = opts.now ?? (() => performance.now());
  const sockets: udp.Socket<"uint8array">[] = [];
  const outboxes = new Map<udp.Socket<"uint8array">, Outbox>();
  const onData = (port: RequestPort, serverAddress: string) => (s: udp.Socket<"uint8array">, data: Uint8Array, fromPort: number, fromAddress: string) => {
    const out = answerDatagram(ctx, data, { address: fromAddress, port: fromPort }, port, serverAddress, now());
    if (out.log && (out.log.level === "info" || opts.log.level === "debug")) opts.log[out.log.level](out.log.message, out.log.fields);
    if (!out.reply) return;
    if (out.offered) opts.onOffer?.(out.offered.mac, out.offered.file);
    let box = outboxes.get(s);
    if (!box) outboxes.set(s, (box = outbox(s, opts.log)));
    box.push(out.reply.bytes, out.reply.to.port, out.reply.to.address);
  };
  try {
    for (const iface of served) {
      if (!opts.binlOnly) sockets.push(await bindDhcpPort(iface, onData("dhcp", iface.address)));
      sockets.push(await bindUdp(iface.address, PXE_BOOT_SERVER_PORT, false, onData("binl", iface.address), iface));
    }
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
  return { served, close: () => sockets.forEach((s) => s.close()) };
}

export interface Outbox {
  push(bytes: Uint8Array, port: number, address: string): void;
}

/** A turn's replies are sent at its end, or as soon as this many wait (the first must not wait for the storm's last). */
const FLUSH_AT = 32;
const MAX_FLUSH_TRIES = 20;

/**
 * The replies of one event-loop turn, sent together (`sendMany`: one sendmmsg for a storm's
 * worth, not one system call each). A short count (a full send buffer) is tried again on the
 * next turn, a bounded number of times; what is still left then is dropped and said at debug:
 * the client resends its DISCOVER.
 */
export function outbox(s: Pick<udp.Socket<"uint8array">, "sendMany">, log: Logger): Outbox {
  const queue: (Uint8Array | number | string)[] = [];
  let scheduled = false;
  let tries = 0;
  const flush = () => {
    scheduled = false;
    if (queue.length === 0) return;
    let sent = 0;
    try {
      sent = s.sendMany(queue);
    } catch (err) {
      log.warn("proxy DHCP: replies failed", { replies: queue.length / 3, error: (err as Error).message });
      queue.length = 0;
      return;
    }
    queue.splice(0, sent * 3);
    tries = sent > 0 ? 0 : tries + 1;
    if (queue.length === 0) return;
    if (tries >= MAX_FLUSH_TRIES) {
      log.debug("proxy DHCP: replies not sent (socket buffer full)", { replies: queue.length / 3 });
      queue.length = 0;
      tries = 0;
      return;
    }
    schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  return {
    push(bytes, port, address) {
      queue.push(bytes, port, address);
      if (queue.length >= FLUSH_AT * 3 && tries === 0) flush();
      else schedule();
    },
  };
}

type OnData = (s: udp.Socket<"uint8array">, data: Uint8Array, port: number, address: string) => void;

async function bindDhcpPort(iface: ServedInterface, onData: OnData): Promise<udp.Socket<"uint8array">> {
  // SO_REUSEPORT: one socket per interface on 0.0.0.0:67, and beside a DHCP server that allows it.
  const s = await bindUdp("0.0.0.0", DHCP_SERVER_PORT, true, onData, iface);
  if (!bindToInterface(socketFd(s), iface.name)) {
    s.close();
    throw new UsageError(`--proxy-dhcp: cannot bind port ${DHCP_SERVER_PORT} to interface ${iface.name} (SO_BINDTODEVICE needs root or CAP_NET_RAW)`);
  }
  s.setBroadcast(true);
  return s;
}

async function bindUdp(address: string, port: number, reusePort: boolean, onData: OnData, iface: ServedInterface): Promise<udp.Socket<"uint8array">> {
  try {
    const options: udp.SocketOptions<"uint8array"> & { flags?: number } = {
      hostname: address,
      port,
      binaryType: "uint8array",
      socket: { data: onData, error: () => {} },
    };
    if (reusePort) options.flags = UDP_FLAG_REUSEPORT;
    const s = await Bun.udpSocket(options);
    disableRecvErr(socketFd(s));
    setReceiveBuffer(socketFd(s), RECEIVE_BUFFER_BYTES);
    return s;
  } catch (err) {
    throw new UsageError(bindFailure(port, iface, (err as NodeJS.ErrnoException).code ?? (err as Error).message));
  }
}

/** The one start-up line for a port we could not take: which, who has it, and what to do. */
export function bindFailure(port: number, iface: ServedInterface, code: string, holders = udpPortHolders(port)): string {
  const where = `UDP port ${port} on ${iface.name} (${iface.address})`;
  if (code === "EACCES") return `--proxy-dhcp cannot bind ${where}: it needs root (or CAP_NET_BIND_SERVICE)`;
  if (code !== "EADDRINUSE") return `--proxy-dhcp cannot bind ${where}: ${code}`;
  const who = holders.length > 0 ? holders.map((h) => `${h.name} (pid ${h.pid}, on ${h.address})`).join(", ") : "another process";
  if (port !== DHCP_SERVER_PORT) return `--proxy-dhcp cannot bind ${where}: held by ${who}`;
  return (
    `--proxy-dhcp cannot bind ${where}: held by ${who}, which does not share it. ` +
    `Either let it share (dnsmasq: --bind-interfaces), or leave port 67 to it: make it send option 60 "PXEClient" ` +
    `(dnsmasq: dhcp-option-force=60,PXEClient; ISC dhcpd: option vendor-class-identifier "PXEClient";) and serve with --proxy-dhcp-4011-only`
  );
}
