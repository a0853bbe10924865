/**
 * Retransmission timeout learned from ACK round trips, after RFC 6298: on a LAN a lost DATA
 * should cost a few milliseconds, not the seconds a fixed timeout costs, while a slow client
 * (or a server busy with a boot storm) pushes the estimate up instead of drawing spurious resends.
 */
export interface RtoConfig {
  /** Before the first sample (RFC 6298 uses 1 s). */
  initialMs: number;
  minMs: number;
  maxMs: number;
  /** The client's RFC 2349 timeout: we never retransmit sooner than it asked. */
  floorMs?: number;
}

export class RtoEstimator {
  private srtt = -1;
  private rttvar = 0;
  private rto: number;
  private readonly min: number;
  private readonly max: number;

  constructor(cfg: RtoConfig) {
    this.min = Math.max(cfg.minMs, cfg.floorMs ?? 0);
    this.max = Math.max(cfg.maxMs, this.min);
    this.rto = this.clamp(Math.max(cfg.initialMs, this.min));
  }

  private clamp(ms: number): number {
    return Math.min(this.max, Math.max(this.min, ms));
  }

  get currentMs(): number {
    return this.rto;
  }

  get smoothedRttMs(): number | undefined {
    return this.srtt < 0 ? undefined : this.srtt;
  }

  /** One round trip of a block that was sent once (Karn: retransmitted blocks are never sampled). */
  sample(rttMs: number): void {
    const r = Math.max(0, rttMs);
    if (this.srtt < 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    // The 1 ms term stands for the clock granularity G of RFC 6298. Twice the smoothed RTT as a
    // lower bound: in a storm the round trip is the server's own queue, steady enough to shrink
    // rttvar to nothing, and a small hiccup then fired spurious resends (~2 % of all DATA).
    this.rto = this.clamp(Math.max(2 * this.srtt, this.srtt + Math.max(1, 4 * this.rttvar)));
  }

  /** Exponential backoff after a timeout; a later sample brings it back down. */
  backoff(): void {
    this.rto = this.clamp(this.rto * 2);
  }
}
