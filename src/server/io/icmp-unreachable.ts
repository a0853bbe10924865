/**
 * Which client ports answered with ICMP "port unreachable": the transfer to a client whose socket
 * closed ends at the first one, instead of resending into a closed port until its retries run out.
 *
 * Why raw ICMP sockets, not the transfer socket's own error queue: the transfer sockets are
 * shared and unconnected, so the kernel reports an ICMP error on them only with IP_RECVERR, in
 * the socket's error queue, whose entry names the failed destination (msg_name of a
 * recvmsg(MSG_ERRQUEUE)). But Bun's event loop reads that queue itself as soon as epoll reports
 * EPOLLERR, with msg_name NULL, and hands the `error` handler a bare ECONNREFUSED (strace, Bun
 * 1.4.5): on a real network the ICMP arrives while the loop waits in epoll, so Bun always reads it
 * first and which client failed is lost (on loopback it comes back inside the send and could be
 * read, which would make tests pass and farms not). Worse, the pending error makes the next send
 * to any client on that socket fail (BUN-NOTES). So IP_RECVERR stays off on the transfer sockets
 * (sockopt.ts disableRecvErr), and this reads the ICMP itself: a raw ICMP (and ICMPv6) socket per
 * process, filtered in the kernel to "destination unreachable", opened before privileges are
 * dropped (CAP_NET_RAW; without it nothing is watched and a vanished client costs its retries).
 * The quoted datagram names our port and the client's address and port: exact attribution.
 *
 * Trust: an ICMP message can be forged by anyone who knows the transfer's two ports, but so can
 * an ERROR packet from the client's address, which ends a transfer just as well; the quoted
 * datagram must also start with an opcode this server sends.
 */
import { FFIType, ptr } from "bun:ffi";
import { openLibc } from "../../libc.ts";

export interface Unreachable {
  /** Our end: the transfer socket's address and port, as the quoted datagram's source. */
  localAddress: string;
  localPort: number;
  /** The client's end that is gone. */
  address: string;
  port: number;
}

const ICMP_DEST_UNREACH = 3;
const ICMP_PORT_UNREACH = 3;
const ICMP6_DST_UNREACH = 1;
const ICMP6_DST_UNREACH_NOPORT = 4;
const IPPROTO_UDP = 17;

/** Opcodes this server sends (DATA, ACK, ERROR, OACK): a quoted datagram that is none of them is not ours. */
function ourOpcode(b: Uint8Array, at: number): boolean {
  return b.length >= at + 2 && b[at] === 0 && (b[at + 1] === 3 || b[at + 1] === 4 || b[at + 1] === 5 || b[at + 1] === 6);
}

/**
 * A port unreachable as a raw IPv4 ICMP socket reads it (the IP header first), or as a raw
 * ICMPv6 socket reads it (the ICMPv6 header first); undefined for anything else.
 */
export function parseUnreachable(b: Uint8Array, family: 4 | 6): Unreachable | undefined {
  if (family === 4) {
    if (b.length < 20 || b[0]! >> 4 !== 4) return undefined;
    const icmp = (b[0]! & 0x0f) * 4;
    if (b.length < icmp + 8 + 20 || b[icmp] !== ICMP_DEST_UNREACH || b[icmp + 1] !== ICMP_PORT_UNREACH) return undefined;
    const inner = icmp + 8;
    if (b[inner]! >> 4 !== 4 || b[inner + 9] !== IPPROTO_UDP) return undefined;
    const udp = inner + (b[inner]! & 0x0f) * 4;
    if (b.length < udp + 8 || !ourOpcode(b, udp + 8)) return undefined;
    return {
      localAddress: `${b[inner + 12]}.${b[inner + 13]}.${b[inner + 14]}.${b[inner + 15]}`,
      localPort: (b[udp]! << 8) | b[udp + 1]!,
      address: `${b[inner + 16]}.${b[inner + 17]}.${b[inner + 18]}.${b[inner + 19]}`,
      port: (b[udp + 2]! << 8) | b[udp + 3]!,
    };
  }
  if (b.length < 8 + 40 + 8 || b[0] !== ICMP6_DST_UNREACH || b[1] !== ICMP6_DST_UNREACH_NOPORT) return undefined;
  const inner = 8;
  // Extension headers are not followed: UDP right after the fixed header, as this server sends it.
  if (b[inner]! >> 4 !== 6 || b[inner + 6] !== IPPROTO_UDP || !ourOpcode(b, inner + 48)) return undefined;
  const udp = inner + 40;
  return {
    localAddress: ipv6(b, inner + 8),
    localPort: (b[udp]! << 8) | b[udp + 1]!,
    address: ipv6(b, inner + 24),
    port: (b[udp + 2]! << 8) | b[udp + 3]!,
  };
}

/** Compressed text form, as Bun reports peer addresses ("::1", "fe80::1", "::ffff:10.0.0.5"). */
function ipv6(b: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

type Libc = {
  socket: (domain: number, type: number, protocol: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: number, len: number) => number;
  recv: (fd: number, buf: number, len: number, flags: number) => number;
  close: (fd: number) => number;
};

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const ICMP6_FILTER = 1;
const MSG_DONTWAIT = 0x40;
/** Reads per poll at most, so a flood of ICMP can't hold the event loop. */
const READS_PER_POLL = 256;

/** Raw ICMP sockets of this process, read without waiting. */
export class UnreachableWatch {
  private readonly buf = new Uint8Array(2048);

  private constructor(
    private readonly libc: Libc,
    private readonly sockets: { fd: number; family: 4 | 6 }[],
  ) {}

  /** Null without CAP_NET_RAW (or without libc): then no transfer learns of ICMP. */
  static open(): UnreachableWatch | null {
    const libc = openLibc<Libc>({
      socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
      recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
      close: { args: [FFIType.i32], returns: FFIType.i32 },
    });
    if (!libc) return null;
    const sockets: { fd: number; family: 4 | 6 }[] = [];
    const v4 = libc.socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (v4 >= 0) {
      // The kernel drops every ICMP type whose bit is set: all but destination unreachable.
      libc.setsockopt(v4, SOL_RAW, ICMP_FILTER, ptr(new Uint32Array([~(1 << ICMP_DEST_UNREACH) >>> 0])) as unknown as number, 4);
      sockets.push({ fd: v4, family: 4 });
    }
    const v6 = libc.socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    if (v6 >= 0) {
      // struct icmp6_filter: a set bit blocks that type.
      const filter = new Uint32Array(8).fill(0xffffffff);
      filter[0] = ~(1 << ICMP6_DST_UNREACH) >>> 0;
      libc.setsockopt(v6, IPPROTO_ICMPV6, ICMP6_FILTER, ptr(filter) as unknown as number, 32);
      sockets.push({ fd: v6, family: 6 });
    }
    return sockets.length > 0 ? new UnreachableWatch(libc, sockets) : null;
  }

  /** Reads what arrived since the last poll; `on` is called for each port unreachable. */
  poll(on: (u: Unreachable) => void): void {
    const p = ptr(this.buf) as unknown as number;
    for (const s of this.sockets) {
      for (let i = 0; i < READS_PER_POLL; i++) {
        const n = Number(this.libc.recv(s.fd, p, this.buf.length, MSG_DONTWAIT));
        if (n <= 0) break;
        const u = parseUnreachable(this.buf.subarray(0, n), s.family);
        if (u) on(u);
      }
    }
  }

  close(): void {
    for (const s of this.sockets) this.libc.close(s.fd);
    this.sockets.length = 0;
  }
}
