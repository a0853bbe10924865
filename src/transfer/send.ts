/**
 * The sending side of a read transfer as a pure state machine (sans-I/O): the driver feeds it
 * ACKs, ERRORs and timer ticks with the current time, and drains `outbox` after each call. No
 * sockets or clocks here, so windows, loss, rollover and timeouts are tested with a fake clock.
 *
 * Blocks are counted with unbounded absolute numbers; only the wire sees 16-bit numbers, which is
 * what makes files of any size roll over correctly.
 */
import { absoluteBlock, blockCount, wireBlock } from "../protocol/blocks.ts";
import { encodeError, writeDataHeader } from "../protocol/packet.ts";
import { TftpError } from "../protocol/errors.ts";
import { ErrorCode, type TransferOptions } from "../protocol/types.ts";
import type { FileSource } from "../files/source.ts";
import { RtoEstimator, type RtoConfig } from "./rto.ts";

export interface SendConfig {
  options: TransferOptions;
  /** The encoded OACK when options were negotiated; DATA 1 goes first otherwise. */
  oack?: Uint8Array;
  /** The client asked for tsize: an ERROR on the OACK is then the PXE size probe, not a failure. */
  probeable: boolean;
  rto: RtoConfig;
  /** Consecutive timeouts tolerated before the transfer is abandoned. */
  retries: number;
  /** …and the least time without progress before it is (so a tiny learned RTO can't give up in a blink). */
  giveUpMs: number;
}

export type SendState = "oack" | "sending" | "done";

export interface SendResult {
  outcome: "ok" | "probe" | "error" | "timeout";
  reason?: string;
  errorCode?: number;
}

export class ReadTransfer {
  /** Datagrams owed to the client, in order; the driver sends and clears it after every call. */
  readonly outbox: Uint8Array[] = [];
  /** When `onTimer` wants to be called next (ms, same clock as `now`); Infinity when finished. */
  deadline = Infinity;
  state: SendState = "oack";
  result?: SendResult;
  retransmits = 0;

  private readonly blockSize: number;
  private readonly window: number;
  private readonly rollover: 0 | 1;
  private readonly lastBlock: number;
  private readonly rto: RtoEstimator;

  /** Highest block the client acknowledged (0 = the OACK, or nothing yet). */
  private acked = 0;
  /** Highest block handed to the driver in the current round (may go back on loss). */
  private sent = 0;
  /** Highest block ever sent: anything at or below it is a retransmission. */
  private highest = 0;
  private timeouts = 0;
  private lastProgressAt = 0;
  private rtoAt = Infinity;
  /** Congestion window (AIMD), in blocks: bursts are at most this long, the rest is paced. */
  private cwnd: number;
  private paceAt = Infinity;
  /** The source is fetching the next block from disk: sending resumes on `resume`, not on a timer. */
  private waitingForData = false;

  private readonly slots: Uint8Array[] = [];
  private readonly sentAt: Float64Array;
  private readonly resent: Uint8Array;

  constructor(
    private readonly cfg: SendConfig,
    private readonly source: FileSource,
  ) {
    this.blockSize = cfg.options.blockSize;
    this.window = cfg.options.windowSize;
    this.rollover = cfg.options.rollover;
    this.lastBlock = blockCount(source.size, this.blockSize);
    this.rto = new RtoEstimator(cfg.rto);
    this.cwnd = this.window;
    this.sentAt = new Float64Array(this.window);
    this.resent = new Uint8Array(this.window);
  }

  /** Payload bytes the client has acknowledged. */
  get bytesAcked(): number {
    return Math.min(this.source.size, this.acked * this.blockSize);
  }

  get rtoMs(): number {
    return this.rto.currentMs;
  }

  get congestionWindow(): number {
    return this.cwnd;
  }

  start(now: number): void {
    this.lastProgressAt = now;
    if (this.cfg.oack) {
      this.outbox.push(this.cfg.oack);
      this.armRto(now);
    } else {
      this.state = "sending";
      this.sendMore(now);
    }
  }

  onAck(wire: number, now: number): void {
    if (this.state === "done") return;
    if (this.state === "oack") {
      if (wire !== 0) return;
      this.state = "sending";
      this.progress(now);
      this.sendMore(now);
      return;
    }
    // After a go-back, ACKs for blocks of the earlier round still count: search up to the highest sent.
    const abs = absoluteBlock(wire, this.acked, Math.min(this.highest, this.acked + this.window), this.rollover);
    // Stale, foreign or duplicate ACKs never trigger a resend: that is how the Sorcerer's
    // Apprentice bug starts. Loss is repaired by partial ACKs and the timer only.
    if (abs <= this.acked) return;
    const slot = abs % this.window;
    if (!this.resent[slot]) this.rto.sample(now - this.sentAt[slot]!);
    const fullWindow = abs === this.sent && this.sent - this.acked >= Math.min(this.window, this.lastBlock - this.acked);
    this.acked = abs;
    this.progress(now);
    if (abs === this.lastBlock) return this.finish({ outcome: "ok" });
    if (fullWindow) this.cwnd = Math.min(this.window, this.cwnd + 1);
    // Resume right after the ACK: for a partial ACK (the client saw a gap, or gave up waiting)
    // that goes back; for a late ACK of an earlier round it skips what the client already has.
    this.sent = abs;
    this.sendMore(now);
  }

  onError(code: number, message: string): void {
    if (this.state === "done") return;
    const probe = this.state === "oack" && this.cfg.probeable && (code === ErrorCode.OPTION_REFUSED || code === 0);
    this.finish(
      probe
        ? { outcome: "probe" }
        : { outcome: "error", errorCode: code, reason: `client sent error ${code}: ${message || "(no message)"}` },
    );
  }

  onTimer(now: number): void {
    if (this.state === "done") return;
    if (now >= this.rtoAt && this.waitingForData && this.sent === this.acked) {
      // Nothing is in flight: the wait is our disk's, not loss. No backoff, no retry counted,
      // but a read that never comes back still ends the transfer.
      if (now - this.lastProgressAt >= this.cfg.giveUpMs)
        return this.finish({ outcome: "timeout", reason: "file read stalled (slow disk or NFS server?)" });
      return this.armRto(now);
    }
    if (now >= this.rtoAt) {
      this.timeouts++;
      if (this.timeouts > this.cfg.retries && now - this.lastProgressAt >= this.cfg.giveUpMs) {
        return this.finish({ outcome: "timeout", reason: `no ACK after ${this.timeouts - 1} retransmissions` });
      }
      this.rto.backoff();
      this.cwnd = Math.max(1, Math.floor(this.cwnd / 2));
      if (this.state === "oack") {
        this.outbox.push(this.cfg.oack!);
        this.retransmits++;
        this.armRto(now);
        return;
      }
      this.sent = this.acked; // go back to the first unacknowledged block
      this.sendMore(now);
      return;
    }
    if (now >= this.paceAt) this.sendMore(now);
    else this.updateDeadline();
  }

  /**
   * The driver could send only the first packets of the outbox (socket buffer full): take back
   * the last `count` so they go out again on `resume`, instead of being lost. When to resume is
   * the driver's call (it knows when the socket drains); the machine only rewinds.
   */
  unsent(count: number): void {
    if (count <= 0 || this.state !== "sending") return;
    this.sent = Math.max(this.acked, this.sent - count);
  }

  /** Called by the driver when the socket can take more, or when the source has the next data. */
  resume(now: number): void {
    if (this.state === "sending") this.sendMore(now);
  }

  /** Aborts the transfer with an ERROR to the client (e.g. the file became unreadable). */
  abort(err: TftpError): void {
    if (this.state === "done") return;
    this.outbox.push(encodeError(err.code, err.message));
    this.finish({ outcome: "error", errorCode: err.code, reason: err.detail ? `${err.message}: ${err.detail}` : err.message });
  }

  private progress(now: number): void {
    this.timeouts = 0;
    this.lastProgressAt = now;
  }

  private finish(result: SendResult): void {
    this.state = "done";
    this.result = result;
    this.deadline = Infinity;
    this.rtoAt = this.paceAt = Infinity;
  }

  private armRto(now: number): void {
    this.rtoAt = now + this.rto.currentMs;
    this.updateDeadline();
  }

  private updateDeadline(): void {
    this.deadline = Math.min(this.rtoAt, this.paceAt);
  }

  /** Sends the next burst of the window: at most cwnd blocks now, the rest paced after it. */
  private sendMore(now: number): void {
    const limit = Math.min(this.acked + this.window, this.lastBlock);
    let burst = Math.max(1, Math.ceil(this.cwnd));
    let any = false;
    this.waitingForData = false;
    try {
      while (this.sent < limit && burst-- > 0) {
        if (!this.emit(this.sent + 1, now)) {
          this.waitingForData = true;
          break;
        }
        any = true;
      }
    } catch (err) {
      return this.abort(err instanceof TftpError ? err : new TftpError(0, "Read error", String(err)));
    }
    // Pace the rest of the window a fraction of a round trip later, so a shrunken cwnd still
    // completes the window the client is counting on (RFC 7440 receivers ACK only full windows).
    const srtt = this.rto.smoothedRttMs ?? 1;
    this.paceAt = this.sent < limit && !this.waitingForData ? now + Math.min(20, Math.max(1, srtt / 2)) : Infinity;
    // Waiting on the disk with nothing sent yet still needs a timer: the stall limit in onTimer.
    if (any || (this.waitingForData && this.rtoAt === Infinity)) this.rtoAt = now + this.rto.currentMs;
    this.updateDeadline();
  }

  /** False when the block's data is not in memory yet: the source calls back when it lands. */
  private emit(block: number, now: number): boolean {
    const slot = block % this.window;
    const offset = (block - 1) * this.blockSize;
    const length = Math.min(this.blockSize, this.source.size - offset);
    let packet = this.slots[slot];
    if (!packet) packet = this.slots[slot] = new Uint8Array(4 + this.blockSize);
    if (!this.source.read(packet, 4, offset, length)) return false;
    writeDataHeader(packet, wireBlock(block, this.rollover));
    this.outbox.push(length === this.blockSize ? packet : packet.subarray(0, 4 + length));
    this.sentAt[slot] = now;
    if (block <= this.highest) {
      this.resent[slot] = 1;
      this.retransmits++;
    } else {
      this.resent[slot] = 0;
      this.highest = block;
    }
    this.sent = block;
    return true;
  }
}
