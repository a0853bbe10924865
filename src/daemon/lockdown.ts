/**
 * What a process that faces clients gives up for good once it no longer needs root: the
 * capability bounding set (so nothing it runs can be given capabilities again) and, through
 * PR_SET_NO_NEW_PRIVS, the power of a set-uid or file-capability program to raise it (an
 * `--on-install` hook that runs `sudo` or a set-uid helper stays as unprivileged as the server).
 *
 * Both are per-thread attributes in Linux, and Bun starts threads of its own (JIT, allocator,
 * I/O pool) before and while this code runs. No-new-privs reaches every thread through a
 * seccomp filter installed with SECCOMP_FILTER_FLAG_TSYNC (the kernel copies the flag to each
 * thread it syncs); the filter itself allows every system call. The bounding set has no such
 * path: it is emptied on the main thread, the one that spawns children and the one
 * /proc/PID/status shows; threads started earlier keep theirs, which no-new-privs and a non-root
 * uid leave without effect. A process spawned from here inherits the main thread's set whole.
 */
import { FFIType, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import { openLibc } from "../libc.ts";

type Libc = {
  prctl: (option: number, a: number | bigint, b: number | bigint, c: number | bigint, d: number | bigint) => number;
  syscall: (n: number | bigint, a: number | bigint, b: number | bigint, c: unknown) => number | bigint;
};

const PR_CAPBSET_DROP = 24;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
/** capset(2): header version 3 (64-bit sets). */
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const SYS_CAPSET: Record<string, number> = { x64: 126, arm64: 91 };
const PR_SET_NO_NEW_PRIVS = 38;
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_TSYNC = 1;
/** seccomp(2)'s number differs by architecture; these are the targets build.ts produces. */
const SYS_SECCOMP: Record<string, number> = { x64: 317, arm64: 277 };

/** Capability numbers kept for a child spawned before the last drop. */
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_SETPCAP = 8;

let libc: Libc | null | undefined;
function load(): Libc | null {
  if (libc === undefined)
    libc = openLibc<Libc>({
      prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
      syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.ptr], returns: FFIType.i64 },
    });
  return libc;
}

function lastCap(): number {
  try {
    return Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
  } catch {
    return 63; // dropping a capability the kernel does not know is a harmless EINVAL
  }
}

/**
 * Empties the main thread's bounding set but for `keep`. Needs CAP_SETPCAP (root before the
 * drop): returns false where it could not (no libc, or not privileged).
 */
export function dropBoundingSet(keep: number[] = []): boolean {
  const c = load();
  if (!c) return false;
  let ok = true;
  for (let cap = lastCap(); cap >= 0; cap--) if (!keep.includes(cap) && c.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) !== 0) ok = false;
  return ok;
}

/** Set on every thread already (the filter synced): a second call changes nothing. */
let noNewPrivsSet = false;

/**
 * Sets no-new-privs on the main thread and, through an allow-all seccomp filter synced to every
 * thread, on all of them. Returns false where it could not (no libc, or a kernel without seccomp:
 * then only the main thread and what it spawns carry the flag).
 */
export function setNoNewPrivs(): boolean {
  // Once is enough: the flag can't be cleared, and each filter stacked would cost every call again.
  if (noNewPrivsSet) return true;
  const c = load();
  if (!c || c.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) !== 0) return false;
  const nr = SYS_SECCOMP[process.arch];
  if (nr === undefined) return false;
  // One BPF instruction, BPF_RET|BPF_K with SECCOMP_RET_ALLOW; struct sock_fprog { u16 len; ptr filter }.
  const filter = new Uint8Array(8);
  new DataView(filter.buffer).setUint16(0, 0x06, true);
  new DataView(filter.buffer).setUint32(4, 0x7fff0000, true);
  const prog = new Uint8Array(16);
  new DataView(prog.buffer).setUint16(0, 1, true);
  new DataView(prog.buffer).setBigUint64(8, BigInt(ptr(filter)), true);
  noNewPrivsSet = Number(c.syscall(nr, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, ptr(prog))) === 0;
  return noNewPrivsSet;
}

/**
 * A process started unprivileged with capabilities of its own (systemd's
 * AmbientCapabilities=CAP_NET_BIND_SERVICE for `systemd-unit --as-user`) needs them only to bind:
 * afterwards the main thread gives up every one, ambient ones included, so nothing it spawns
 * inherits them. Threads started before keep theirs (see above).
 */
export function dropCapabilities(): boolean {
  const c = load();
  const nr = SYS_CAPSET[process.arch];
  if (!c || nr === undefined) return false;
  c.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  const header = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
  const data = new Uint32Array(6); // effective, permitted, inheritable × two words: all empty
  return Number(c.syscall(nr, BigInt(ptr(header)), BigInt(ptr(data)), null)) === 0;
}

/** What /proc says of a process: for the start-up log and for tests. */
export interface ProcessPrivileges {
  uid: number;
  noNewPrivs: boolean;
  capEff: string;
  capBnd: string;
}

export function readPrivileges(pid: number | "self" = "self"): ProcessPrivileges | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const field = (k: string) => text.match(new RegExp(`^${k}:\\s*(.*)$`, "m"))?.[1]?.trim() ?? "";
  return {
    uid: Number(field("Uid").split(/\s+/)[1] ?? -1), // the effective uid
    noNewPrivs: field("NoNewPrivs") === "1",
    capEff: field("CapEff"),
    capBnd: field("CapBnd"),
  };
}

export const noCapabilities = (hex: string) => /^0+$/.test(hex);
