/**
 * The tree as the proxyDHCP sees it: the same per-host links and install records the TFTP side
 * and `host list` read (layout/paths.ts). A storm asks about a thousand new MACs a second, and
 * each question would be a handful of stat calls (~4 µs each on a small VM), so what is read is
 * kept and read again only when its directory changed (a link or record lands by rename, which
 * changes the directory's mtime), and the mtime itself is looked at no more than every `maxAgeMs`.
 * `host add`, `host remove` and install-once so take effect within that, without a reload.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { isTempName } from "../layout/atomic.ts";
import { macName } from "../layout/hexip.ts";
import { STATE_DIR, macEntryNames, profileFromTarget, type HostEntryName } from "../layout/paths.ts";
import type { HostFacts, TreeFacts } from "./boot-choice.ts";

export interface TreeFactsOptions {
  /** How stale a directory listing may be before its mtime is checked again (0: every time). */
  maxAgeMs?: number;
  now?: () => number;
}

/** Without throwing for a missing file (exceptions cost more than the stat). */
function statQuiet(path: string): import("node:fs").Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR, EACCES: not there for us either
  }
}

/** A directory's entries, re-read when its mtime moved; `derive` turns them into what callers ask. */
function watched<T>(dir: string, derive: (names: string[]) => T, empty: T, o: Required<TreeFactsOptions>): () => T {
  let checkedAt = -Infinity;
  let mtime = -1;
  let value = empty;
  return () => {
    const now = o.now();
    if (now - checkedAt < o.maxAgeMs) return value;
    checkedAt = now;
    const st = statQuiet(dir);
    if (!st) return (mtime = -1), (value = empty);
    if (st.mtimeMs === mtime) return value;
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // unreadable: as if empty
    }
    mtime = st.mtimeMs;
    return (value = derive(names));
  };
}

export function treeFacts(root: string, opts: TreeFactsOptions = {}): TreeFacts {
  const o: Required<TreeFactsOptions> = { maxAgeMs: opts.maxAgeMs ?? 250, now: opts.now ?? (() => performance.now()) };
  const asSet = (names: string[]) => new Set(names);
  const listings = new Map<string, () => Set<string>>();
  const listing = (dir: string) => {
    let l = listings.get(dir);
    if (!l) listings.set(dir, (l = watched(join(root, dir), asSet, new Set<string>(), o)));
    return l();
  };
  // MACs with an install record: a record is keyed by the host's IP (the marker fetch is all
  // install-once sees) and names the MAC inside, so the records are read whole.
  const installed = watched(
    join(root, STATE_DIR),
    (names) => {
      const macs = new Set<string>();
      for (const n of names) {
        if (isTempName(n)) continue;
        try {
          const rec = JSON.parse(readFileSync(join(root, STATE_DIR, n), "utf8")) as { mac?: unknown };
          if (typeof rec.mac === "string") macs.add(rec.mac);
        } catch {
          // a half-written or hand-edited record says nothing about a MAC
        }
      }
      return { macs, names: new Set(names) };
    },
    { macs: new Set<string>(), names: new Set<string>() },
    o,
  );
  const files = new Map<string, { at: number; isFile: boolean }>();
  const split = (path: string) => {
    const i = path.lastIndexOf("/");
    return i < 0 ? { dir: "", base: path } : { dir: path.slice(0, i), base: path.slice(i + 1) };
  };
  return {
    has(path) {
      const { dir, base } = split(path);
      if (!listing(dir).has(base)) return false;
      // Present: a file, or a link to one (a directory or a dangling link is no boot file).
      const now = o.now();
      const seen = files.get(path);
      if (seen && now - seen.at < o.maxAgeMs) return seen.isFile;
      const isFile = statQuiet(join(root, path))?.isFile() ?? false;
      files.set(path, { at: now, isFile });
      return isFile;
    },
    host(mac): HostFacts {
      let present: HostEntryName[] | undefined;
      for (const n of macEntryNames(mac)) {
        const { dir, base } = split(n.path);
        if (listing(dir).has(base)) (present ??= []).push(n);
      }
      const state = installed();
      // The record's name is the pxelinux name, directly in the state directory (stateFile).
      const done = state.macs.has(mac) || state.names.has(macName(mac));
      if (!present) return { pending: false, installed: done };
      let profile: string | undefined;
      // The pxelinux link is the authority (as hosts.ts reads it), the others confirm it.
      for (const n of [...present].sort((a, b) => (a.loader === "pxelinux" ? -1 : b.loader === "pxelinux" ? 1 : 0))) {
        try {
          profile = profileFromTarget(readlinkSync(join(root, n.path)));
        } catch {
          // a hand-written file, not a link
        }
        if (profile) break;
      }
      return { pending: true, installed: done, ...(profile ? { profile } : {}) };
    },
  };
}
