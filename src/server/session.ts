/**
 * Drives one transfer machine (a read's SendTransfer, an upload's ReceiveTransfer) over its own
 * UDP socket (the transfer ID of RFC 1350): moves datagrams between the socket and the state
 * machine, keeps its deadline in the shared timer heap, and reports a TransferRecord when the
 * transfer ends, whichever way it ends. Every protocol decision, down to who is a stranger, is
 * the machine's.
 */
import type { udp } from "bun";
import { shuttingDown } from "../protocol/errors.ts";
import type { TransferMachine } from "../transfer/types.ts";
import type { Deadlines, Timed } from "./deadlines.ts";
import { bindTransferPort, type PortRange } from "./ports.ts";
import { disableRecvErr, setSendBuffer, socketFd } from "./sockopt.ts";
import type { TransferRecord } from "./types.ts";

/** A machine as the session drives it: a sender can also take back what the socket refused. */
export interface DrivenTransfer extends TransferMachine<unknown> {
  /** The socket took only the first datagrams of the outbox: the last `count` go again on resume. */
  unsent?(count: number): void;
}

/** The file side: a source being read or an upload being written; closed once, however it ends. */
export interface FileSide {
  onReady?: () => void;
  close(): void;
}

/** What only the end of a transfer knows. */
export type TransferEnd = Pick<TransferRecord, "bytes" | "outcome" | "reason" | "errorCode" | "retransmits">;

export interface SessionInit {
  /** The local address the request came in on: the transfer answers from it. */
  bindAddress: string;
  transfer: DrivenTransfer;
  file: FileSide;
  /** Reads the ended machine's outcome and counters for the record. */
  report(): TransferEnd;
  /** The record, less what only the end of the transfer knows. */
  record: Omit<TransferRecord, keyof TransferEnd | "durationMs">;
  deadlines: Deadlines;
  /** Send buffer to ask for: a window of big blocks does not fit the default ~200 KiB. */
  sendBufferBytes: number;
  /**
   * After an upload's final ACK, keep the port this long so a client that lost that ACK and
   * sends its last DATA again is answered (RFC 1350's dally), not refused by ICMP.
   */
  lingerMs?: number;
  /** --port-range: the transfer's port comes from here (PortsBusy when all are taken). */
  ports?: PortRange;
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
  /** Ended, but the port is kept a while for a repeat of an upload's last DATA. */
  private lingering = false;

  private constructor(private readonly init: SessionInit) {
    // A streamed file's next chunk landed, or an upload's disk caught up: go on where it waited.
    init.file.onReady = () => {
      if (!this.ended && !this.blocked) this.resume();
    };
  }

  static async open(init: SessionInit): Promise<Session> {
    const s = new Session(init);
    s.socket = await bindTransferPort(init.ports, (localPort) => Bun.udpSocket({
      hostname: init.bindAddress,
      port: localPort,
      binaryType: "uint8array",
      socket: {
        data: (_sock, data, port, address) => s.onDatagram(data, port, address),
        drain: () => s.onDrain(),
        // A send error (ICMP-induced or otherwise) is loss as far as TFTP is concerned.
        error: () => {},
      },
    }));
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
    if (this.ended) {
      if (this.lingering) this.onLateDatagram(data, port, address);
      return;
    }
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
      // A server-side machine's peer is the client's TID, fixed from the start.
      const { address, port } = t.peer;
      let sent = 0;
      try {
        if (out.length === 1) sent = this.socket.send(out[0]!, port, address) ? 1 : 0;
        else {
          const flat: (Uint8Array | number | string)[] = [];
          for (const p of out) flat.push(p, port, address);
          sent = this.socket.sendMany(flat);
        }
      } catch {
        sent = 0; // treated as a full socket buffer: retried shortly, then the RTO takes over
      }
      if (sent < out.length) {
        t.unsent?.(out.length - sent);
        this.blocked = true;
        // Don't rely on 'drain' alone: it is not always emitted after a short sendMany.
        this.retryTimer ??= setTimeout(() => this.resume(), SEND_RETRY_MS);
      }
      out.length = 0;
    }
    if (t.outcome) this.end();
    else this.init.deadlines.schedule(this, t.deadline);
  }

  /** While lingering: the ended machine answers a repeated last DATA with its final ACK again. */
  private onLateDatagram(data: Uint8Array, port: number, address: string): void {
    const t = this.init.transfer;
    const reply = t.onDatagram(data, port, address, performance.now());
    if (reply) this.trySend(reply, port, address);
    for (const p of t.outbox) this.trySend(p, t.peer.port, t.peer.address);
    t.outbox.length = 0;
  }

  private trySend(packet: Uint8Array, port: number, address: string): void {
    try {
      this.socket?.send(packet, port, address);
    } catch {
      // best effort
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.init.deadlines.schedule(this, Infinity);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.init.file.close();
    const end = this.init.report();
    const linger = end.outcome === "ok" ? (this.init.lingerMs ?? 0) : 0;
    if (linger > 0 && this.socket) {
      this.lingering = true;
      const socket = this.socket;
      setTimeout(() => {
        this.lingering = false;
        socket.close();
      }, linger).unref();
    } else this.socket?.close();
    this.init.onEnd({ ...this.init.record, ...end, durationMs: performance.now() - this.startedAt });
  }
}
