/**
 * What keeps a boot storm from becoming a reply storm: a request seen again within a moment
 * (the same broadcast through two relays, a NIC that sends twice) is answered once; one MAC
 * may not ask more than a boot's worth per second; and a host's decision is logged once per
 * boot, not once per packet. Pure over the clock it is given.
 */
import { TokenBuckets } from "../server/admission/token-buckets.ts";

export interface StormGuardOptions {
  /** A second copy of one request (MAC, xid, type, port) within this is a duplicate. */
  duplicateWindowMs?: number;
  /** Requests per MAC per second, bursts of twice that. */
  perMacPerSecond?: number;
  /** A host's unchanged decision is logged again only after this long (a new boot). */
  relogAfterMs?: number;
  /** Entries remembered per table; past it the oldest are forgotten. */
  maxEntries?: number;
}

export type Admission = "answer" | "duplicate" | "limited";

export class StormGuard {
  private readonly seen = new Map<string, number>();
  private readonly logged = new Map<string, { what: string; at: number }>();
  private readonly limiter: TokenBuckets;
  private readonly windowMs: number;
  private readonly relogMs: number;
  private readonly max: number;

  constructor(o: StormGuardOptions = {}) {
    this.windowMs = o.duplicateWindowMs ?? 900;
    this.relogMs = o.relogAfterMs ?? 60_000;
    this.max = o.maxEntries ?? 65536;
    const rate = o.perMacPerSecond ?? 4;
    this.limiter = new TokenBuckets(rate, rate * 2, this.max);
  }

  /** Whether to answer this request now; counts it either way. */
  admit(mac: string, xid: number, kind: string, now: number): Admission {
    const key = `${mac}/${xid}/${kind}`;
    const at = this.seen.get(key);
    if (at !== undefined && now - at < this.windowMs) return "duplicate";
    if (!this.limiter.allow(mac, now)) return "limited";
    remember(this.seen, key, now, this.max);
    return "answer";
  }

  /** True when this decision for this host is news: first seen, changed, or a boot later. */
  shouldLog(mac: string, what: string, now: number): boolean {
    const last = this.logged.get(mac);
    if (last && last.what === what && now - last.at < this.relogMs) return false;
    remember(this.logged, mac, { what, at: now }, this.max);
    return true;
  }
}

/** Map order is insertion order: re-inserting keeps the most recent last, the oldest first out. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}
