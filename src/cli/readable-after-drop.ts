/**
 * Can the user serve runs as, once it dropped root, still read a path? What SIGHUP re-reads (the
 * config file, the defaults file, the map file, the quirks file) is read again as that user, and
 * the root is served as it: a file only root can read starts fine and then fails every reload
 * or every request. Read from the mode bits as the kernel applies them after the drop (primary
 * group only, no capabilities); ACLs are not read.
 */
import { statSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";
import { modeAllows, type Identity } from "../layout/writable.ts";

export type StatFn = (path: string) => Pick<Stats, "uid" | "gid" | "mode" | "isDirectory">;

const shownMode = (st: Pick<Stats, "uid" | "gid" | "mode">) => `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8).padStart(4, "0")}`;

export interface Unreadable {
  /** "cannot read it (0:0 0600)", "cannot enter /etc/tftp (0:0 0700)". */
  problem: string;
  /** The command that fixes it. */
  fix: string;
}

/**
 * Why `who` cannot read `path` (a directory: list and enter it), with the fix; undefined when it
 * can, or when the path does not exist (said elsewhere, by what reads it).
 */
export function unreadableBy(path: string, who: Pick<Identity, "uid" | "gid">, stat: StatFn = statSync): Unreadable | undefined {
  const full = resolve(path);
  const above: string[] = [];
  for (let d = dirname(full); ; d = dirname(d)) {
    above.unshift(d);
    if (d === dirname(d)) break;
  }
  try {
    for (const dir of above) {
      const st = stat(dir);
      if (!modeAllows(st, who, 1)) return { problem: `cannot enter ${dir} (${shownMode(st)})`, fix: `chmod o+x ${dir}` };
    }
    const st = stat(full);
    const dir = st.isDirectory();
    if (!modeAllows(st, who, dir ? 5 : 4)) return { problem: `cannot read it (${shownMode(st)})`, fix: `chmod o+${dir ? "rx" : "r"} ${full}` };
  } catch {
    return undefined;
  }
  return undefined;
}
