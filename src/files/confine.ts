/**
 * Maps a requested file name to a regular file inside the root, or refuses it. This is the only
 * place that decides what a client may read, so every rule about hostile names lives here.
 */
import { realpathSync, statSync, type Stats } from "node:fs";
import { join, sep } from "node:path";
import { accessViolation, notFound, TftpError } from "../protocol/errors.ts";

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

function fsError(err: unknown, rel: string): TftpError {
  if (isOutOfFiles(err)) throw err; // the caller retries later rather than refusing the client
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return notFound(rel);
  if (code === "EACCES" || code === "EPERM") return accessViolation("Permission denied", rel);
  if (code === "ELOOP") return accessViolation("Access violation", `symlink loop: ${rel}`);
  return new TftpError(0, "Cannot open file", `${rel}: ${code ?? String(err)}`);
}

/** Resolves `requested` under `realRoot` (already a real path). Throws TftpError on refusal. */
export function confine(realRoot: string, requested: string): ConfinedFile {
  const rel = normaliseName(requested);
  let real: string;
  try {
    real = realpathSync(join(realRoot, rel));
  } catch (err) {
    throw fsError(err, rel);
  }
  // Links may point anywhere in the tree (pxelinux.cfg/C0A8000B -> default.netboot-7.2), never out of it.
  if (!isInside(realRoot, real)) throw accessViolation("Access violation", `link leaves the root: ${rel}`);
  let stats: Stats;
  try {
    stats = statSync(real);
  } catch (err) {
    throw fsError(err, rel);
  }
  if (!stats.isFile()) throw accessViolation("Not a regular file", rel);
  return { rel, real, stats };
}
