/**
 * A read that never waits for the disk: preadv2 with RWF_NOWAIT (Linux 4.14+) returns what the
 * page cache holds and EAGAIN for the rest. Cached data — nearly every read of a boot server —
 * is then copied on the spot, and only a real disk or NFS wait goes to a background read, which
 * costs a thread hand-off that a busy single CPU pays on every chunk.
 */
import { FFIType, ptr, read } from "bun:ffi";
import { openLibc } from "../libc.ts";

/** Bytes read (possibly short: only part was cached), or "wait" when it would block or can't tell. */
export type NoWaitResult = number | "wait";

type Libc = {
  preadv2: (fd: number, iov: BigUint64Array, count: number, offset: number, flags: number) => number | bigint;
  __errno_location: () => number | null;
};

const RWF_NOWAIT = 0x8;
const EAGAIN = 11;
const EINTR = 4;

let libc: Libc | null | undefined;

function load(): Libc | null {
  // Without libc every read goes to the background: slower, still correct.
  // Tried once: null (no libc found) is remembered too.
  if (libc === undefined)
    libc = openLibc<Libc>({
      preadv2: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i64, FFIType.i32], returns: FFIType.i64 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
  return libc;
}

const iov = new BigUint64Array(2);

/**
 * Reads into `into[offset, offset+length)` from `position` if the page cache has it. A file
 * system without RWF_NOWAIT (NFS, some FUSE) answers EOPNOTSUPP: "wait", so such roots always
 * read in the background, which is where they need it.
 */
export function readNoWait(fd: number, into: Uint8Array, offset: number, length: number, position: number): NoWaitResult {
  if (length <= 0) return 0;
  const c = load();
  if (!c) return "wait";
  // The pointer is taken right before the call: nothing can move the buffer in between.
  iov[0] = BigInt(ptr(into, offset));
  iov[1] = BigInt(length);
  for (;;) {
    const n = Number(c.preadv2(fd, iov, 1, position, RWF_NOWAIT));
    if (n >= 0) return n;
    const at = c.__errno_location();
    const errno = at ? read.i32(at, 0) : EAGAIN;
    if (errno !== EINTR) return "wait";
  }
}
