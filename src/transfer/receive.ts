/**
 * The receiving side of a TFTP read (what a client does after sending an RRQ), as a sans-I/O
 * state machine: datagrams and clock ticks go in, datagrams to send, file bytes in order and the
 * outcome come out. No sockets, no timers: the driver in src/client/ moves bytes, tests drive it
 * with hand-made packets and a fake clock.
 *
 * Returned action arrays are reused between calls: consume them before the next call.
 */
import { absoluteBlock, wireBlock } from "../protocol/blocks.ts";
import { NetasciiDecoder } from "../protocol/netascii.ts";
import { decodePacket, encodeAck, encodeError, encodeRequest, isDecodeFailure } from "../protocol/packet.ts";
import {
  DEFAULT_BLOCK_SIZE,
  ErrorCode,
  MAX_BLOCK_SIZE,
  MAX_WINDOW_SIZE,
  MIN_BLOCK_SIZE,
  Opcode,
  type RawOptions,
  type TransferMode,
} from "../protocol/types.ts";

/** What the client asks for. Options left undefined are not requested. */
export interface ReceiveRequest {
  filename: string;
  mode: TransferMode;
  blockSize?: number;
  windowSize?: number;
  /** Ask for the transfer size (RFC 2349). */
  tsize?: boolean;
  /** RFC 2349 timeout option in seconds, sent to the server (our own timer is `timeoutMs`). */
  timeoutSec?: number;
  /**
   * PXE ROM style size probe: read the OACK, answer ERROR 8, finish. Implies tsize.
   */
  probe?: boolean;
}

export interface ReceiveConfig extends ReceiveRequest {
  /** Wait this long for the next packet before re-sending our last one. */
  timeoutMs: number;
  /** Each retry waits twice as long as the one before, up to this ceiling (default: no backoff). */
  timeoutMaxMs?: number;
  /** Re-sends allowed without progress before giving up. */
  retries: number;
  /**
   * The block number after 65535, which the server chooses and the wire does not say. "auto"
   * learns it in lockstep (the block after 65535 is 0 or 1); windowed transfers assume 0 unless
   * the OACK names it.
   */
  rollover?: 0 | 1 | "auto";
}

export interface Peer {
  address: string;
  port: number;
}

export type ReceiveAction =
  /** `to` null: the server's listening address (the RRQ and its retries). */
  | { type: "send"; datagram: Uint8Array; to: Peer | null }
  /** File bytes in order, already netascii-decoded. Valid only until the next call. */
  | { type: "data"; chunk: Uint8Array }
  | { type: "done"; outcome: ReceiveOutcome };

export type ReceiveOutcome =
  | { ok: true; bytes: number; tsize?: number; probe: boolean }
  | { ok: false; kind: "remote" | "timeout" | "protocol"; reason: string; code?: number; tsize?: number };

export interface ReceiveStats {
  /** Our own re-sends after a timeout (RRQ or ACK). */
  timeouts: number;
  /** Of those, re-sent RRQs: the server never answered the first (lost in a full socket buffer?). */
  requestRetries: number;
  /** DATA blocks received again (the server retransmitted). */
  duplicates: number;
  /** Times a block arrived ahead of the next expected one (a loss inside a window). */
  gaps: number;
  /** Datagrams from a foreign port answered with ERROR 5. */
  foreign: number;
  /** Payload bytes as they came off the wire (before netascii decoding). */
  wireBytes: number;
}

/** The parameters finally in force, after the OACK or its absence. */
export interface Negotiated {
  blockSize: number;
  windowSize: number;
  tsize?: number;
  /** The raw OACK as the server sent it; undefined when the server answered with DATA. */
  oack?: Record<string, string>;
}

type Phase = "idle" | "requested" | "receiving" | "finished";

export class ReceiveTransfer {
  readonly stats: ReceiveStats = { timeouts: 0, requestRetries: 0, duplicates: 0, gaps: 0, foreign: 0, wireBytes: 0 };
  negotiated: Negotiated = { blockSize: DEFAULT_BLOCK_SIZE, windowSize: 1 };
  outcome: ReceiveOutcome | undefined;
  /** When the driver must call `onTimer` next (ms, same clock as `now`); undefined when finished. */
  deadline: number | undefined;

  private phase: Phase = "idle";
  private readonly out: ReceiveAction[] = [];
  private readonly rrq: Uint8Array;
  private server: Peer | null = null;
  /** Absolute number of the next block we want; the last in-order block is `next - 1`. */
  private next = 1;
  private inWindow = 0;
  /** A gap was already answered since the last in-order block. */
  private gapAcked = false;
  private dupsSinceProgress = 0;
  private tries = 0;
  private currentTimeoutMs: number;
  private rollover: 0 | 1 | "auto";
  private readonly decoder: NetasciiDecoder | null;
  private delivered = 0;

  constructor(private readonly config: ReceiveConfig) {
    this.rrq = encodeRequest(Opcode.RRQ, config.filename, config.mode, requestOptions(config));
    this.currentTimeoutMs = config.timeoutMs;
    this.rollover = config.rollover ?? "auto";
    this.decoder = config.mode === "netascii" ? new NetasciiDecoder() : null;
  }

  /** The options actually put in the RRQ (for logs and tests). */
  get requested(): RawOptions {
    return requestOptions(this.config);
  }

  get bytes(): number {
    return this.delivered;
  }

  start(now: number): ReceiveAction[] {
    this.out.length = 0;
    if (this.phase !== "idle") return this.out;
    this.phase = "requested";
    this.send(this.rrq, null);
    this.arm(now);
    return this.out;
  }

  /** A datagram arrived on our socket from `from`. */
  onDatagram(bytes: Uint8Array, from: Peer, now: number): ReceiveAction[] {
    this.out.length = 0;
    if (this.phase === "idle") return this.out;
    if (this.server === null) {
      if (this.phase !== "requested") return this.out;
      this.server = { address: from.address, port: from.port };
    } else if (from.port !== this.server.port || from.address !== this.server.address) {
      // RFC 1350: another TID. Tell it so, and let it not disturb this transfer.
      this.stats.foreign++;
      this.out.push({ type: "send", datagram: encodeError(ErrorCode.UNKNOWN_TID, "Unknown transfer ID"), to: from });
      return this.out;
    }
    if (this.phase === "finished") {
      this.afterFinish(bytes);
      return this.out;
    }

    // DATA is nearly every packet: read it in place rather than through the general decoder.
    if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === Opcode.DATA) {
      this.onData((bytes[2]! << 8) | bytes[3]!, bytes.subarray(4), now);
      return this.out;
    }
    const p = decodePacket(bytes);
    if (isDecodeFailure(p)) return this.abort(ErrorCode.ILLEGAL_OPERATION, p.reason);
    switch (p.op) {
      case Opcode.ERROR:
        this.finish({ ok: false, kind: "remote", code: p.code, reason: p.message || `error ${p.code}` });
        break;
      case Opcode.OACK:
        this.onOack(p.options, now);
        break;
      case Opcode.DATA:
        this.onData(p.block, p.data, now);
        break;
      default:
        return this.abort(ErrorCode.ILLEGAL_OPERATION, `unexpected opcode ${p.op}`);
    }
    return this.out;
  }

  /** The clock reached (or passed) `deadline`. Calling early is harmless. */
  onTimer(now: number): ReceiveAction[] {
    this.out.length = 0;
    if (this.deadline === undefined || now < this.deadline) return this.out;
    if (this.tries >= this.config.retries) {
      const what = this.server === null ? "no answer to the request" : `no DATA after block ${this.next - 1}`;
      this.finish({ ok: false, kind: "timeout", reason: `timed out: ${what}`, tsize: this.negotiated.tsize });
      return this.out;
    }
    this.tries++;
    this.stats.timeouts++;
    this.currentTimeoutMs = Math.min(this.currentTimeoutMs * 2, this.config.timeoutMaxMs ?? this.config.timeoutMs);
    this.inWindow = 0;
    if (this.server === null) {
      this.stats.requestRetries++;
      this.send(this.rrq, null);
    } else this.sendAck();
    this.arm(now);
    return this.out;
  }

  /** Give up from the outside (e.g. the user pressed ^C): tells the server, reports `reason`. */
  cancel(reason: string): ReceiveAction[] {
    this.out.length = 0;
    if (this.phase === "finished" || this.phase === "idle") return this.out;
    if (this.server) this.send(encodeError(ErrorCode.NOT_DEFINED, "Transfer cancelled"), this.server);
    this.finish({ ok: false, kind: "protocol", reason });
    return this.out;
  }

  private onOack(options: RawOptions, now: number): void {
    // Once DATA flows the OACK is history; before that a repeat means our ACK 0 was lost.
    if (this.phase !== "requested" || this.next > 1) return;
    if (this.negotiated.oack) {
      this.sendAck();
      return;
    }
    const checked = checkOack(options, this.config);
    if (typeof checked === "string") {
      this.abort(ErrorCode.OPTION_REFUSED, checked);
      return;
    }
    this.negotiated = checked;
    if (options.get("rollover") === "0" || options.get("rollover") === "1") {
      this.rollover = Number(options.get("rollover")) as 0 | 1;
    }
    if (this.config.probe) {
      this.send(encodeError(ErrorCode.OPTION_REFUSED, "tsize probe"), this.server);
      this.finish({ ok: true, bytes: 0, tsize: checked.tsize, probe: true });
      return;
    }
    this.progress();
    this.sendAck();
    this.arm(now);
  }

  private onData(wire: number, data: Uint8Array, now: number): void {
    if (this.phase === "requested") {
      if (this.config.probe && !this.negotiated.oack) {
        // The server ignored our options: a PXE ROM learns no size and stops here.
        this.abort(ErrorCode.OPTION_REFUSED, "server answered without OACK: no tsize");
        return;
      }
      this.phase = "receiving";
    }
    const abs = this.absolute(wire);
    if (data.length > this.negotiated.blockSize) {
      this.abort(ErrorCode.ILLEGAL_OPERATION, `DATA ${wire} larger than blksize ${this.negotiated.blockSize}`);
      return;
    }
    if (abs === this.next) {
      this.accept(data, now);
      return;
    }
    if (abs < this.next) {
      // The server re-sent a block we hold: our ACK was lost or it timed out. One ACK per burst
      // of duplicates is enough; answering every one would echo the whole window back.
      this.stats.duplicates++;
      if (this.dupsSinceProgress++ % this.negotiated.windowSize === 0) this.sendAck();
      return;
    }
    // Ahead of the next block: something in the window was lost. Ask for a resend from the gap,
    // once; the blocks after the gap are dropped (RFC 7440 lets the receiver do that).
    this.stats.gaps++;
    if (!this.gapAcked) {
      this.gapAcked = true;
      this.inWindow = 0;
      this.sendAck();
    }
  }

  private accept(data: Uint8Array, now: number): void {
    this.next++;
    this.stats.wireBytes += data.length;
    this.progress();
    this.gapAcked = false;
    this.dupsSinceProgress = 0;
    const chunk = this.decoder ? this.decoder.push(data) : data;
    if (chunk.length > 0) this.deliver(chunk);
    const last = data.length < this.negotiated.blockSize;
    if (last) {
      this.sendAck();
      if (this.decoder) {
        const tail = this.decoder.end();
        if (tail.length > 0) this.deliver(tail);
      }
      const tsize = this.negotiated.tsize;
      if (tsize !== undefined && tsize !== this.stats.wireBytes) {
        this.finish({
          ok: false,
          kind: "protocol",
          reason: `size mismatch: received ${this.stats.wireBytes} bytes, server announced ${tsize}`,
          tsize,
        });
      } else this.finish({ ok: true, bytes: this.delivered, tsize, probe: false });
      return;
    }
    if (++this.inWindow >= this.negotiated.windowSize) {
      this.inWindow = 0;
      this.sendAck();
    }
    this.arm(now);
  }

  /** Absolute block for a wire number, seen from the next expected block (±half the wrap). */
  private absolute(wire: number): number {
    if (this.rollover === "auto" && this.next === 65536 && (wire === 0 || wire === 1)) {
      if (this.negotiated.windowSize === 1) {
        // Lockstep: nothing past 65536 is sent before we ACK it, so this block is 65536 and its
        // number tells which rollover the server uses.
        this.rollover = wire;
        return 65536;
      }
      this.rollover = 0;
    }
    const rollover = this.rollover === "auto" ? 0 : this.rollover;
    const high = this.next + 32767;
    const abs = absoluteBlock(wire, Math.max(0, high - 65534), high, rollover);
    return abs < 0 ? 0 : abs;
  }

  /** ACK the last in-order block (0 = the OACK); also what a timeout re-sends once the server answered. */
  private sendAck(): void {
    const last = this.next - 1;
    const rollover = this.rollover === "auto" ? 0 : this.rollover;
    this.send(encodeAck(last === 0 ? 0 : wireBlock(last, rollover)), this.server);
  }

  private deliver(chunk: Uint8Array): void {
    this.delivered += chunk.length;
    this.out.push({ type: "data", chunk });
  }

  private send(datagram: Uint8Array, to: Peer | null): void {
    this.out.push({ type: "send", datagram, to });
  }

  /** The transfer moved: the retry budget and the backoff start over. */
  private progress(): void {
    this.tries = 0;
    this.currentTimeoutMs = this.config.timeoutMs;
  }

  private arm(now: number): void {
    this.deadline = now + this.currentTimeoutMs;
  }

  private abort(code: number, reason: string): ReceiveAction[] {
    if (this.server) this.send(encodeError(code, reason), this.server);
    this.finish({ ok: false, kind: "protocol", reason, code, tsize: this.negotiated.tsize });
    return this.out;
  }

  private finish(outcome: ReceiveOutcome): void {
    this.phase = "finished";
    this.outcome = outcome;
    this.deadline = undefined;
    this.out.push({ type: "done", outcome });
  }

  /** After our final ACK: a repeat of the last DATA means that ACK was lost; say it again. */
  private afterFinish(bytes: Uint8Array): void {
    if (!this.outcome?.ok || this.outcome.probe) return;
    const p = decodePacket(bytes);
    if (isDecodeFailure(p) || p.op !== Opcode.DATA) return;
    if (this.absolute(p.block) === this.next - 1) this.sendAck();
  }
}

/** The RRQ's options, in a fixed order: blksize, windowsize, timeout, tsize. */
export function requestOptions(req: ReceiveRequest): RawOptions {
  const o: RawOptions = new Map();
  if (req.blockSize !== undefined) o.set("blksize", String(req.blockSize));
  if (req.windowSize !== undefined) o.set("windowsize", String(req.windowSize));
  if (req.timeoutSec !== undefined) o.set("timeout", String(req.timeoutSec));
  if (req.tsize || req.probe) o.set("tsize", "0");
  return o;
}

const decimal = (v: string): number | undefined => (/^[0-9]{1,10}$/.test(v) ? Number(v) : undefined);

/**
 * Validates an OACK against what we asked (RFC 2347: the server may only lower blksize and
 * windowsize, must echo timeout, and may not answer options we did not send). A string is the
 * refusal reason, which goes back to the server in ERROR 8.
 */
export function checkOack(options: RawOptions, req: ReceiveRequest): Negotiated | string {
  const asked = requestOptions(req);
  const result: Negotiated = { blockSize: DEFAULT_BLOCK_SIZE, windowSize: 1, oack: Object.fromEntries(options) };
  for (const [name, raw] of options) {
    if (!asked.has(name) && name !== "rollover") return `option ${name} was not requested`;
    const value = decimal(raw);
    if (value === undefined) return `bad value for ${name}: '${raw}'`;
    switch (name) {
      case "blksize":
        if (value < MIN_BLOCK_SIZE || value > Math.min(req.blockSize!, MAX_BLOCK_SIZE)) {
          return `blksize ${value} outside 8..${req.blockSize}`;
        }
        result.blockSize = value;
        break;
      case "windowsize":
        if (value < 1 || value > Math.min(req.windowSize!, MAX_WINDOW_SIZE)) {
          return `windowsize ${value} outside 1..${req.windowSize}`;
        }
        result.windowSize = value;
        break;
      case "timeout":
        if (value !== req.timeoutSec) return `timeout ${value} differs from the requested ${req.timeoutSec}`;
        break;
      case "tsize":
        result.tsize = value;
        break;
      case "rollover":
        if (value !== 0 && value !== 1) return `rollover ${value} is neither 0 nor 1`;
        break;
    }
  }
  return result;
}
