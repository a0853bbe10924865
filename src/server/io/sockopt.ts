/**
 * Socket options Bun has no API for, set through libc's setsockopt (bun:ffi). Every call is
 * best-effort: on a libc we can't load, or an option the kernel refuses, the server still runs —
 * the caller logs what it got.
 */
import { FFIType, ptr } from "bun:ffi";
import { openLibc } from "../../libc.ts";

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SOL_IP = 0;
const IP_RECVERR = 11;
const SOL_IPV6 = 41;
const IPV6_RECVERR = 25;

type Libc = {
  setsockopt: (fd: number, level: number, name: number, value: number, len: number) => number;
  getsockopt: (fd: number, level: number, name: number, value: number, len: number) => number;
};

let libc: Libc | null | undefined;

function load(): Libc | null {
  // Tried once: null (no libc found) is remembered too.
  if (libc === undefined)
    libc = openLibc<Libc>({
      setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
      getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    });
  return libc;
}

const intBuf = new Int32Array(1);
const lenBuf = new Uint32Array(1);

/** Sets an option whose value is a struct (its bytes as they are in memory). */
export function setSocketOption(fd: number, level: number, name: number, value: Int32Array | DataView): boolean {
  const c = load();
  if (!c || fd < 0) return false;
  return c.setsockopt(fd, level, name, ptr(value) as unknown as number, value.byteLength) === 0;
}

function setInt(fd: number, level: number, name: number, value: number): boolean {
  intBuf[0] = value;
  return setSocketOption(fd, level, name, intBuf);
}

function getInt(fd: number, level: number, name: number): number | undefined {
  const c = load();
  if (!c || fd < 0) return undefined;
  lenBuf[0] = 4;
  return c.getsockopt(fd, level, name, ptr(intBuf) as unknown as number, ptr(lenBuf) as unknown as number) === 0
    ? intBuf[0]
    : undefined;
}

/** The file descriptor behind a Bun UDP socket (not in Bun's types, but present). */
export function socketFd(sock: unknown): number {
  const fd = (sock as { fd?: number }).fd;
  return typeof fd === "number" ? fd : -1;
}

/**
 * Asks for a buffer of `bytes`: the plain option is capped by net.core.[rw]mem_max, so as root
 * try the FORCE variant first. Returns what the kernel actually granted (it reports double).
 */
function setBuffer(fd: number, bytes: number, plain: number, force: number): number | undefined {
  if (!setInt(fd, SOL_SOCKET, force, bytes)) setInt(fd, SOL_SOCKET, plain, bytes);
  return getInt(fd, SOL_SOCKET, plain);
}

export const setReceiveBuffer = (fd: number, bytes: number) => setBuffer(fd, bytes, SO_RCVBUF, SO_RCVBUFFORCE);
export const setSendBuffer = (fd: number, bytes: number) => setBuffer(fd, bytes, SO_SNDBUF, SO_SNDBUFFORCE);

/**
 * Bun turns on IP_RECVERR, so an ICMP "port unreachable" from one client makes the next send on
 * the socket throw, even to another client. TFTP handles loss itself; switch the queue off.
 */
export function disableRecvErr(fd: number): void {
  setInt(fd, SOL_IP, IP_RECVERR, 0);
  setInt(fd, SOL_IPV6, IPV6_RECVERR, 0);
}

const SO_BINDTODEVICE = 25;
/** Bun's undocumented udpSocket flag for SO_REUSEPORT (shared BUN-NOTES). */
export const UDP_FLAG_REUSEPORT = 4;

/**
 * Binds a socket to one interface (SO_BINDTODEVICE): it then sees only that interface's
 * datagrams and its broadcasts leave there. Needs root or CAP_NET_RAW; false when refused.
 */
export function bindToInterface(fd: number, iface: string): boolean {
  const name = new TextEncoder().encode(`${iface}\0`);
  return setSocketOption(fd, SOL_SOCKET, SO_BINDTODEVICE, new DataView(name.buffer));
}
