/**
 * Drives one SendTransfer over its own UDP socket (the transfer ID of RFC 1350): moves datagrams
 * between the socket and the state machine, keeps its deadline in the shared timer heap, and
 * reports a TransferRecord when the transfer ends, whichever way it ends. Every protocol
 * decision, down to who is a stranger, is the machine's.
 */
import type { udp } from "bun";
import { shuttingDown } from "../protocol/errors.ts";
import type { FileSource } from "../files/source.ts";
import type { SendOutcome, SendTransfer } from "../transfer/send.ts";
import type { Deadlines, Timed } from "./deadlines.ts";
import { disableRecvErr, setSendBuffer, socketFd } from "./sockopt.ts";
import type { TransferRecord } from "./types.ts";

export interface SessionInit {
  clientAddress: string;
  clientPort: number;
  bindAddress: string;
  transfer: SendTransfer;
  source: FileSource;
  /** The record, less what only the end of the transfer knows. */
  record: Omit<TransferRecord, "bytes" | "durationMs" | "outcome" | "retransmits">;
  deadlines: Deadlines;
  /** Send buffer to ask for: a window of big blocks does not fit the default ~200 KiB. */
  sendBufferBytes: number;
  onEnd(record: TransferRecord): void;
}

const SEND_RETRY_MS = 1;

export class Session implements Timed {
  dueAt = Infinity;
  heapAt = Infinity;
  private socket?: udp.Socket<"uint8array">;
  private readonly startedAt = performance.now();
  private ended = false;
  private blocked = false;
  private retryTimer?: ReturnType<typeof setTimeout>;

  private constructor(private readonly init: SessionInit) {
    // A streamed file's next chunk landed: send what was waiting for it.
    init.source.onReady = () => {
      if (!this.ended && !this.blocked) this.resume();
    };
  }

  static async open(init: SessionInit): Promise<Session> {
    const s = new Session(init);
    s.socket = await Bun.udpSocket({
      hostname: init.bindAddress,
      port: 0,
      binaryType: "uint8array",
      socket: {
        data: (_sock, data, port, address) => s.onDatagram(data, port, address),
        drain: () => s.onDrain(),
        // A send error (ICMP-induced or otherwise) is loss as far as TFTP is concerned.
        error: () => {},
      },
    });
    const fd = socketFd(s.socket);
    disableRecvErr(fd);
    if (init.sendBufferBytes > 0) setSendBuffer(fd, init.sendBufferBytes);
    return s;
  }

  get localPort(): number {
    return this.socket?.port ?? 0;
  }

  start(): void {
    this.init.transfer.start(performance.now());
    this.flush();
  }

  onDeadline(now: number): void {
    this.init.transfer.onTimer(now);
    this.flush();
  }

  /** Server shutdown: tell the client, then end as an error. */
  shutdown(): void {
    if (this.ended) return;
    this.init.transfer.cancel(shuttingDown(), "server shutting down");
    this.flush();
  }

  private onDatagram(data: Uint8Array, port: number, address: string): void {
    if (this.ended) return;
    const reply = this.init.transfer.onDatagram(data, port, address, performance.now());
    if (reply) this.trySend(reply, port, address);
    else this.flush();
  }

  private onDrain(): void {
    if (this.blocked) this.resume();
  }

  private resume(): void {
    this.blocked = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.init.transfer.resume(performance.now());
    this.flush();
  }

  /** Sends what the state machine owes; a short count gives the rest back to it to resend. */
  private flush(): void {
    const t = this.init.transfer;
    const out = t.outbox;
    if (out.length > 0 && this.socket) {
      let sent = 0;
      try {
        if (out.length === 1) sent = this.socket.send(out[0]!, this.init.clientPort, this.init.clientAddress) ? 1 : 0;
        else {
          const flat: (Uint8Array | number | string)[] = [];
          for (const p of out) flat.push(p, this.init.clientPort, this.init.clientAddress);
          sent = this.socket.sendMany(flat);
        }
      } catch {
        sent = 0; // treated as a full socket buffer: retried shortly, then the RTO takes over
      }
      if (sent < out.length) {
        t.unsent(out.length - sent);
        this.blocked = true;
        // Don't rely on 'drain' alone: it is not always emitted after a short sendMany.
        this.retryTimer ??= setTimeout(() => this.resume(), SEND_RETRY_MS);
      }
      out.length = 0;
    }
    if (t.outcome) this.end(t.outcome);
    else this.init.deadlines.schedule(this, t.deadline);
  }

  private trySend(packet: Uint8Array, port: number, address: string): void {
    try {
      this.socket?.send(packet, port, address);
    } catch {
      // best effort
    }
  }

  private end(outcome: SendOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.init.deadlines.schedule(this, Infinity);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.close();
    this.init.source.close();
    const t = this.init.transfer;
    this.init.onEnd({
      ...this.init.record,
      bytes: t.bytesAcked,
      durationMs: performance.now() - this.startedAt,
      outcome: outcome.kind,
      reason: outcome.reason,
      errorCode: outcome.code,
      retransmits: t.retransmits,
    });
  }
}
