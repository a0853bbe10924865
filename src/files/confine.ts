/**
 * Maps a requested file name to a regular file inside the root, or refuses it. This is the only
 * place that decides what a client may read, so every rule about hostile names lives here.
 */
import { realpathSync, statSync, type Stats } from "node:fs";
import { join, sep } from "node:path";
import { fsPath } from "./bytes-path.ts";
import { accessViolation, cannotOpen, notFound, type TftpError } from "../protocol/errors.ts";

/** Paths here are byte strings (see bytes-path.ts): a name with bytes ≥ 0x80 is found as sent. */
export interface ConfinedFile {
  /** Path relative to the root as requested, normalised ("pxelinux.cfg/C0A8000B"). */
  rel: string;
  /** Real path after following links, guaranteed inside the root. */
  real: string;
  stats: Stats;
}

const MAX_NAME = 1024;

/**
 * Normalises a client's file name to a root-relative path: leading slashes dropped, backslashes
 * (Windows-style PXE clients) taken as separators, "." segments dropped and ".." resolved — but a
 * ".." that would climb above the root is refused rather than clamped, since it is never an accident.
 */
export function normaliseName(requested: string): string {
  if (requested.length === 0) throw accessViolation("Empty file name");
  if (requested.length > MAX_NAME) throw accessViolation("File name too long");
  // Control characters (NUL included) have no business in a boot file name and confuse logs.
  if (/[\x00-\x1f\x7f]/.test(requested)) throw accessViolation("Illegal character in file name");
  const parts: string[] = [];
  for (const seg of requested.replace(/\\/g, "/").split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (parts.length === 0) throw accessViolation("Access violation", `'..' leaves the root: ${requested}`);
      parts.pop();
      continue;
    }
    parts.push(seg);
  }
  if (parts.length === 0) throw accessViolation("Not a file");
  return parts.join("/");
}

export function isInside(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
}

/** Out of file descriptors: a passing shortage of the server's, not a fact about the file. */
export const isOutOfFiles = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "EMFILE" || code === "ENFILE";
};

/** What a failed lookup of `rel` tells the client. */
export function fsError(err: unknown, rel: string): TftpError {
  if (isOutOfFiles(err)) throw err; // the caller retries later rather than refusing the client
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return notFound(rel);
  if (code === "EACCES" || code === "EPERM") return accessViolation("Permission denied", rel);
  if (code === "ELOOP") return accessViolation("Access violation", `symlink loop: ${rel}`);
  return cannotOpen(`${rel}: ${code ?? String(err)}`);
}

/**
 * The tree's own state (install records, learned MACs, locks) lives here and is never served:
 * it says which hosts exist and when they installed. Kept in step with the layout's STATE_DIR.
 */
export const PRIVATE_DIR = ".pxeboot";

export const isPrivate = (rel: string) => rel === PRIVATE_DIR || rel.startsWith(PRIVATE_DIR + "/");

export interface ConfineOptions {
  /** Serve files that are not readable by everyone too (tftpd-hpa's -p). */
  permissive?: boolean;
}

/** Resolves `requested` under `realRoot` (already a real path). Throws TftpError on refusal. */
export function confine(realRoot: string, requested: string, opts: ConfineOptions = {}): ConfinedFile {
  const rel = normaliseName(requested);
  if (isPrivate(rel)) throw accessViolation("Access violation", `the server's state directory is not served: ${rel}`);
  let real: string;
  try {
    real = realpathSync(fsPath(join(realRoot, rel)), { encoding: "buffer" }).toString("latin1");
  } catch (err) {
    throw fsError(err, rel);
  }
  // Links may point anywhere in the tree (pxelinux.cfg/C0A8000B -> default.netboot-7.2), never out of it.
  if (!isInside(realRoot, real)) throw accessViolation("Access violation", `link leaves the root: ${rel}`);
  if (isPrivate(real.slice(realRoot.length + 1))) throw accessViolation("Access violation", `link into the server's state directory: ${rel}`);
  let stats: Stats;
  try {
    stats = statSync(fsPath(real));
  } catch (err) {
    throw fsError(err, rel);
  }
  if (!stats.isFile()) throw accessViolation("Not a regular file", rel);
  // As tftpd-hpa does: a file its owner kept from others is not for every client on the network,
  // whoever the server runs as (root could read it all).
  if (!opts.permissive && (stats.mode & 0o004) === 0)
    throw accessViolation("Permission denied", `${rel} is not readable by everyone (mode ${(stats.mode & 0o777).toString(8)}): chmod o+r it, or serve with --permissive`);
  return { rel, real, stats };
}
