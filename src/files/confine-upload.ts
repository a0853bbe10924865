/**
 * Where a client may upload: the read rules of confine.ts (normalised names, never out of the
 * root, never into the tree's own state, links followed only inside it) plus the write rules:
 * never boot control (boot-control.ts) unless a --writable directory that is boot control opens
 * it, only under a --writable directory, only into an existing directory, and only over a
 * regular file, and that only with --overwrite. Paths are byte strings (bytes-path.ts).
 *
 * The directory is opened once, beneath the root (confine.ts's openInside), and the rules are
 * applied to what that descriptor really is; the upload then creates, links, renames and removes
 * its files relative to the descriptor, so renames racing the upload cannot move it elsewhere.
 */
import { closeSync, lstatSync, realpathSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { accessViolation, fileExists, notFound } from "../protocol/errors.ts";
import { O_DIRECTORY, O_PATH, pathIn } from "./beneath.ts";
import { BOOT_CONTROL_DIRS, bootControlReason, controlDirOf } from "./boot-control.ts";
import { fsPath, toByteString } from "./bytes-path.ts";
import { asRefusal, fsError, isInside, isPrivate, normaliseName, openInside, PRIVATE_DIR } from "./confine.ts";

export interface UploadTarget {
  /** Path relative to the root as requested, normalised. */
  rel: string;
  /** The real directory the file goes in, read from `dirFd`: inside the root and inside a writable directory. */
  dir: string;
  /** That directory, open (O_PATH): every file call of the upload is relative to it. Closed with closeTarget. */
  dirFd: number;
  /** The file's name in it (one component). */
  name: string;
  /** A regular file is there now; it is replaced only with `overwrite`. */
  exists: boolean;
}

/** Lets go of a target no upload took over (refused after confineUpload, say). */
export function closeTarget(target: UploadTarget): void {
  closeSync(target.dirFd);
}

/** A --writable directory as the server checked it at start-up. */
export interface WritableDir {
  /** Its real path (a byte string). */
  real: string;
  /** The real path relative to the root ("" for the root itself), for the log. */
  rel: string;
  /** Set when it is boot control (why): uploads there may then write boot-control names. */
  bootControl?: string;
}

export interface UploadRules {
  /** Directories uploads may go in, their subdirectories included; empty: anywhere in the root. */
  writable: WritableDir[];
  overwrite: boolean;
}

/** Resolves an upload's target under `realRoot` (a real path). Throws TftpError on refusal; otherwise the caller owns `dirFd`. */
export function confineUpload(realRoot: string, requested: string, rules: UploadRules): UploadTarget {
  const rel = normaliseName(requested);
  if (isPrivate(rel)) throw accessViolation("Access violation", `uploads never go into the server's state directory: ${rel}`);
  const slash = rel.lastIndexOf("/");
  const name = rel.slice(slash + 1);
  // The parent is followed through links (they may move it elsewhere in the tree, never out);
  // the file itself is not: a link there is refused below rather than written through.
  let dirFd: number;
  let dir: string;
  try {
    ({ fd: dirFd, real: dir } = openInside(realRoot, slash < 0 ? "." : rel.slice(0, slash), O_PATH | O_DIRECTORY, rel));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") throw notFound(`${rel}: its parent is not a directory`);
    throw asRefusal(err, rel);
  }
  try {
    return { rel, dir, dirFd, name, exists: checkWritable(realRoot, rel, dir, pathIn(dirFd, name), rules) };
  } catch (err) {
    closeSync(dirFd);
    throw err;
  }
}

/** The write rules on the real directory `dir` and the name in it (`path`, reached through the directory's descriptor): whether a file is there to replace. */
function checkWritable(realRoot: string, rel: string, dir: string, path: string | Buffer, rules: UploadRules): boolean {
  const name = rel.slice(rel.lastIndexOf("/") + 1);
  const realRel = dir === realRoot ? name : `${dir.slice(realRoot.length + 1)}/${name}`;
  if (isPrivate(realRel)) throw accessViolation("Access violation", `link into the server's state directory: ${rel}`);
  // Asked for by name, reached by name through a link, or in a directory a loader's own directory
  // links to: the fence holds for each, unless the sysadmin opened that very directory.
  if (!rules.writable.some((w) => w.bootControl && isInside(w.real, dir))) {
    const why = bootControlReason(rel) ?? bootControlReason(realRel) ?? linkReason(controlDirLinkingTo(realRoot, dir));
    if (why) throw accessViolation("Access violation", `${rel} is boot control (${why}): uploads never write it unless --writable names that directory`);
  }
  if (rules.writable.length > 0 && !rules.writable.some((w) => isInside(w.real, dir)))
    throw accessViolation("Access violation", `${rel} is outside the --writable directories`);

  let existing: Stats | undefined;
  try {
    existing = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw fsError(err, rel);
  }
  if (existing?.isSymbolicLink()) throw accessViolation("Access violation", `${rel} is a symbolic link: uploads replace only regular files`);
  if (existing && !existing.isFile()) throw accessViolation("Not a regular file", rel);
  if (existing && !rules.overwrite) throw fileExists(`${rel} exists; serve with --overwrite to let uploads replace files`);
  return !!existing;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(fsPath(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The root's own pxelinux.cfg/, grub/, ipxe/ or .pxeboot/ that is really `dir` or above it: when
 * one is a link to a directory of another name, uploads there land in boot control all the same.
 */
function controlDirLinkingTo(realRoot: string, dir: string): string | undefined {
  return BOOT_CONTROL_DIRS.find((name) => {
    try {
      return isInside(realpathSync(fsPath(join(realRoot, name)), { encoding: "buffer" }).toString("latin1"), dir);
    } catch {
      return false; // absent (or unreadable): no loader reads it either
    }
  });
}

const linkReason = (controlDir: string | undefined) => controlDir && `${controlDir}/ leads there`;

/**
 * The --writable directories (root-relative) as real paths, checked once at start-up: each must
 * be an existing directory inside the root, outside its state directory. One that is boot
 * control (by its name, its real name, or a loader directory's link) is marked: it opens the
 * fence. Throws an Error naming the bad one.
 */
export function realWritableDirs(realRoot: string, dirs: string[]): WritableDir[] {
  return dirs.map((d) => {
    let real: string;
    try {
      real = realpathSync(fsPath(join(realRoot, toByteString(d))), { encoding: "buffer" }).toString("latin1");
    } catch (err) {
      throw new Error(`--writable ${d}: ${(err as NodeJS.ErrnoException).code ?? String(err)} under the root; create it (writable by the server's user) or drop the flag`);
    }
    if (!isInside(realRoot, real)) throw new Error(`--writable ${d} leads out of the root (a link?)`);
    const rel = real === realRoot ? "" : real.slice(realRoot.length + 1);
    const byName = controlDirOf(toByteString(d)) ?? controlDirOf(rel);
    const link = controlDirLinkingTo(realRoot, real);
    if (isPrivate(rel) || byName === PRIVATE_DIR || link === PRIVATE_DIR) throw new Error(`--writable ${d} is the server's state directory`);
    if (!isDirectory(real)) throw new Error(`--writable ${d} is not a directory`);
    const bootControl = byName ? `in ${byName}/` : linkReason(link);
    return bootControl ? { real, rel, bootControl } : { real, rel };
  });
}
