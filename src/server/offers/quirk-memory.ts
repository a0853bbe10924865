/**
 * What the server learned about picky clients, per client address: the fallback step whose offer
 * a client finally took (1: blksize ≤ 1024 and no windowsize, 2: no options), so its next file
 * starts there instead of timing out again. Kept for --quirk-memory after it was last confirmed,
 * and bounded in size (the oldest entry goes first). Pure: the clock comes in as `now`.
 */
export interface Learned {
  /** The fallback step to start at. */
  step: number;
  /** Why the client fell back, for the log and `pxeboot quirks`. */
  reason: string;
  /** The file it happened with. */
  file: string;
  /** When this is forgotten unless confirmed again. */
  until: number;
}

export const QUIRK_MEMORY_MAX_CLIENTS = 10_000;

export class QuirkMemory {
  private readonly byAddress = new Map<string, Learned>();

  constructor(private readonly maxClients = QUIRK_MEMORY_MAX_CLIENTS) {}

  get size(): number {
    return this.byAddress.size;
  }

  /** The step a new request of `address` starts at (0 when nothing is remembered). */
  stepFor(address: string, now: number): number {
    const e = this.byAddress.get(address);
    if (!e) return 0;
    if (e.until <= now) {
      this.byAddress.delete(address);
      return 0;
    }
    return e.step;
  }

  /**
   * `address` needs at least fallback `step` (it fell back, or started there and it worked):
   * remembered for `memoryMs` from now. True when this is news (a step further than known), the
   * one time a fallback is worth a log line. A memory of 0 remembers nothing.
   */
  learn(address: string, step: number, reason: string, file: string, now: number, memoryMs: number): boolean {
    if (step <= 0) return false;
    const known = this.stepFor(address, now);
    const news = step > known;
    if (memoryMs <= 0) return news;
    const prev = this.byAddress.get(address);
    // Re-inserted, so the map's order stays oldest-confirmed first for eviction.
    this.byAddress.delete(address);
    this.byAddress.set(address, news || !prev ? { step, reason, file, until: now + memoryMs } : { ...prev, until: now + memoryMs });
    while (this.byAddress.size > this.maxClients) this.byAddress.delete(this.byAddress.keys().next().value!);
    return news;
  }

  /** Every live entry, for `pxeboot quirks`. */
  entries(now: number): [string, Learned][] {
    return [...this.byAddress].filter(([, e]) => e.until > now);
  }
}
