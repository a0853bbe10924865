/**
 * What the farm page and its JSON API serve, read from the records every server of the root
 * writes (so any of them, and any worker, shows the same farm).
 */
import { listHosts } from "../layout/hosts.ts";
import { renderFarmPage, type FarmHost } from "./farm-page.ts";
import { statSync } from "node:fs";
import { join } from "node:path";
import { foldBoots, QUIET_GAP_MS } from "./fold.ts";
import { BOOTS_DIR, hostFileName, listHostKeys, readEvents, readTailEvents } from "./store.ts";
import type { Boot } from "./types.ts";

/** At most this many hosts on the page (the API's list has them all). */
const PAGE_HOSTS_MAX = 2000;

/** Enough of a host's file for its last boot (a pxelinux boot with its config search is ~25 events). */
const TAIL_BYTES = 12 * 1024;

/** Per root: each host's last boot as folded from its file's tail, kept while the file is unchanged. */
const cache = new Map<string, Map<string, { mtimeMs: number; size: number; last: Boot; recheckAt: number }>>();

/**
 * Files read per page load at most: a cold cache of 10,000 hosts would otherwise hold the
 * serving process for over a second; the rest are read on the next loads (the page says so).
 */
const READS_PER_CALL = 1500;

export interface FarmHosts {
  hosts: FarmHost[];
  /** Hosts whose records were not read yet (the next page loads read them). */
  unread: number;
}

export function farmHosts(root: string, now: number): FarmHosts {
  const profiles = new Map<string, string>();
  for (const h of listHosts(root)) {
    profiles.set(h.host, h.profile);
    profiles.set(h.host.toLowerCase().replace(/:/g, "-"), h.profile);
  }
  const seen = cache.get(root) ?? new Map();
  cache.set(root, seen);
  const keys = listHostKeys(root);
  const out: FarmHost[] = [];
  let reads = 0;
  let unread = 0;
  for (const id of keys) {
    const st = statSync(join(root, BOOTS_DIR, hostFileName(id)), { throwIfNoEntry: false });
    if (!st) continue;
    let hit = seen.get(id);
    // Re-read a changed file, or one whose last boot may have turned final with time.
    const stale = !hit || hit.mtimeMs !== st.mtimeMs || hit.size !== st.size || now >= hit.recheckAt;
    if (stale && reads >= READS_PER_CALL) {
      if (hit) out.push({ id, profile: profiles.get(id) ?? profiles.get(hit.last.address), last: hit.last });
      else unread++;
      continue;
    }
    if (stale) {
      reads++;
      const boots = foldBoots(readTailEvents(root, id, TAIL_BYTES), { now });
      const last = boots[boots.length - 1];
      if (!last) continue;
      hit = { mtimeMs: st.mtimeMs, size: st.size, last, recheckAt: last.verdict === "in-progress" || now - last.endedAt <= QUIET_GAP_MS ? now + 5_000 : Infinity };
      seen.set(id, hit);
    }
    out.push({ id, profile: profiles.get(id) ?? profiles.get(hit.last.address), last: hit.last });
  }
  // Hosts pruned from the store leave the cache too.
  if (seen.size > keys.length) {
    const present = new Set(keys);
    for (const k of [...seen.keys()]) if (!present.has(k)) seen.delete(k);
  }
  return { hosts: out, unread };
}

export interface FarmResponse {
  status: number;
  type: string;
  body: string;
}

const json = (v: unknown): FarmResponse => ({ status: 200, type: "application/json", body: JSON.stringify(v) });

/** The page and API routes, or undefined for a path they do not own. */
export function farmRoute(root: string, path: string, server: () => Record<string, string | number>, now = Date.now()): FarmResponse | undefined {
  if (path === "/") {
    const { hosts, unread } = farmHosts(root, now);
    return { status: 200, type: "text/html; charset=utf-8", body: renderFarmPage({ hosts, limit: PAGE_HOSTS_MAX, now, server: server(), unread }) };
  }
  if (path === "/api/hosts") {
    return json(
      farmHosts(root, now).hosts.map((h) => ({ id: h.id, address: h.last.address, profile: h.profile ?? null, verdict: h.last.verdict, detail: h.last.detail ?? null, startedAt: new Date(h.last.startedAt).toISOString(), endedAt: new Date(h.last.endedAt).toISOString(), steps: h.last.steps })),
    );
  }
  const m = /^\/api\/hosts\/([^/]+)\/boots$/.exec(path);
  if (m) {
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return { status: 400, type: "text/plain", body: "bad host id\n" };
    }
    // Only ids the store has: a path must not name a file of its own choosing.
    if (!listHostKeys(root).includes(id)) return { status: 404, type: "text/plain", body: "no boots recorded for that host\n" };
    return json(foldBoots(readEvents(root, id), { now }));
  }
  return undefined;
}
