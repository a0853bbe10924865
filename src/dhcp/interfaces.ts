/**
 * An interface's IPv4 address, read from the kernel (SIOCGIFADDR) rather than through
 * os.networkInterfaces(): that one leaves out interfaces without carrier (libuv keeps only
 * IFF_RUNNING ones), and a PXE segment's NIC or bridge may have none at the moment we start,
 * before the first machine powers on.
 */
import { FFIType, ptr } from "bun:ffi";
import { readdirSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { openLibc } from "../libc.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SIOCGIFADDR = 0x8915;
/** struct ifreq: char ifr_name[16], then a struct sockaddr_in (family, port, address). */
const IFREQ_BYTES = 40;

type Libc = {
  socket: (domain: number, type: number, protocol: number) => number;
  ioctl: (fd: number, request: number, arg: number) => number;
  close: (fd: number) => number;
};

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc === undefined)
    libc = openLibc<Libc>({
      socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
      close: { args: [FFIType.i32], returns: FFIType.i32 },
    });
  return libc;
}

/** The interface's (first) IPv4 address, or undefined when it has none or does not exist. */
export function interfaceIPv4(name: string): string | undefined {
  const c = load();
  if (!c) return networkInterfaces()[name]?.find((a) => a.family === "IPv4")?.address;
  const req = new Uint8Array(IFREQ_BYTES);
  const bytes = new TextEncoder().encode(name);
  if (bytes.length > 15) return undefined;
  req.set(bytes);
  const fd = c.socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return undefined;
  try {
    if (c.ioctl(fd, SIOCGIFADDR, ptr(req) as unknown as number) !== 0) return undefined;
  } finally {
    c.close(fd);
  }
  return `${req[20]}.${req[21]}.${req[22]}.${req[23]}`;
}

/** Every interface name this host has, loopback included. */
export function interfaceNames(): string[] {
  try {
    return readdirSync("/sys/class/net").sort();
  } catch {
    return Object.keys(networkInterfaces()).sort();
  }
}
