/**
 * sendfile(2) through bun:ffi, onto a non-blocking TCP socket: the kernel copies page-cache pages
 * to the socket without a trip through user space, and says how many bytes the socket took, so
 * the log line and install-once still know a complete answer from a cut one. Bun's own file
 * bodies use sendfile too but never say when (or whether) they finished.
 */
import { FFIType, read } from "bun:ffi";
import { openLibc } from "../libc.ts";

type Libc = {
  sendfile: (outFd: number, inFd: number, offset: BigInt64Array, count: number) => number | bigint;
  __errno_location: () => number | null;
};

const EINTR = 4;
const EAGAIN = 11;

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc === undefined)
    libc = openLibc<Libc>({
      sendfile: { args: [FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
  return libc;
}

/** Whether sendFileChunk can work here (a libc with sendfile was found). */
export function canSendfile(): boolean {
  return load() !== null;
}

/** Bytes the socket took (0: the file ended early), "full" when its buffer had no room, or the errno's number. */
export type SendfileResult = number | "full" | { errno: number };

const offset = new BigInt64Array(1);

/** Sends up to `count` bytes of `fileFd` from `position` to `socketFd`; never waits (the socket is non-blocking). */
export function sendFileChunk(socketFd: number, fileFd: number, position: number, count: number): SendfileResult {
  const c = load();
  if (!c) return { errno: 38 }; // ENOSYS: callers check canSendfile() first
  for (;;) {
    offset[0] = BigInt(position);
    const n = Number(c.sendfile(socketFd, fileFd, offset, count));
    if (n >= 0) return n;
    const at = c.__errno_location();
    const errno = at ? read.i32(at, 0) : EAGAIN;
    if (errno === EINTR) continue;
    return errno === EAGAIN ? "full" : { errno };
  }
}
