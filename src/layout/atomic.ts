/**
 * File changes that a booting client (or a second server on the same NFS root) never sees half
 * done: everything is created under a unique temporary name in the same directory and renamed
 * into place, and removals tolerate "already gone".
 */
import { closeSync, mkdirSync, openSync, readlinkSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { tempName } from "../files/temp-name.ts";

// Shared with the server's uploads (files/), so doctor spots the leftovers of either.
export { isTempName, TEMP_TAG, tempName } from "../files/temp-name.ts";

/** Creates or replaces `path` as a symlink to `target` in one rename. */
export function atomicSymlink(path: string, target: string): void {
  const tmp = tempName(path);
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkQuiet(tmp);
    throw err;
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkQuiet(tmp);
    throw err;
  }
}

/** Removes a file; returns false when it was already gone. */
export function unlinkQuiet(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
}

/**
 * Takes a per-host entry away atomically and reports where it pointed. The rename is the claim:
 * when two processes race for the same entry exactly one rename succeeds. A symlink is deleted;
 * a regular file (hand-written by an admin) is moved into `keepDir` instead, never destroyed.
 * Returns undefined when the entry was not there.
 */
export function claimLink(path: string, keepDir: string): string | undefined {
  const tmp = tempName(path);
  try {
    renameSync(path, tmp);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
  try {
    const target = readlinkSync(tmp);
    unlinkQuiet(tmp);
    return target;
  } catch (err) {
    if (!isErrno(err, "EINVAL")) throw err;
  }
  mkdirSync(keepDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  renameSync(tmp, join(keepDir, `${path.split("/").pop()}.${stamp}`));
  return "";
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/**
 * An exclusive lock file (O_CREAT|O_EXCL, atomic on local disks and NFSv3+). Returns the release
 * function, or undefined while someone else holds it. A lock older than `staleMs` is a leftover
 * of a crashed holder and is broken.
 */
export function tryLock(path: string, staleMs: number): (() => void) | undefined {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      try {
        writeSync(fd, `${hostname()} ${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return () => void unlinkQuiet(path);
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
    }
    let age = 0;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch (err) {
      if (isErrno(err, "ENOENT")) continue; // released between our open and stat: try again
      throw err;
    }
    if (age < staleMs) return undefined;
    unlinkQuiet(path);
  }
  return undefined;
}
