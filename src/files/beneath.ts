/**
 * File system calls relative to a directory descriptor, through bun:ffi: what confine.ts and
 * confine-upload.ts need so that the file served, or the directory written, is the one that was
 * checked. A client's name is resolved with openat2(RESOLVE_BENEATH) on the root's descriptor
 * (Linux 5.6+), so no rename racing the request can lead the walk out of the root; where a link
 * was followed, the real path is read from the open descriptor (/proc/self/fd), never from the
 * name again. Errors are
 * thrown as Node-style errors (`code` "ENOENT", "EXDEV", "EMFILE"…), so fsError and isOutOfFiles
 * read them as they read node:fs ones. Paths are byte strings (bytes-path.ts) and reach the
 * kernel as those bytes.
 */
import { closeSync, constants, openSync, readlinkSync, realpathSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { FFIType, read } from "bun:ffi";
import { openLibc } from "../libc.ts";
import { fsPath } from "./bytes-path.ts";

/** Same values on x86-64 and arm64 (asm-generic); node:fs does not export these two. */
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
export const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK, O_NOCTTY } = constants;

const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_BENEATH = 0x08;
/** openat2's number on both targets build.ts produces (x86-64 and arm64 share it). */
const SYS_openat2 = 437;
const AT_FDCWD = -100;
const F_DUPFD_CLOEXEC = 1030;

type Libc = {
  syscall: (nr: number, dirfd: number, path: Uint8Array, how: BigUint64Array, size: number) => number | bigint;
  openat: (dirfd: number, path: Uint8Array, flags: number, mode: number) => number;
  linkat: (olddirfd: number, oldpath: Uint8Array, newdirfd: number, newpath: Uint8Array, flags: number) => number;
  renameat: (olddirfd: number, oldpath: Uint8Array, newdirfd: number, newpath: Uint8Array) => number;
  unlinkat: (dirfd: number, path: Uint8Array, flags: number) => number;
  fcntl: (fd: number, cmd: number, arg: number) => number;
  __errno_location: () => number | null;
};

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc === undefined)
    libc = openLibc<Libc>({
      syscall: { args: [FFIType.i64, FFIType.i64, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
      openat: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
      linkat: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
      renameat: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      unlinkat: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
      fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
  return libc;
}

/** The libc functions, or an error saying there are none (an unusual libc: uploads can't be done safely). */
function need(): Libc {
  const c = load();
  if (!c) throw Object.assign(new Error("no libc found for directory-relative file calls"), { code: "ENOSYS" });
  return c;
}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/** The failed call's errno as a node:fs-like error. */
function failure(c: Libc, call: string, path?: string): NodeJS.ErrnoException {
  const at = c.__errno_location();
  const errno = at ? read.i32(at, 0) : 0;
  const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
  return Object.assign(new Error(`${code}: ${call}${path === undefined ? "" : ` '${path}'`}`), { code, errno: -errno, syscall: call, path });
}

/** A byte string as the kernel wants it: its bytes, NUL-terminated. */
const cString = (byteString: string) => Buffer.from(byteString + "\0", "latin1");

const how = new BigUint64Array(3);
/** Whether openat2 works here: unknown until the first root is opened (ENOSYS before 5.6, EPERM under some seccomp filters). */
let openat2Works: boolean | undefined;

/** For tests: behave as on a kernel without openat2 (or lift that again). */
export function _pretendNoOpenat2(on: boolean): void {
  openat2Works = on ? false : undefined;
}

function openat2(c: Libc, dirFd: number, path: string, flags: number, resolve: number): number {
  how[0] = BigInt(flags);
  how[1] = 0n;
  how[2] = BigInt(resolve);
  const fd = Number(c.syscall(SYS_openat2, dirFd, cString(path), how, 24));
  if (fd < 0) throw failure(c, "openat2", path);
  return fd;
}

/**
 * Opens `rel` (relative, no ".." left: normaliseName made it so) beneath the directory `dirFd`:
 * links are followed only while they stay beneath it ("EXDEV" when one leads out, or is absolute),
 * /proc-style magic links never; with `links` false, no link at all ("ELOOP" at the first). Returns
 * null without openat2: the caller then checks by descriptor after a plain open instead.
 */
export function openBeneath(dirFd: number, rel: string, flags: number, links = true): number | null {
  if (openat2Works === false) return null;
  const c = load();
  if (!c) return null;
  return openat2(c, dirFd, rel, flags | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (links ? 0 : RESOLVE_NO_SYMLINKS));
}

export function openAt(dirFd: number, name: string, flags: number, mode = 0): number {
  const c = need();
  const fd = c.openat(dirFd, cString(name), flags | O_CLOEXEC, mode);
  if (fd < 0) throw failure(c, "openat", name);
  return fd;
}

/** A hard link `to` of `from`, both in `dirFd`; a link at `from` is linked itself, never followed. */
export function linkAt(dirFd: number, from: string, to: string): void {
  const c = need();
  if (c.linkat(dirFd, cString(from), dirFd, cString(to), 0) < 0) throw failure(c, "linkat", to);
}

export function renameAt(dirFd: number, from: string, to: string): void {
  const c = need();
  if (c.renameat(dirFd, cString(from), dirFd, cString(to)) < 0) throw failure(c, "renameat", to);
}

export function unlinkAt(dirFd: number, name: string): void {
  const c = need();
  if (c.unlinkat(dirFd, cString(name), 0) < 0) throw failure(c, "unlinkat", name);
}

/** A second descriptor of the same open file (close-on-exec), or -1 when none can be had. */
export function dupFd(fd: number): number {
  const c = load();
  return c ? c.fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
}

/** What an open descriptor really is: its path now, as the kernel tracks it (a byte string). */
export function realPathOf(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`, { encoding: "buffer" }).toString("latin1");
}

/** The path of `name` in the directory `dirFd`, for node:fs calls that have no *at form: no name above it is walked again. */
export function pathIn(dirFd: number, name: string): string | Buffer {
  return fsPath(`/proc/self/fd/${dirFd}/${name}`);
}

/** Held root descriptors by real path: opened once, for as long as the server runs. */
const roots = new Map<string, { fd: number; checkedAt: number }>();
/** How often a held root is checked to still be what its path names. */
const ROOT_CHECK_MS = 1000;

/**
 * A descriptor (O_PATH) of the directory `realRoot`, held. Opened again when the path names
 * another directory now (the root was moved away and made anew, as a deployment may do): checked
 * once a second, or at once when the caller saw a sign of it (`stale`).
 */
export function rootFd(realRoot: string, stale = false): number {
  const held = roots.get(realRoot);
  const now = performance.now();
  if (held && !stale && now - held.checkedAt < ROOT_CHECK_MS) return held.fd;
  if (held && realPathOf(held.fd) === realRoot) {
    held.checkedAt = now;
    return held.fd;
  }
  const fd = openRoot(realRoot);
  if (held) closeSync(held.fd);
  roots.set(realRoot, { fd, checkedAt: now });
  return fd;
}

function openRoot(realRoot: string): number {
  const flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  const c = load();
  if (c && openat2Works !== false) {
    try {
      const fd = openat2(c, AT_FDCWD, realRoot, flags, 0);
      openat2Works = true;
      return fd;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOSYS" && code !== "EPERM") throw err;
      openat2Works = false;
    }
  }
  if (c) {
    const fd = c.openat(AT_FDCWD, cString(realRoot), flags, 0);
    if (fd < 0) throw failure(c, "openat", realRoot);
    return fd;
  }
  // No libc at all: a plain descriptor of the directory serves the /proc/self/fd paths as well.
  return openSync(fsPath(realRoot), O_RDONLY | O_DIRECTORY);
}

/** The real path of `rel` under `realRoot`, following every link (for the fallbacks). */
export function realPathOfName(realRoot: string, rel: string): string {
  return realpathSync(fsPath(rel === "" ? realRoot : `${realRoot}/${rel}`), { encoding: "buffer" }).toString("latin1");
}
