/**
 * The receiving side of a transfer, as a TransferMachine (types.ts): datagrams and clock ticks go
 * in; ACKs come out of the outbox and file bytes, in order and netascii-decoded, go to the sink.
 * One machine, two openings: a client's read starts with the RRQ and learns the server's TID
 * from its answer (ReceiveConfig); the server's side of a write starts with the OACK or ACK 0
 * that accepts the WRQ, its peer known from the start (WriteConfig). After the opening both
 * receive DATA the same way.
 */
import { absoluteBlock, wireBlock } from "../protocol/blocks.ts";
import {
  diskFull,
  malformed,
  noOackForProbe,
  optionRefused,
  oversizedData,
  TftpError,
  tsizeProbe,
  unexpectedOpcode,
  UNKNOWN_TID_PACKET,
  writeError,
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

/** How long to wait and how often to re-send, on either side. */
export interface ReceiveTiming {
  /** Wait this long for the next packet before re-sending our last one. */
  timeoutMs: number;
  /** Each retry waits twice as long as the one before, up to this ceiling (default: no backoff). */
  timeoutMaxMs?: number;
  /** Re-sends allowed without progress before giving up. */
  retries: number;
  /**
   * The block number after 65535, which the sender chooses and the wire does not say. "auto"
   * learns it in lockstep (the block after 65535 is 0 or 1); windowed transfers assume 0 unless
   * the OACK names it.
   */
  rollover?: 0 | 1 | "auto";
}

/** A client's read. */
export interface ReceiveConfig extends ReceiveRequest, ReceiveTiming {
  /** The server's listening address: the request and its retries go there, the rest to its TID. */
  server: Peer;
}

/** The server's side of a write, once the WRQ was accepted. */
export interface WriteConfig extends ReceiveTiming {
  /** The client that sent the WRQ: its TID, known from the start. */
  client: Peer;
  mode: TransferMode;
  /** Block and window size in force (PLAIN_GRANT without options); tsize: what the client announced. */
  granted: Granted;
  /** The OACK answering the WRQ's options; without one, ACK 0 answers it. */
  oack?: Uint8Array;
  /** The most bytes the file may have (after netascii decoding): one more ends it with ERROR 3. */
  maxBytes?: number;
}

export type ReceiveOutcome =
  | { ok: true; bytes: number; tsize?: number; probe: boolean }
  | { ok: false; kind: "remote" | "timeout" | "protocol"; reason: string; code?: number; tsize?: number };

export interface ReceiveStats {
  /** Our own re-sends after a timeout (RRQ, OACK or ACK). */
  timeouts: number;
  /** Of those, re-sent openings (RRQ, or a write's OACK or ACK 0): the peer never answered the first. */
  requestRetries: number;
  /** DATA blocks received again (the sender retransmitted). */
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
  /** The server's side of a write: opened with OACK or ACK 0, no RRQ, no OACK to check. */
  private readonly accepting: boolean;
  /** What goes into the RRQ: a probe asks for tsize whether or not the caller said so. */
  private readonly wishes: OptionRequest;
  /** What starts the transfer and is re-sent until the peer answers: the RRQ, or the write's OACK / ACK 0. */
  private readonly opening: Uint8Array;
  private readonly probe: boolean;
  private readonly maxBytes: number;
  private readonly timing: ReceiveTiming;
  /** The peer answered: `peer` is its transfer ID, and any other sender a stranger. */
  private tidKnown: boolean;
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
  /**
   * The sink is behind (write said false), or is storing the file after the last block (end said
   * false): the ACK that would bring more, or say "stored", waits until it catches up.
   */
  private held = false;
  private heldSince = 0;
  private ackOwed = false;
  private committing = false;

  constructor(
    config: ReceiveConfig | WriteConfig,
    private readonly sink: ChunkSink,
  ) {
    this.timing = config;
    this.currentTimeoutMs = config.timeoutMs;
    this.rollover = config.rollover ?? "auto";
    this.decoder = config.mode === "netascii" ? new NetasciiDecoder() : null;
    if ("client" in config) {
      this.accepting = true;
      this.peer = config.client;
      this.tidKnown = true;
      this.wishes = {};
      this.probe = false;
      this.maxBytes = config.maxBytes ?? Infinity;
      this.negotiated = { ...config.granted };
      if (config.granted.rollover !== undefined) this.rollover = config.granted.rollover;
      this.opening = config.oack ?? encodeAck(0);
    } else {
      this.accepting = false;
      this.peer = config.server;
      this.tidKnown = false;
      const { blockSize, windowSize, timeoutSec } = config;
      this.wishes = { blockSize, windowSize, timeoutSec, tsize: config.tsize || config.probe };
      this.probe = !!config.probe;
      this.maxBytes = Infinity;
      this.opening = encodeRequest(Opcode.RRQ, config.filename, config.mode, requestOptions(this.wishes));
    }
  }

  /** The options actually put in the RRQ (for logs and tests); none on a write's side. */
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
    this.outbox.push(this.opening);
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
    else if (p.op === Opcode.OACK && !this.accepting) this.onOack(p.options, now);
    else if (p.op === Opcode.DATA) this.onData(p.block, p.data, now);
    else this.abort(unexpectedOpcode(p.op));
    return null;
  }

  onTimer(now: number): void {
    if (now < this.deadline) return;
    if (this.held) {
      // The wait is our disk's, not loss: no retry counted, but a store that never finishes
      // still ends the transfer.
      if (now - this.heldSince >= this.stallLimitMs) {
        this.finish({ ok: false, kind: "timeout", reason: "file write stalled (slow disk or NFS server?)", tsize: this.negotiated.tsize });
      } else this.arm(now);
      return;
    }
    if (this.tries >= this.timing.retries) {
      const what = this.tidKnown ? `no DATA after block ${this.next - 1}` : "no answer to the request";
      this.finish({ ok: false, kind: "timeout", reason: `timed out: ${what}`, tsize: this.negotiated.tsize });
      return;
    }
    this.tries++;
    this.stats.timeouts++;
    this.currentTimeoutMs = Math.min(this.currentTimeoutMs * 2, this.timing.timeoutMaxMs ?? this.timing.timeoutMs);
    this.inWindow = 0;
    // Until the peer answers, the opening goes again: the RRQ, or the write's OACK (a lost OACK
    // is answered by nothing; ACK 0 would not repeat the options the client waits for).
    if (!this.tidKnown || (this.accepting && this.phase === "requested")) {
      this.stats.requestRetries++;
      this.outbox.push(this.opening);
    } else this.sendAck();
    this.arm(now);
  }

  /** The sink caught up (onReady fired): send what it held back. */
  resume(now: number): void {
    if (this.phase === "finished" || !this.held) return;
    if (this.committing) {
      this.commit(now);
      return;
    }
    try {
      if (this.sink.ready && !this.sink.ready()) return;
    } catch (err) {
      this.abort(asWriteError(err));
      return;
    }
    this.held = false;
    // Our own wait must not eat into the peer's retry budget.
    this.progress();
    if (this.ackOwed) {
      this.ackOwed = false;
      this.sendAck();
    }
    this.arm(now);
  }

  cancel(error: TftpError, reason: string): void {
    if (this.phase === "finished" || this.phase === "idle") return;
    if (this.tidKnown) this.outbox.push(error.encode());
    this.finish({ ok: false, kind: "protocol", reason });
  }

  /** How long the sink may hold the transfer before it is given up: what the peer would wait. */
  private get stallLimitMs(): number {
    return (this.timing.timeoutMaxMs ?? this.timing.timeoutMs) * (this.timing.retries + 1);
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
    if (this.probe) {
      this.outbox.push(tsizeProbe().encode());
      this.finish({ ok: true, bytes: 0, tsize: granted.tsize, probe: true });
      return;
    }
    this.progress();
    this.sendAck();
    this.arm(now);
  }

  private onData(wire: number, data: Uint8Array, now: number): void {
    if (this.committing) {
      // The last block again while the file is being stored: its ACK goes once it is.
      this.stats.duplicates++;
      return;
    }
    if (this.phase === "requested") {
      if (this.probe && !this.negotiated.oack) {
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
      // The peer re-sent a block we hold: our ACK was lost or it timed out. One ACK per burst
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
    if (chunk.length > 0 && !this.deliver(chunk, now)) return;
    if (data.length < this.negotiated.blockSize) {
      const tail = this.decoder?.end();
      if (tail && tail.length > 0 && !this.deliver(tail, now)) return;
      this.commit(now);
      return;
    }
    if (++this.inWindow >= this.negotiated.windowSize) {
      this.inWindow = 0;
      this.sendAck();
    }
    this.arm(now);
  }

  /** After the last block: the final ACK says "stored", so it waits for the sink to say so. */
  private commit(now: number): void {
    let stored: boolean;
    try {
      stored = this.sink.end ? this.sink.end() : true;
    } catch (err) {
      this.abort(asWriteError(err));
      return;
    }
    if (!stored) {
      if (!this.committing) {
        this.committing = true;
        this.hold(now);
      }
      this.arm(now);
      return;
    }
    this.committing = this.held = this.ackOwed = false;
    this.sendAck();
    const tsize = this.negotiated.tsize;
    // A client holds the server to the size it announced; a writer's tsize is only what its
    // client read off its own disk (netascii changes it), so the server does not.
    if (!this.accepting && tsize !== undefined && tsize !== this.stats.wireBytes) {
      this.finish({
        ok: false,
        kind: "protocol",
        reason: `size mismatch: received ${this.stats.wireBytes} bytes, server announced ${tsize}`,
        tsize,
      });
    } else this.finish({ ok: true, bytes: this.delivered, tsize, probe: false });
  }

  /** Absolute block for a wire number, seen from the next expected block (±half the wrap). */
  private absolute(wire: number): number {
    if (this.rollover === "auto" && this.next === 65536 && (wire === 0 || wire === 1)) {
      if (this.negotiated.windowSize === 1) {
        // Lockstep: nothing past 65536 is sent before we ACK it, so this block is 65536 and its
        // number tells which rollover the sender uses.
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

  /**
   * ACK the last in-order block (0 = the OACK); also what a timeout re-sends once the peer
   * answered. While the sink holds, the ACK is owed instead: it would bring more data.
   */
  private sendAck(): void {
    if (this.held) {
      this.ackOwed = true;
      return;
    }
    const last = this.next - 1;
    const rollover = this.rollover === "auto" ? 0 : this.rollover;
    this.outbox.push(encodeAck(last === 0 ? 0 : wireBlock(last, rollover)));
  }

  /** False when the transfer ended instead (over the size cap, or the sink failed). */
  private deliver(chunk: Uint8Array, now: number): boolean {
    if (this.delivered + chunk.length > this.maxBytes) {
      this.abort(diskFull(`upload larger than the ${this.maxBytes} bytes allowed`));
      return false;
    }
    this.delivered += chunk.length;
    let more: boolean | void;
    try {
      more = this.sink.write(chunk);
    } catch (err) {
      this.abort(asWriteError(err));
      return false;
    }
    if (more === false && !this.held) this.hold(now);
    return true;
  }

  private hold(now: number): void {
    this.held = true;
    this.heldSince = now;
  }

  /** The transfer moved: the retry budget and the backoff start over. */
  private progress(): void {
    this.tries = 0;
    this.currentTimeoutMs = this.timing.timeoutMs;
  }

  private arm(now: number): void {
    this.deadline = now + this.currentTimeoutMs;
  }

  /** We refuse what the peer sent, or can't store it: it is told why (once it has a TID), and the transfer ends. */
  private abort(error: TftpError, reason = error.logReason): void {
    if (this.tidKnown) this.outbox.push(error.encode());
    this.finish({ ok: false, kind: "protocol", reason, code: error.code, tsize: this.negotiated.tsize });
  }

  /** The client's socket is gone (the driver saw ICMP port unreachable): ends, sending nothing. */
  clientGone(reason: string): void {
    if (this.phase !== "finished") this.finish({ ok: false, kind: "remote", reason, tsize: this.negotiated.tsize });
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

/** What a sink threw, as the ERROR the peer gets. */
function asWriteError(err: unknown): TftpError {
  return err instanceof TftpError ? err : writeError(String(err));
}
