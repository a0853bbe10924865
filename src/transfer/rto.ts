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
  /** What spurious resends taught every transfer of this server (see SharedRtoFloor). */
  shared?: SharedRtoFloor;
}

/**
 * How far a spurious resend raises the floor: twice the time the client really took to answer
 * the block the timer gave up on, so the next pause that long is waited out.
 */
export const SPURIOUS_FLOOR_FACTOR = 2;

/**
 * The floor spurious resends taught this server, shared by its transfers. A client that answers
 * late because 200 processes share 2 CPUs is slow through the host's scheduler, not its link:
 * every other client on that host is just as late, and each one paid a spurious resend before
 * learning it alone. The shared floor is capped (loss recovery on a LAN must stay well under a
 * second) and fades linearly over `fadeMs` after its last raise, so one overloaded minute does
 * not slow the next hour's recovery.
 */
export class SharedRtoFloor {
  private peakMs = 0;
  private raisedAt = 0;

  constructor(
    readonly capMs = 500,
    readonly fadeMs = 60_000,
  ) {}

  raise(ms: number, now: number): void {
    const current = this.floorAt(now);
    this.peakMs = Math.min(this.capMs, Math.max(current, ms));
    this.raisedAt = now;
  }

  floorAt(now: number): number {
    if (this.peakMs <= 0) return 0;
    const left = 1 - (now - this.raisedAt) / this.fadeMs;
    return left <= 0 ? 0 : this.peakMs * Math.min(1, left);
  }
}

export class RtoEstimator {
  private srtt = -1;
  private rttvar = 0;
  private rto: number;
  private min: number;
  private readonly max: number;
  /** The RTO before the first backoff of the current timeout episode, for undoing it. */
  private beforeBackoff = -1;
  private readonly shared?: SharedRtoFloor;

  constructor(cfg: RtoConfig) {
    this.shared = cfg.shared;
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

  /** The RTO with the server-wide floor applied (what the timer should wait at `now`). */
  timeoutAt(now: number): number {
    return this.shared ? Math.min(this.max, Math.max(this.rto, this.shared.floorAt(now))) : this.rto;
  }

  get floorMs(): number {
    return this.min;
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
    this.beforeBackoff = -1;
  }

  /** Exponential backoff after a timeout; a later sample brings it back down. */
  backoff(): void {
    if (this.beforeBackoff < 0) this.beforeBackoff = this.rto;
    this.rto = this.clamp(this.rto * 2);
  }

  /**
   * The last timeout was spurious (Eifel, RFC 3522): the client answered the original, only
   * late. Its backoff is undone, and the floor rises to `SPURIOUS_FLOOR_FACTOR` times the time
   * the answer really took, for this transfer and (through `shared`) for the server's others.
   */
  spurious(answeredAfterMs: number, now: number): void {
    if (this.beforeBackoff >= 0) this.rto = this.beforeBackoff;
    this.beforeBackoff = -1;
    const floor = Math.min(this.max, SPURIOUS_FLOOR_FACTOR * Math.max(0, answeredAfterMs));
    this.min = Math.max(this.min, floor);
    this.rto = this.clamp(this.rto);
    this.shared?.raise(floor, now);
  }
}
