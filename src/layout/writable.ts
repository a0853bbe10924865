/**
 * Can install-once change this tree? It renames per-host links away and writes records and
 * locks, so every directory it touches must be writable (and searchable) by whoever switches
 * hosts: the boot-control process (the owner of pxelinux.cfg/, without capabilities) when the
 * server started as root, else the server's own user. `doctor` checks the owner and mode as
 * that user with its primary group only and no capabilities (uid 0 included: the boot-control
 * process has none); `serve` and a non-root `doctor` probe for real (probeInstallDirs).
 * ACLs are not read by the mode check: the probe sees them.
 */
import { rmSync, statSync, writeFileSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { GRUB_DIR, IPXE_DIR, LOCK_DIR, MAC_DIR, PXELINUX_DIR, REMOVED_DIR, STATE_DIR } from "./paths.ts";

export interface Identity {
  /** The name as given, for messages. */
  name: string;
  uid: number;
  gid: number;
}

/** Directories install-once writes in, relative to the root; the loaders' ones only if present. */
export const INSTALL_ONCE_DIRS = [PXELINUX_DIR, GRUB_DIR, IPXE_DIR, ".pxeboot", STATE_DIR, LOCK_DIR, REMOVED_DIR, MAC_DIR];
const OPTIONAL = new Set([GRUB_DIR, IPXE_DIR]);

/** Whether the mode grants `want` (4 read, 2 write, 1 search) to `who`, its primary group only and no capabilities. */
export function modeAllows(st: Pick<Stats, "uid" | "gid" | "mode">, who: Pick<Identity, "uid" | "gid">, want: number): boolean {
  // Like the kernel: the owner class applies to the owner, else the group class, else other.
  const bits = st.uid === who.uid ? (st.mode >> 6) & 7 : st.gid === who.gid ? (st.mode >> 3) & 7 : st.mode & 7;
  return (bits & want) === want;
}

export function canWrite(st: Pick<Stats, "uid" | "gid" | "mode">, who: Pick<Identity, "uid" | "gid">): boolean {
  return modeAllows(st, who, 3); // write and search
}

export interface UnwritableDir {
  /** Relative to the root. */
  dir: string;
  /** Who may write it now, e.g. "root:root 0755". */
  now: string;
}

/**
 * The install-once directories `who` cannot write. A missing one counts as the nearest existing
 * directory above it (the server creates it there on first use).
 */
export function unwritableInstallDirs(root: string, who: Pick<Identity, "uid" | "gid">): UnwritableDir[] {
  return installDirs(root).filter((d) => !canWrite(d.st, who)).map(describe);
}

const describe = (d: { dir: string; st: Stats }): UnwritableDir => ({ dir: d.dir, now: `${d.st.uid}:${d.st.gid} ${(d.st.mode & 0o7777).toString(8).padStart(4, "0")}` });

/**
 * The install-once directories this process cannot write, tried for real (a file created and
 * removed in each): what mode bits can't tell, an NFS export that squashes root or an ACL, shows.
 */
export function probeInstallDirs(root: string): (UnwritableDir & { error: string })[] {
  const out: (UnwritableDir & { error: string })[] = [];
  for (const d of installDirs(root)) {
    const probe = join(root, d.dir, `.pxeboot-probe-${process.pid}`);
    try {
      writeFileSync(probe, "", { flag: "wx", mode: 0o600 });
      rmSync(probe, { force: true });
    } catch (err) {
      out.push({ ...describe(d), error: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
  }
  return out;
}

/** The install-once directories that exist, each missing one as the nearest existing directory above it. */
function installDirs(root: string): { dir: string; st: Stats }[] {
  const out: { dir: string; st: Stats }[] = [];
  const seen = new Set<string>();
  for (const rel of INSTALL_ONCE_DIRS) {
    let at = rel;
    let st: Stats | undefined;
    for (;;) {
      try {
        st = statSync(join(root, at));
        break;
      } catch {
        if (OPTIONAL.has(rel) && at === rel) break; // that loader is not used in this tree
        at = dirname(at);
        // Never ask for the root itself: a tree without these directories (not made by init)
        // has no per-host entries to remove, and the server says so when it first tries.
        if (at === ".") break;
      }
    }
    if (!st || seen.has(at)) continue;
    seen.add(at);
    out.push({ dir: at, st });
  }
  return out;
}

/**
 * Whom install-once writes as when the server starts as root: the owner of pxelinux.cfg/ (of the
 * root where there is none), so a tree keeps the owner it has and the boot-control process
 * needs no capability to write it.
 */
export function bootControlOwner(root: string): { uid: number; gid: number; dir: string } {
  for (const dir of [PXELINUX_DIR, "."]) {
    try {
      const st = statSync(join(root, dir));
      return { uid: st.uid, gid: st.gid, dir };
    } catch {
      // next
    }
  }
  return { uid: 0, gid: 0, dir: "." };
}

/** The one-line fix for a list of unwritable directories. */
export function ownershipFix(root: string, who: Identity, dirs: UnwritableDir[]): string {
  const paths = dirs.map((d) => join(root, d.dir)).join(" ");
  return `run: pxeboot init ${root} --owner ${who.name} (or chown ${who.name} ${paths})`;
}
