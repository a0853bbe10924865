/**
 * What the farm page and its JSON API serve, read from the records every server of the root
 * writes (so any of them, and any worker, shows the same farm).
 */
import { listHosts } from "../layout/hosts.ts";
import { renderFarmPage, type FarmHost } from "./farm-page.ts";
import { foldBoots } from "./fold.ts";
import { listHostKeys, readEvents } from "./store.ts";

/** At most this many hosts on the page (the API's list has them all). */
const PAGE_HOSTS_MAX = 2000;

export function farmHosts(root: string, now: number): FarmHost[] {
  const profiles = new Map<string, string>();
  for (const h of listHosts(root)) {
    profiles.set(h.host, h.profile);
    profiles.set(h.host.toLowerCase().replace(/:/g, "-"), h.profile);
  }
  const out: FarmHost[] = [];
  for (const id of listHostKeys(root)) {
    const boots = foldBoots(readEvents(root, id), { now });
    const last = boots[boots.length - 1];
    if (last) out.push({ id, profile: profiles.get(id) ?? profiles.get(last.address), last, boots: boots.length });
  }
  return out;
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
    const hosts = farmHosts(root, now);
    return { status: 200, type: "text/html; charset=utf-8", body: renderFarmPage({ hosts: hosts.slice(0, PAGE_HOSTS_MAX), now, server: server() }) };
  }
  if (path === "/api/hosts") {
    return json(
      farmHosts(root, now).map((h) => ({ id: h.id, address: h.last.address, profile: h.profile ?? null, boots: h.boots, verdict: h.last.verdict, detail: h.last.detail ?? null, startedAt: new Date(h.last.startedAt).toISOString(), endedAt: new Date(h.last.endedAt).toISOString(), steps: h.last.steps })),
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
