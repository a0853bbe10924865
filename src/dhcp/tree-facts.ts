/**
 * The tree as the proxyDHCP sees it, read at each request so `host add`, `host remove` and
 * install-once take effect at the next DISCOVER without a reload: the same per-host links and
 * install records the TFTP side and `host list` read (layout/paths.ts).
 */
import { lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isTempName } from "../layout/atomic.ts";
import { macName } from "../layout/hexip.ts";
import { linkedProfile } from "../layout/hosts.ts";
import { STATE_DIR, macEntryNames, stateFile } from "../layout/paths.ts";
import type { HostFacts, TreeFacts } from "./boot-choice.ts";

function exists(path: string, follow: boolean): boolean {
  try {
    const st = follow ? statSync(path) : lstatSync(path);
    return follow ? st.isFile() : true;
  } catch {
    return false;
  }
}

/**
 * MACs with an install record. A record is keyed by the host's IP (the marker fetch is all
 * install-once sees) and names the MAC inside, so the directory is read whole; again only when
 * it changed (a record lands by rename, which changes the directory's mtime), not per DISCOVER.
 */
function installedMacs(root: string): () => Set<string> {
  const dir = join(root, STATE_DIR);
  let seenMtime = -1;
  let macs = new Set<string>();
  return () => {
    let mtime: number;
    try {
      mtime = statSync(dir).mtimeMs;
    } catch {
      return (macs = new Set());
    }
    if (mtime === seenMtime) return macs;
    const next = new Set<string>();
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // unreadable: no records known, as if none were written
    }
    for (const n of names) {
      if (isTempName(n)) continue;
      try {
        const rec = JSON.parse(readFileSync(join(dir, n), "utf8")) as { mac?: unknown };
        if (typeof rec.mac === "string") next.add(rec.mac);
      } catch {
        // a half-written or hand-edited record says nothing about a MAC
      }
    }
    seenMtime = mtime;
    return (macs = next);
  };
}

export function treeFacts(root: string): TreeFacts {
  const installed = installedMacs(root);
  return {
    has: (path) => exists(join(root, path), true),
    host(mac): HostFacts {
      const names = macEntryNames(mac);
      const pending = names.some((n) => exists(join(root, n.path), false));
      const done = installed().has(mac) || exists(join(root, stateFile(macName(mac))), false);
      const profile = pending ? linkedProfile(root, names) : undefined;
      return { pending, installed: done, ...(profile ? { profile } : {}) };
    },
  };
}
