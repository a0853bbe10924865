/**
 * Where a client may upload: the read rules of confine.ts (normalised names, never out of the
 * root, never into the tree's own state, links followed only inside it) plus the write rules:
 * only under a --writable directory, only into an existing directory, and only over a regular
 * file, and that only with --overwrite. Paths are byte strings (bytes-path.ts).
 */
import { lstatSync, realpathSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { accessViolation, fileExists, notFound } from "../protocol/errors.ts";
import { fsPath, toByteString } from "./bytes-path.ts";
import { fsError, isInside, isPrivate, normaliseName } from "./confine.ts";

export interface UploadTarget {
  /** Path relative to the root as requested, normalised. */
  rel: string;
  /** The real directory the file goes in: inside the root and inside a writable directory. */
  dir: string;
  /** Where the finished file is renamed to: `dir` and the requested file name. */
  path: string;
  /** A regular file is there now; it is replaced only with `overwrite`. */
  exists: boolean;
}

export interface UploadRules {
  /** Real directories uploads may go in, their subdirectories included; empty: anywhere in the root. */
  writable: string[];
  overwrite: boolean;
}

/** Resolves an upload's target under `realRoot` (a real path). Throws TftpError on refusal. */
export function confineUpload(realRoot: string, requested: string, rules: UploadRules): UploadTarget {
  const rel = normaliseName(requested);
  if (isPrivate(rel)) throw accessViolation("Access violation", `uploads never go into the server's state directory: ${rel}`);
  const slash = rel.lastIndexOf("/");
  const name = rel.slice(slash + 1);
  // The parent is followed through links (they may move it elsewhere in the tree, never out);
  // the file itself is not: a link there is refused below rather than written through.
  let dir: string;
  try {
    dir = realpathSync(fsPath(join(realRoot, rel.slice(0, Math.max(0, slash)))), { encoding: "buffer" }).toString("latin1");
  } catch (err) {
    throw fsError(err, rel);
  }
  if (!isInside(realRoot, dir)) throw accessViolation("Access violation", `link leaves the root: ${rel}`);
  const realRel = dir === realRoot ? name : `${dir.slice(realRoot.length + 1)}/${name}`;
  if (isPrivate(realRel)) throw accessViolation("Access violation", `link into the server's state directory: ${rel}`);
  if (!isDirectory(dir)) throw notFound(`${rel}: its parent is not a directory`);
  if (rules.writable.length > 0 && !rules.writable.some((w) => isInside(w, dir)))
    throw accessViolation("Access violation", `${rel} is outside the --writable directories`);

  const path = join(dir, name);
  let existing: Stats | undefined;
  try {
    existing = lstatSync(fsPath(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw fsError(err, rel);
  }
  if (existing?.isSymbolicLink()) throw accessViolation("Access violation", `${rel} is a symbolic link: uploads replace only regular files`);
  if (existing && !existing.isFile()) throw accessViolation("Not a regular file", rel);
  if (existing && !rules.overwrite) throw fileExists(`${rel} exists; serve with --overwrite to let uploads replace files`);
  return { rel, dir, path, exists: !!existing };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(fsPath(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The --writable directories (root-relative) as real paths, checked once at start-up: each must
 * be an existing directory inside the root, outside its state directory. Throws an Error naming
 * the bad one.
 */
export function realWritableDirs(realRoot: string, dirs: string[]): string[] {
  return dirs.map((d) => {
    let real: string;
    try {
      real = realpathSync(fsPath(join(realRoot, toByteString(d))), { encoding: "buffer" }).toString("latin1");
    } catch (err) {
      throw new Error(`--writable ${d}: ${(err as NodeJS.ErrnoException).code ?? String(err)} under the root; create it (writable by the server's user) or drop the flag`);
    }
    if (!isInside(realRoot, real)) throw new Error(`--writable ${d} leads out of the root (a link?)`);
    if (real !== realRoot && isPrivate(real.slice(realRoot.length + 1))) throw new Error(`--writable ${d} is the server's state directory`);
    if (!isDirectory(real)) throw new Error(`--writable ${d} is not a directory`);
    return real;
  });
}
