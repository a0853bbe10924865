/**
 * The receiving side of a TFTP read (what a client does after sending an RRQ), as a
 * TransferMachine (types.ts): datagrams and clock ticks go in; ACKs come out of the outbox and
 * file bytes, in order and netascii-decoded, go to the sink.
 */
import { absoluteBlock, wireBlock } from "../protocol/blocks.ts";
import {
  malformed,
  noOackForProbe,
  optionRefused,
  oversizedData,
  tsizeProbe,
  unexpectedOpcode,
  UNKNOWN_TID_PACKET,
  type TftpError,
} from "../protocol/errors.ts";
import { NetasciiDecoder } from "../protocol/netascii.ts";
import { checkOack, PLAIN_GRANT, requestOptions, type Granted, type OptionRequest } from "../protocol/options.ts";
import { decodePacket, encodeAck, encodeRequest, isDecodeFailure } from "../protocol/packet.ts";
import { Opcode, type RawOptions, type TransferMode } from "../protocol/types.ts";
import type { ChunkSink, Peer, TransferMachine } from "./types.ts";

/** What the client asks for. */
export interface ReceiveRequest extends OptionRequest {
  filename: string;
  mode: TransferMode;
  /** PXE ROM style size probe: read the OACK, answer ERROR 8, finish. Implies tsize. */
  probe?: boolean;
}

export interface ReceiveConfig extends ReceiveRequest {
  /** The server's listening address: the request and its retries go there, the rest to its TID. */
  server: Peer;
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

type Phase = "idle" | "requested" | "receiving" | "finished";

export class ReceiveTransfer implements TransferMachine<ReceiveOutcome> {
  readonly outbox: Uint8Array[] = [];
  peer: Peer;
  deadline = Infinity;
  outcome: ReceiveOutcome | undefined;
  readonly stats: ReceiveStats = { timeouts: 0, requestRetries: 0, duplicates: 0, gaps: 0, foreign: 0, wireBytes: 0 };
  negotiated: Granted = { ...PLAIN_GRANT };

  private phase: Phase = "idle";
  /** What goes into the RRQ: a probe asks for tsize whether or not the caller said so. */
  private readonly wishes: OptionRequest;
  private readonly rrq: Uint8Array;
  /** The server answered: `peer` is its transfer ID, and any other sender a stranger. */
  private tidKnown = false;
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

  constructor(
    private readonly config: ReceiveConfig,
    private readonly sink: ChunkSink,
  ) {
    this.peer = config.server;
    const { blockSize, windowSize, timeoutSec } = config;
    this.wishes = { blockSize, windowSize, timeoutSec, tsize: config.tsize || config.probe };
    this.rrq = encodeRequest(Opcode.RRQ, config.filename, config.mode, requestOptions(this.wishes));
    this.currentTimeoutMs = config.timeoutMs;
    this.rollover = config.rollover ?? "auto";
    this.decoder = config.mode === "netascii" ? new NetasciiDecoder() : null;
  }

  /** The options actually put in the RRQ (for logs and tests). */
  get requested(): RawOptions {
    return requestOptions(this.wishes);
  }

  /** File bytes delivered to the sink so far. */
  get bytes(): number {
    return this.delivered;
  }

  start(now: number): void {
    if (this.phase !== "idle") return;
    this.phase = "requested";
    this.outbox.push(this.rrq);
    this.arm(now);
  }

  onDatagram(bytes: Uint8Array, port: number, address: string, now: number): Uint8Array | null {
    if (this.phase === "idle") return null;
    if (!this.tidKnown) {
      if (this.phase !== "requested") return null;
      this.peer = { address, port };
      this.tidKnown = true;
    } else if (port !== this.peer.port || address !== this.peer.address) {
      // RFC 1350: another TID. Tell it so, and let it not disturb this transfer.
      this.stats.foreign++;
      return UNKNOWN_TID_PACKET;
    }
    if (this.phase === "finished") {
      this.afterFinish(bytes);
      return null;
    }

    // DATA is nearly every packet: read it in place rather than through the general decoder.
    if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === Opcode.DATA) {
      this.onData((bytes[2]! << 8) | bytes[3]!, bytes.subarray(4), now);
      return null;
    }
    const p = decodePacket(bytes);
    if (isDecodeFailure(p)) this.abort(malformed(p.reason), p.reason);
    else if (p.op === Opcode.ERROR) this.finish({ ok: false, kind: "remote", code: p.code, reason: p.message || `error ${p.code}` });
    else if (p.op === Opcode.OACK) this.onOack(p.options, now);
    else if (p.op === Opcode.DATA) this.onData(p.block, p.data, now);
    else this.abort(unexpectedOpcode(p.op));
    return null;
  }

  onTimer(now: number): void {
    if (now < this.deadline) return;
    if (this.tries >= this.config.retries) {
      const what = this.tidKnown ? `no DATA after block ${this.next - 1}` : "no answer to the request";
      this.finish({ ok: false, kind: "timeout", reason: `timed out: ${what}`, tsize: this.negotiated.tsize });
      return;
    }
    this.tries++;
    this.stats.timeouts++;
    this.currentTimeoutMs = Math.min(this.currentTimeoutMs * 2, this.config.timeoutMaxMs ?? this.config.timeoutMs);
    this.inWindow = 0;
    if (this.tidKnown) this.sendAck();
    else {
      this.stats.requestRetries++;
      this.outbox.push(this.rrq);
    }
    this.arm(now);
  }

  /** The sink takes every chunk as it comes, so nothing ever waits for it. */
  resume(_now: number): void {}

  cancel(error: TftpError, reason: string): void {
    if (this.phase === "finished" || this.phase === "idle") return;
    if (this.tidKnown) this.outbox.push(error.encode());
    this.finish({ ok: false, kind: "protocol", reason });
  }

  private onOack(options: RawOptions, now: number): void {
    // Once DATA flows the OACK is history; before that a repeat means our ACK 0 was lost.
    if (this.phase !== "requested" || this.next > 1) return;
    if (this.negotiated.oack) {
      this.sendAck();
      return;
    }
    const granted = checkOack(options, this.wishes);
    if (typeof granted === "string") {
      this.abort(optionRefused(granted));
      return;
    }
    this.negotiated = granted;
    if (granted.rollover !== undefined) this.rollover = granted.rollover;
    if (this.config.probe) {
      this.outbox.push(tsizeProbe().encode());
      this.finish({ ok: true, bytes: 0, tsize: granted.tsize, probe: true });
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
        this.abort(noOackForProbe());
        return;
      }
      this.phase = "receiving";
    }
    const abs = this.absolute(wire);
    if (data.length > this.negotiated.blockSize) {
      this.abort(oversizedData(wire, this.negotiated.blockSize));
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
    this.outbox.push(encodeAck(last === 0 ? 0 : wireBlock(last, rollover)));
  }

  private deliver(chunk: Uint8Array): void {
    this.delivered += chunk.length;
    this.sink.write(chunk);
  }

  /** The transfer moved: the retry budget and the backoff start over. */
  private progress(): void {
    this.tries = 0;
    this.currentTimeoutMs = this.config.timeoutMs;
  }

  private arm(now: number): void {
    this.deadline = now + this.currentTimeoutMs;
  }

  /** We refuse what the server sent: it is told why (once it has a TID), and the transfer ends. */
  private abort(error: TftpError, reason = error.message): void {
    if (this.tidKnown) this.outbox.push(error.encode());
    this.finish({ ok: false, kind: "protocol", reason, code: error.code, tsize: this.negotiated.tsize });
  }

  private finish(outcome: ReceiveOutcome): void {
    this.phase = "finished";
    this.outcome = outcome;
    this.deadline = Infinity;
  }

  /** After our final ACK: a repeat of the last DATA means that ACK was lost; say it again. */
  private afterFinish(bytes: Uint8Array): void {
    if (!this.outcome?.ok || this.outcome.probe) return;
    const p = decodePacket(bytes);
    if (isDecodeFailure(p) || p.op !== Opcode.DATA) return;
    if (this.absolute(p.block) === this.next - 1) this.sendAck();
  }
}
