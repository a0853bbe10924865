/**
 * libc through bun:ffi, for the few system calls Bun has no API for (socket options, reads that
 * must not wait). Every caller degrades gracefully when this returns null: a libc we can't find
 * (an unusual distribution) costs an optimization, never the server.
 */
import { dlopen, type FFIFunction } from "bun:ffi";

/** glibc first, then the names musl uses on the targets build.ts produces. */
const NAMES = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];

export function openLibc<T>(symbols: Record<string, FFIFunction>): T | null {
  for (const name of NAMES) {
    try {
      return dlopen(name, symbols).symbols as unknown as T;
    } catch {
      // try the next name
    }
  }
  return null;
}
