/**
 * A token bucket per key (a client address for --per-client-rate, a MAC for the proxy DHCP's
 * storm guard, one shared key for ERROR 5 replies to strangers): a boot's burst (a config search,
 * GRUB's module probes) fits, a flood from one source (or spoofed as one) does not. Pure over the
 * clock it is given, so it is tested without time passing. (Not to be confused with the log's
 * once-a-second summaries, observe/log-summary.ts.)
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    /** Requests per second allowed on average. */
    private readonly perSecond: number,
    /** How many may come at once after a quiet spell. */
    private readonly burst = perSecond * 2,
    /** Addresses remembered; past it the longest-quiet are forgotten (a full bucket again). */
    private readonly maxAddresses = 65536,
  ) {}

  /** True when `address`'s bucket has a token at `now` (ms); takes it if so. */
  allow(address: string, now: number): boolean {
    let b = this.buckets.get(address);
    if (b) {
      b.tokens = this.tokensAt(b, now);
      b.at = now;
      this.buckets.delete(address); // re-inserted below: Map order is then least recently seen first
    } else {
      b = { tokens: this.burst, at: now };
      if (this.buckets.size >= this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(address, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Whether `allow(address, now)` would take a token, changing nothing. */
  has(address: string, now: number): boolean {
    const b = this.buckets.get(address);
    return (b ? this.tokensAt(b, now) : this.burst) >= 1;
  }

  private tokensAt(b: { tokens: number; at: number }, now: number): number {
    return Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
  }
}
