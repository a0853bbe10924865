/**
 * A host's boots as `pxeboot host log` and `host list` show them: the events stored under its
 * MAC and under its address (a host keyed by address before its MAC was known, or reached by
 * either name), folded together.
 */
import { lookupMac } from "../layout/macs.ts";
import { foldBoots } from "./fold.ts";
import { listHostKeys, readEvents } from "./store.ts";
import type { Boot, BootEvent } from "./types.ts";

export interface HostQuery {
  mac?: string;
  address?: string;
}

/** Every stored key that is this host. */
export function keysOf(root: string, q: HostQuery, neighbourTable?: string): string[] {
  const keys = new Set<string>();
  if (q.mac) keys.add(q.mac.toLowerCase());
  if (q.address) {
    keys.add(q.address);
    const found = lookupMac(root, q.address, neighbourTable);
    if (found) keys.add(found.mac.toLowerCase());
  }
  return [...keys];
}

export function hostEvents(root: string, keys: readonly string[]): BootEvent[] {
  return keys.flatMap((k) => readEvents(root, k));
}

export function hostBoots(root: string, keys: readonly string[], now: number): Boot[] {
  return foldBoots(hostEvents(root, keys), { now });
}

/** Each recorded host's last boot, for `host list` and `status`. */
export function lastBoots(root: string, now: number): Map<string, Boot> {
  const out = new Map<string, Boot>();
  for (const key of listHostKeys(root)) {
    const boots = foldBoots(readEvents(root, key), { now });
    const last = boots[boots.length - 1];
    if (last) out.set(key, last);
  }
  return out;
}
