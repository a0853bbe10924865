/**
 * The sending side of a read transfer (what the server does after an RRQ), as a TransferMachine
 * (types.ts): ACKs, ERRORs and timer ticks go in, DATA comes out of a reused outbox.
 *
 * Blocks are counted with unbounded absolute numbers; only the wire sees 16-bit numbers, which is
 * what makes files of any size roll over correctly.
 */
import { absoluteBlock, blockCount, wireBlock } from "../protocol/blocks.ts";
import { readError, TftpError, UNKNOWN_TID_PACKET } from "../protocol/errors.ts";
import { decodePacket, isDecodeFailure, writeDataHeader } from "../protocol/packet.ts";
import { ErrorCode, Opcode, type TransferOptions } from "../protocol/types.ts";
import { RtoEstimator, type RtoConfig } from "./rto.ts";
import type { BlockSource, Peer, TransferMachine } from "./types.ts";

/** What the server offers a client: the options in force, and the OACK that announces them (none: DATA 1 first). */
export interface Offer {
  options: TransferOptions;
  oack?: Uint8Array;
  /** The client asked for tsize and the OACK has it: an ERROR on it is the PXE size probe. */
  probeable: boolean;
}

/** OACK timeouts after which a transfer steps down to its next, more conservative offer. */
export const OACK_TIMEOUTS_BEFORE_FALLBACK = 2;

/**
 * Until the client has acknowledged something, what a transfer sends it (first answer,
 * retransmissions, fallback offers, all counted in bytes) stays within this many times the larger
 * of its request and the first answer; each repeat of the request adds this many times its size.
 * A source that never answers (a spoofed RRQ, a client gone) then draws at most 4× what it sent,
 * 4× the inevitable first answer for a plain RRQ (which is DATA 1, as from every server). The
 * ladder's plain DATA 1 after unanswered OACKs is what would cost (516 bytes after a 50-byte
 * request: it used to go 7 times); picky firmware that waits for it repeats its request (RFC
 * 1350 clients resend the RRQ until something they understand comes), and those repeats pay.
 */
export const UNANSWERED_BYTES_FACTOR = 4;

export interface SendConfig {
  /** The client's transfer ID: anyone else at our port is a stranger. */
  peer: Peer;
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
  /**
   * More conservative offers, in order, for a client that leaves the OACK unanswered: taken
   * after `OACK_TIMEOUTS_BEFORE_FALLBACK` OACK timeouts, or at once through `fallBack`.
   */
  fallbacks?: Offer[];
  /** A fallback happened: `step` is 1 for the first of `fallbacks`, and so on. */
  onFallback?: (step: number, reason: string, now: number) => void;
  /** Size of the request datagram: given, what goes out before the client answers is budgeted (`UNANSWERED_BYTES_FACTOR`). */
  requestBytes?: number;
}

export interface SendOutcome {
  kind: "ok" | "probe" | "error" | "timeout";
  reason?: string;
  /** For "error": the TFTP code the client sent, or the one we sent when the file failed us. */
  code?: number;
}

type Phase = "oack" | "sending" | "done";


/**
 * A retransmission timer that fires this much after its time means the whole process was stalled
 * (descheduled while many processes share the CPUs): the ACK it waited for may already sit unread
 * in the socket. The resend is then held back by `LATE_TIMER_RECHECK_MS`, long enough for the
 * event loop to read the socket first.
 */
export const LATE_TIMER_MS = 2;
/**
 * Inside a go-back, a partial ACK that shows a new gap is answered by the next go-back no sooner
 * than this (or a smoothed round trip, if longer) after the last one: a second loss among the
 * resent blocks is repaired in tens of milliseconds, not a retransmission timeout (200 ms at
 * least), while ACKs 1, 2, 3, … from a spoofer draw a window per this interval, not per ACK.
 */
export const GO_BACK_SPACING_MS = 20;
export const LATE_TIMER_RECHECK_MS = 1;

export class SendTransfer implements TransferMachine<SendOutcome> {
  readonly outbox: Uint8Array[] = [];
  deadline = Infinity;
  outcome: SendOutcome | undefined;
  retransmits = 0;
  /** Timeouts found to be spurious afterwards (the client was slow, nothing was lost). */
  spuriousTimeouts = 0;

  private phase: Phase = "oack";

  // Fixed once the client accepts an offer; until then a fallback may replace them.
  private blockSize: number;
  private window: number;
  private rollover: 0 | 1;
  private lastBlock: number;
  private oack: Uint8Array | undefined;
  private probeable: boolean;
  /** Fallbacks taken so far (0: the first offer stands). */
  private step = 0;
  private oackTimeouts = 0;
  /** The client took the offer: it acknowledged the OACK, or there was none. */
  private oackAnswered = false;
  /** A fallback asked for from outside (the client repeated its request): taken at the next timer. */
  private fallbackAsked: string | undefined;
  /** The client acknowledged something: the unanswered budget no longer applies. */
  private heard = false;
  /** Bytes sent before the client answered, and what they may add up to (Infinity: no budget). */
  private unansweredSent = 0;
  private unansweredBudget: number;
  private rto: RtoEstimator;

  /** Highest block the client acknowledged (0 = the OACK, or nothing yet). */
  private acked = 0;
  /** Highest block handed to the driver in the current round (may go back on loss). */
  private sent = 0;
  /** Highest block ever sent: anything at or below it is a retransmission. */
  private highest = 0;
  private timeouts = 0;
  private lastProgressAt = 0;
  private rtoAt = Infinity;
  /** The current expiry was already held back once for a late timer. */
  private heldBack = false;
  /** Congestion window (AIMD), in blocks: bursts are at most this long, the rest is paced. */
  private cwnd: number;
  private paceAt = Infinity;
  /** The source is fetching the next block from disk: sending resumes on `resume`, not on a timer. */
  private waitingForData = false;

  private slots: Uint8Array[] = [];
  private sentAt: Float64Array;
  /** When each block in flight was first sent: how long the client really took, if a resend was spurious. */
  private firstSentAt: Float64Array;
  private resent: Uint8Array;
  private startedAt = 0;

  /**
   * The last timeout's resend, while its spuriousness can still show: blocks `episodeFrom` to
   * `episodeTo` (0 for the OACK) went again. -1: no episode open.
   */
  private episodeFrom = -1;
  private episodeTo = -1;
  private cwndBeforeLoss = 0;
  /** For the latest ACK into the episode's blocks: how long after their first sending it came. */
  private answeredAfterMs = 0;
  /** When `acked` last moved. */
  private ackedAt = 0;
  /**
   * The last go-back on a partial ACK resent up to here (the highest block out then); -1 when no
   * go-back is under way. Until an ACK reaches it, further partial ACKs only slide the window.
   */
  private recoverTo = -1;
  /** When the last go-back on a partial ACK went, and when the next one is due (Infinity: none asked). */
  private lastGoBackAt = -Infinity;
  private goBackAt = Infinity;

  constructor(
    private readonly cfg: SendConfig,
    private readonly source: BlockSource,
  ) {
    this.blockSize = cfg.options.blockSize;
    this.window = cfg.options.windowSize;
    this.rollover = cfg.options.rollover;
    this.lastBlock = blockCount(source.size, this.blockSize);
    this.oack = cfg.oack;
    this.probeable = cfg.probeable;
    this.rto = new RtoEstimator(cfg.rto);
    this.cwnd = this.window;
    this.sentAt = new Float64Array(this.window);
    this.firstSentAt = new Float64Array(this.window);
    this.resent = new Uint8Array(this.window);
    this.unansweredBudget = cfg.requestBytes === undefined ? Infinity : UNANSWERED_BYTES_FACTOR * cfg.requestBytes;
  }

  /** The options in force (after any fallback). */
  get options(): TransferOptions {
    return { ...this.cfg.options, blockSize: this.blockSize, windowSize: this.window, rollover: this.rollover };
  }

  /** How many fallbacks were taken (0: the first offer). */
  get fallbackStep(): number {
    return this.step;
  }

  /**
   * Where the client is: "oack" while the OACK is unanswered, "data" while not one DATA block
   * is acknowledged, "proven" after. A client that repeats its request while "oack" or "data"
   * never got along with this offer.
   */
  get stage(): "oack" | "data" | "proven" {
    if (!this.oackAnswered) return "oack";
    return this.acked === 0 ? "data" : "proven";
  }

  /**
   * The client repeated its request while this transfer's OACK is unanswered: it never took
   * the offer. The next offer goes at the next timer event (the driver owns when datagrams go),
   * which is at most one retransmission timeout away. False when there is nothing to fall to.
   */
  /**
   * The client sent its request again (dispatch folded it into this transfer): while it has not
   * answered, that raises what may be sent to it by `UNANSWERED_BYTES_FACTOR` times its size.
   */
  requestRepeated(bytes: number): void {
    if (!this.heard) this.unansweredBudget += UNANSWERED_BYTES_FACTOR * bytes;
  }

  /** Bytes sent to a client that has not acknowledged anything yet (all of them while it is silent). */
  get bytesUnanswered(): number {
    return this.unansweredSent;
  }

  askFallback(reason: string): boolean {
    if (this.phase !== "oack" || !this.cfg.fallbacks?.[this.step]) return false;
    this.fallbackAsked ??= reason;
    return true;
  }

  /**
   * Steps down to the next offer while the OACK is unanswered (the client repeated its request,
   * or the OACK timed out): the new OACK, or DATA 1 when the offer has no options, goes out now.
   * False when there is no next offer or the client has already accepted one.
   */
  fallBack(now: number, reason: string): boolean {
    const next = this.cfg.fallbacks?.[this.step];
    if (this.phase !== "oack" || !next) return false;
    this.step++;
    this.blockSize = next.options.blockSize;
    this.window = next.options.windowSize;
    this.rollover = next.options.rollover;
    this.lastBlock = blockCount(this.source.size, this.blockSize);
    this.oack = next.oack;
    this.probeable = next.probeable;
    this.cwnd = this.window;
    this.slots = [];
    this.sentAt = new Float64Array(this.window);
    this.firstSentAt = new Float64Array(this.window);
    this.resent = new Uint8Array(this.window);
    this.oackTimeouts = 0;
    this.fallbackAsked = undefined;
    this.episodeFrom = -1;
    // Nothing was sampled while the OACK went unanswered: the new offer starts from a fresh timer.
    this.rto = new RtoEstimator(this.cfg.rto);
    this.progress(now);
    this.startedAt = now;
    this.cfg.onFallback?.(this.step, reason, now);
    this.offer(now);
    return true;
  }

  /** The current offer goes out: its OACK, or DATA 1 straight away when it has no options. */
  /** Whether a datagram of `bytes` may go now: always once the client answered, and the first one. */
  private fits(bytes: number): boolean {
    return this.heard || this.unansweredSent === 0 || this.unansweredSent + bytes <= this.unansweredBudget;
  }

  /** Counts a datagram that went; the first one sets the budget's base (the larger of it and the request). */
  private spend(bytes: number): void {
    if (this.heard) return;
    if (this.unansweredSent === 0) this.unansweredBudget = Math.max(this.unansweredBudget, UNANSWERED_BYTES_FACTOR * bytes);
    this.unansweredSent += bytes;
  }

  /** Sends the current OACK if it fits the budget. */
  private sendOack(): boolean {
    if (!this.fits(this.oack!.length)) return false;
    this.spend(this.oack!.length);
    this.outbox.push(this.oack!);
    return true;
  }

  private offer(now: number): void {
    if (this.oack) {
      this.sendOack();
      this.armRto(now);
    } else {
      this.phase = "sending";
      this.oackAnswered = true;
      this.sendMore(now);
    }
  }

  get peer(): Peer {
    return this.cfg.peer;
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
    this.startedAt = now;
    this.offer(now);
  }

  onDatagram(bytes: Uint8Array, port: number, address: string, now: number): Uint8Array | null {
    const peer = this.cfg.peer;
    // RFC 1350: a stranger at our TID gets ERROR 5; the transfer itself is untouched.
    if (port !== peer.port || address !== peer.address) return UNKNOWN_TID_PACKET;
    // ACKs are nearly every datagram a transfer sees: read them in place, no decoding object.
    if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === Opcode.ACK) this.onAck((bytes[2]! << 8) | bytes[3]!, now);
    else {
      const p = decodePacket(bytes);
      // Mangled or stray (not ACK, not ERROR): treated as lost.
      if (!isDecodeFailure(p) && p.op === Opcode.ERROR) this.onError(p.code, p.message);
    }
    return null;
  }

  /** An ACK from the peer, already read off the wire (onDatagram's hot path, and tests). */
  onAck(wire: number, now: number): void {
    if (this.phase === "done") return;
    if (this.phase === "oack") {
      if (wire !== 0) return;
      this.heard = true;
      if (this.episodeFrom === 0) this.answeredAfterMs = now - this.startedAt;
      this.ackedAt = now;
      this.oackAnswered = true;
      this.phase = "sending";
      this.progress(now);
      this.sendMore(now);
      return;
    }
    // After a go-back, ACKs for blocks of the earlier round still count: search up to the highest sent.
    const abs = absoluteBlock(wire, this.acked, Math.min(this.highest, this.acked + this.window), this.rollover);
    if (abs <= this.highest) this.heard = true;
    // Stale, foreign or duplicate ACKs never trigger a resend: that is how the Sorcerer's
    // Apprentice bug starts. Loss is repaired by partial ACKs and the timer only.
    if (abs <= this.acked) {
      // A second ACK for a block the timer resent, right behind the first: the client got both
      // copies, so the first was never lost (the DSACK / F-RTO reasoning). One that comes a
      // timeout later is the client's own retry, no evidence. Timing alone (an ACK "too soon"
      // after the resend) is not used: under load the smoothed RTT is mostly queueing, and a
      // genuine resend's ACK often beats half of it, which raised floors on real loss.
      if (abs === this.acked && this.episodeFrom >= 0 && abs >= this.episodeFrom && abs <= this.episodeTo && now - this.ackedAt < this.rto.currentMs)
        this.spurious(now);
      return;
    }
    if (this.episodeFrom >= 0 && this.acked > this.episodeTo) this.episodeFrom = -1; // the episode is behind us
    const slot = abs % this.window;
    if (!this.resent[slot]) this.rto.sample(now - this.sentAt[slot]!);
    else if (this.episodeFrom >= 0 && abs >= this.episodeFrom) this.answeredAfterMs = now - this.firstSentAt[slot]!;
    const fullWindow = abs === this.sent && this.sent - this.acked >= Math.min(this.window, this.lastBlock - this.acked);
    this.acked = abs;
    this.ackedAt = now;
    this.progress(now);
    if (abs === this.lastBlock) return this.finish({ kind: "ok" });
    if (fullWindow) this.cwnd = Math.min(this.window, this.cwnd + 1);
    if (this.recoverTo >= 0 && abs >= this.recoverTo) this.endGoBack();
    if (abs < this.sent && this.recoverTo < 0) {
      // A partial ACK: the client saw a gap (or gave up waiting) after `abs`; resend from there.
      this.goBack(now);
      return;
    }
    if (abs < this.sent) {
      // A new gap inside a go-back under way: the next go-back, spaced (see goBack).
      const srtt = this.rto.smoothedRttMs ?? 0;
      this.goBackAt = Math.min(this.goBackAt, this.lastGoBackAt + Math.max(GO_BACK_SPACING_MS, srtt));
      if (now >= this.goBackAt) return this.goBack(now);
    }
    // A full ACK, a late one of an earlier round (skip what the client has), or a partial ACK
    // waiting for its go-back: the window slides, only new blocks go.
    this.sent = Math.max(this.sent, abs);
    this.sendMore(now);
  }

  /**
   * Sends the window again from the first block the client is missing. A real receiver ACKs the
   * end of a window, or the block before its first gap and then waits for the resend: it does not
   * send partial ACKs one after another. Resending a whole window for each would let a blind
   * spoofer who guessed a transfer's port draw a window per 4-byte ACK (ACKs 1, 2, 3, …; issue
   * 21). So one go-back at a time: until an ACK reaches what it resent, a partial ACK showing a
   * new gap only books the next go-back, GO_BACK_SPACING_MS (or a round trip) after this one. The
   * round-trip estimate alone is no guard: its samples are the ACKs' timing, which a spoofer sets.
   */
  private goBack(now: number): void {
    this.recoverTo = this.highest;
    this.lastGoBackAt = now;
    this.goBackAt = Infinity;
    this.sent = this.acked;
    this.sendMore(now);
  }

  private endGoBack(): void {
    this.recoverTo = -1;
    this.goBackAt = Infinity;
  }

  /** An ERROR from the peer, already decoded. */
  onError(code: number, message: string): void {
    if (this.phase === "done") return;
    const probe =
      this.phase === "oack" && this.probeable && (code === ErrorCode.OPTION_REFUSED || code === ErrorCode.NOT_DEFINED);
    this.finish(
      probe ? { kind: "probe" } : { kind: "error", code, reason: `client sent error ${code}: ${message || "(no message)"}` },
    );
  }

  onTimer(now: number): void {
    if (this.phase === "done") return;
    if (this.fallbackAsked !== undefined && this.fallBack(now, this.fallbackAsked)) return;
    if (now >= this.rtoAt && this.waitingForData && this.sent === this.acked) {
      // Nothing is in flight: the wait is our disk's, not loss. No backoff, no retry counted,
      // but a read that never comes back still ends the transfer.
      if (now - this.lastProgressAt >= this.cfg.giveUpMs)
        return this.finish({ kind: "timeout", reason: "file read stalled (slow disk or NFS server?)" });
      return this.armRto(now);
    }
    if (now >= this.rtoAt && now - this.rtoAt > LATE_TIMER_MS && !this.heldBack) {
      this.heldBack = true;
      this.rtoAt = now + LATE_TIMER_RECHECK_MS;
      return this.updateDeadline();
    }
    if (now >= this.rtoAt) {
      this.heldBack = false;
      this.timeouts++;
      if (this.timeouts > this.cfg.retries && now - this.lastProgressAt >= this.cfg.giveUpMs) {
        return this.finish({ kind: "timeout", reason: `no ACK after ${this.timeouts - 1} retransmissions` });
      }
      if (this.episodeFrom < 0) this.cwndBeforeLoss = this.cwnd;
      this.rto.backoff();
      this.cwnd = Math.max(1, Math.floor(this.cwnd / 2));
      this.episodeFrom = this.acked === 0 && this.phase === "oack" ? 0 : this.acked + 1;
      this.episodeTo = this.phase === "oack" ? 0 : this.highest;
      if (this.phase === "oack" && ++this.oackTimeouts >= OACK_TIMEOUTS_BEFORE_FALLBACK && this.fallBack(now, `OACK unanswered ${this.oackTimeouts} times`)) return;
      if (this.phase === "oack") {
        if (this.sendOack()) this.retransmits++;
        this.armRto(now);
        return;
      }
      this.sent = this.acked; // go back to the first unacknowledged block
      this.endGoBack();
      this.sendMore(now);
      return;
    }
    if (now >= this.goBackAt) return this.goBack(now);
    if (now >= this.paceAt) this.sendMore(now);
    else this.updateDeadline();
  }

  /**
   * The driver could send only the first packets of the outbox (socket buffer full): take back
   * the last `count` so they go out again on `resume`, instead of being lost. When to resume is
   * the driver's call (it knows when the socket drains); the machine only rewinds.
   */
  unsent(count: number): void {
    if (count <= 0 || this.phase !== "sending") return;
    this.sent = Math.max(this.acked, this.sent - count);
  }

  /** Called by the driver when the socket can take more, or when the source has the next data. */
  resume(now: number): void {
    if (this.phase === "sending") this.sendMore(now);
  }

  /** The client's socket is gone (the driver saw ICMP port unreachable): ends, sending nothing. */
  clientGone(reason: string): void {
    if (this.phase !== "done") this.finish({ kind: "error", reason });
  }

  cancel(error: TftpError, reason: string): void {
    if (this.phase === "done") return;
    this.outbox.push(error.encode());
    this.finish({ kind: "error", reason });
  }

  /** The file failed us: the client is told, and the outcome carries the code we sent. */
  private abort(err: TftpError): void {
    this.outbox.push(err.encode());
    this.finish({ kind: "error", code: err.code, reason: err.detail ? `${err.message}: ${err.detail}` : err.message });
  }

  /** The last timeout was spurious: undo its backoff and cwnd cut, and wait longer next time. */
  private spurious(now: number): void {
    this.episodeFrom = -1;
    this.spuriousTimeouts++;
    this.rto.spurious(this.answeredAfterMs, now);
    this.cwnd = Math.max(this.cwnd, this.cwndBeforeLoss);
  }

  private progress(now: number): void {
    this.timeouts = 0;
    this.lastProgressAt = now;
  }

  private finish(outcome: SendOutcome): void {
    this.phase = "done";
    this.outcome = outcome;
    this.deadline = Infinity;
    this.rtoAt = this.paceAt = this.goBackAt = Infinity;
  }

  private armRto(now: number): void {
    this.heldBack = false;
    this.rtoAt = now + this.rto.timeoutAt(now);
    this.updateDeadline();
  }

  private updateDeadline(): void {
    this.deadline = Math.min(this.rtoAt, this.paceAt, this.goBackAt);
  }

  /** Sends the next burst of the window: at most cwnd blocks now, the rest paced after it. */
  private sendMore(now: number): void {
    const limit = Math.min(this.acked + this.window, this.lastBlock);
    let burst = Math.max(1, Math.ceil(this.cwnd));
    let any = false;
    /** Over the unanswered budget: nothing more goes until the client answers or asks again. */
    let held = false;
    this.waitingForData = false;
    try {
      while (this.sent < limit && burst-- > 0) {
        const r = this.emit(this.sent + 1, now);
        if (r === "wait") this.waitingForData = true;
        if (r !== "sent") {
          held = r === "held";
          break;
        }
        any = true;
      }
    } catch (err) {
      return this.abort(err instanceof TftpError ? err : readError(String(err)));
    }
    // Pace the rest of the window a fraction of a round trip later, so a shrunken cwnd still
    // completes the window the client is counting on (RFC 7440 receivers ACK only full windows).
    const srtt = this.rto.smoothedRttMs ?? 1;
    this.paceAt = this.sent < limit && !this.waitingForData && !held ? now + Math.min(20, Math.max(1, srtt / 2)) : Infinity;
    // Waiting on the disk with nothing sent yet still needs a timer: the stall limit in onTimer.
    // Held back, the timer goes on too: it counts the retries that end a silent transfer.
    if (any || held || (this.waitingForData && this.rtoAt === Infinity)) {
      this.heldBack = false;
      this.rtoAt = now + this.rto.timeoutAt(now);
    }
    this.updateDeadline();
  }

  /**
   * "wait" when the block's data is not in memory yet (the source calls back when it lands),
   * "held" when the client has not answered and the block would exceed what it may be sent.
   */
  private emit(block: number, now: number): "sent" | "wait" | "held" {
    const slot = block % this.window;
    const offset = (block - 1) * this.blockSize;
    const length = Math.min(this.blockSize, this.source.size - offset);
    if (!this.fits(4 + length)) return "held";
    let packet = this.slots[slot];
    if (!packet) packet = this.slots[slot] = new Uint8Array(4 + this.blockSize);
    if (!this.source.read(packet, 4, offset, length)) return "wait";
    this.spend(4 + length);
    writeDataHeader(packet, wireBlock(block, this.rollover));
    this.outbox.push(length === this.blockSize ? packet : packet.subarray(0, 4 + length));
    this.sentAt[slot] = now;
    if (block <= this.highest) {
      this.resent[slot] = 1;
      this.retransmits++;
    } else {
      this.resent[slot] = 0;
      this.firstSentAt[slot] = now;
      this.highest = block;
    }
    this.sent = block;
    return "sent";
  }
}
