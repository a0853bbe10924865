/**
 * Maps a requested file name to a regular file inside the root, or refuses it. This is the only
 * place that decides what a client may read, so every rule about hostile names lives here.
 */
import { closeSync, fstatSync, openSync, type Stats } from "node:fs";
import { sep } from "node:path";
import { accessViolation, cannotOpen, notFound, TftpError } from "../protocol/errors.ts";
import { O_CLOEXEC, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, openBeneath, realPathOf, realPathOfName, rootFd } from "./beneath.ts";
import { fsPath } from "./bytes-path.ts";

/** Paths here are byte strings (see bytes-path.ts): a name with bytes ≥ 0x80 is found as sent. */
export interface ConfinedFile {
  /** Path relative to the root as requested, normalised ("pxelinux.cfg/C0A8000B"). */
  rel: string;
  /** Real path after following links, guaranteed inside the root (read from `fd`, not from the name). */
  real: string;
  /** The file itself, open for reading: what was checked is what is served. The caller closes it. */
  fd: number;
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

/**
 * Resolves `requested` under `realRoot` (already a real path) and opens it. Throws TftpError on
 * refusal; otherwise the caller owns `fd`.
 */
export function confine(realRoot: string, requested: string, opts: ConfineOptions = {}): ConfinedFile {
  const rel = normaliseName(requested);
  if (isPrivate(rel)) throw accessViolation("Access violation", `the server's state directory is not served: ${rel}`);
  let opened: OpenedInside;
  try {
    opened = openInside(realRoot, rel, READ_FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EACCES") {
      // The server's user may not read it: a look that does not read it says why, as stat did.
      let stats: Stats | undefined;
      try {
        stats = withOpened(realRoot, rel, O_PATH, (look) => checkReadable(realRoot, rel, look, opts));
      } catch (why) {
        if (why instanceof TftpError) throw why;
      }
      // Allowed by the rules (--permissive) but not by the file system: name who may read it.
      if (stats)
        throw accessViolation(
          "Permission denied",
          `${rel} (mode ${(stats.mode & 0o777).toString(8)}, owner uid ${stats.uid}) is not readable by the server's user (uid ${process.getuid?.()}): chmod o+r it, or give it to that user`,
        );
    }
    throw asRefusal(err, rel);
  }
  try {
    return { rel, ...opened, stats: checkReadable(realRoot, rel, opened, opts) };
  } catch (err) {
    closeSync(opened.fd);
    throw asRefusal(err, rel);
  }
}

/** Never wait on a FIFO or take a terminal: such a thing is opened only to be refused as not a file. */
const READ_FLAGS = O_RDONLY | O_NONBLOCK | O_NOCTTY;

/** The read rules on what `opened` really is; its stats when it may be served. */
function checkReadable(realRoot: string, rel: string, opened: OpenedInside, opts: ConfineOptions): Stats {
  if (isPrivate(opened.real.slice(realRoot.length + 1))) throw accessViolation("Access violation", `link into the server's state directory: ${rel}`);
  const stats = fstatSync(opened.fd);
  if (!stats.isFile()) throw accessViolation("Not a regular file", rel);
  // As tftpd-hpa does: a file its owner kept from others is not for every client on the network,
  // whoever the server runs as (root could read it all).
  if (!opts.permissive && (stats.mode & 0o004) === 0)
    throw accessViolation("Permission denied", `${rel} is not readable by everyone (mode ${(stats.mode & 0o777).toString(8)}): chmod o+r it, or serve with --permissive`);
  return stats;
}

/** A refusal as it is, any other error as fsError tells the client. */
export const asRefusal = (err: unknown, rel: string) => (err instanceof TftpError ? err : fsError(err, rel));

export interface OpenedInside {
  fd: number;
  /** Its real path, read from the descriptor. */
  real: string;
}

/**
 * Opens `rel` (normalised) under `realRoot` with `flags`; links are followed only as far as they
 * stay in the root. The name is resolved once, on the root's held descriptor (openat2
 * RESOLVE_BENEATH), so a directory renamed or swapped for a link meanwhile cannot lead the walk
 * out. A name that crosses no link is its own real path; otherwise the real path is read from the
 * descriptor. A link that leaves the root, or an absolute one, is looked up by its real path:
 * followed if that is inside the root, and opened there beneath the root again. Without openat2
 * the real path is opened with O_NOFOLLOW and checked by descriptor after the open. Throws a
 * TftpError ("link leaves the root", naming `shown`) or the file system's error; on success the
 * caller owns `fd`.
 */
export function openInside(realRoot: string, rel: string, flags: number, shown = rel): OpenedInside {
  const leaves = () => accessViolation("Access violation", `link leaves the root: ${shown}`);
  // Most names (kernels, initrds, loaders) cross no link: opened with none allowed, no readlink.
  const direct = beneath(rootFd(realRoot), rel, flags, false);
  if (typeof direct === "number") return { fd: direct, real: rel === "." ? realRoot : under(realRoot, rel) };
  for (let attempt = 0; ; attempt++) {
    const root = rootFd(realRoot, attempt > 0);
    let fd = beneath(root, rel, flags, true);
    if (typeof fd !== "number") {
      // A link leads out or is absolute, or there is no openat2: where does the name lead now?
      const real = realPathOfName(realRoot, rel);
      if (!isInside(realRoot, real)) throw leaves();
      const again = fd === "out" ? beneath(root, real === realRoot ? "." : real.slice(realRoot.length + 1), flags, true) : null;
      if (again === "out" || again === "link") throw leaves(); // changed since: refused, never followed out
      fd = again ?? openSync(fsPath(real), flags | O_NOFOLLOW | O_CLOEXEC);
    }
    let real: string;
    try {
      real = realPathOf(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (isInside(realRoot, real)) return { fd, real };
    closeSync(fd);
    // Beneath the root's descriptor yet not under its path: the root itself was moved away (and
    // perhaps made anew), and the path is what counts. Otherwise (no openat2) a race led out.
    if (attempt > 0) throw leaves();
  }
}

const under = (realRoot: string, rel: string) => (realRoot.endsWith(sep) ? realRoot + rel : `${realRoot}${sep}${rel}`);

/**
 * openat2 beneath `root`, links followed or (`links` false) none: the descriptor; "out" when a
 * link leads out of it (EXDEV); "link" when a link was met and none was allowed; null without openat2.
 */
function beneath(root: number, rel: string, flags: number, links: boolean): number | "out" | "link" | null {
  try {
    return openBeneath(root, rel, flags, links);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EXDEV") return "out";
    if (code === "ELOOP" && !links) return "link";
    throw err;
  }
}

/** Runs `use` on `rel` opened inside the root, and closes it whatever happens. */
function withOpened<T>(realRoot: string, rel: string, flags: number, use: (opened: OpenedInside) => T): T {
  const opened = openInside(realRoot, rel, flags);
  try {
    return use(opened);
  } finally {
    closeSync(opened.fd);
  }
}
