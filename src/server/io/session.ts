/**
 * Drives one transfer machine (a read's SendTransfer, an upload's ReceiveTransfer) over the
 * shared transfer socket it was given (transfer-port.ts): moves datagrams between the port and
 * the state machine, keeps its deadline in the shared timer heap, and reports a TransferRecord
 * when the transfer ends, whichever way it ends. Every protocol decision is the machine's.
 */
import { shuttingDown } from "../../protocol/errors.ts";
import type { Peer, TransferMachine } from "../../transfer/types.ts";
import type { Deadlines, Timed } from "./deadlines.ts";
import type { PortTenant, TransferPort } from "./transfer-port.ts";
import type { TransferRecord } from "../../records/transfer-record.ts";

/** A machine as the session drives it: a sender can also take back what the socket refused. */
export interface DrivenTransfer extends TransferMachine<unknown> {
  /** The socket took only the first datagrams of the outbox: the last `count` go again on resume. */
  unsent?(count: number): void;
  /** The client's socket is gone (ICMP port unreachable): end without sending anything more. */
  clientGone?(reason: string): void;
}

/** The file side: a source being read or an upload being written; closed once, however it ends. */
export interface FileSide {
  onReady?: () => void;
  close(): void;
}

/** What only the end of a transfer knows. */
export type TransferEnd = Pick<TransferRecord, "bytes" | "outcome" | "reason" | "errorCode" | "retransmits">;

export interface SessionInit {
  /** The shared socket the transfer answers from (on the address the request came in on). */
  port: TransferPort;
  transfer: DrivenTransfer;
  file: FileSide;
  /** Reads the ended machine's outcome and counters for the record. */
  report(): TransferEnd;
  /** The record, less what only the end of the transfer knows. */
  record: Omit<TransferRecord, keyof TransferEnd | "durationMs">;
  deadlines: Deadlines;
  /** Monotonic ms: what the machine is told the time is (the server's clock, as the deadlines'). */
  now: () => number;
  /**
   * After an upload's final ACK, keep the port this long so a client that lost that ACK and
   * sends its last DATA again is answered (RFC 1350's dally), not refused by ICMP.
   */
  lingerMs?: number;
  onEnd(record: TransferRecord): void;
}

export class Session implements Timed, PortTenant {
  dueAt = Infinity;
  heapAt = Infinity;
  private readonly port: TransferPort;
  private readonly now: () => number;
  private readonly startedAt: number;
  private ended = false;
  /** The socket took only part of what was queued: wait for onWritable before sending more. */
  private blocked = false;
  /** Ended, but still attached a while for a repeat of an upload's last DATA. */
  private lingering = false;

  private constructor(private readonly init: SessionInit) {
    this.port = init.port;
    this.now = init.now;
    this.startedAt = init.now();
    // A streamed file's next chunk landed, or an upload's disk caught up: go on where it waited.
    init.file.onReady = () => {
      if (!this.ended && !this.blocked) this.resume();
    };
  }

  /** Attaches the transfer to its port: from now on its client's datagrams come here. */
  static open(init: SessionInit): Session {
    const s = new Session(init);
    init.port.attach(s);
    return s;
  }

  /** A server-side machine's peer is the client's TID, fixed from the start. */
  get peer(): Peer {
    return this.init.transfer.peer;
  }

  get localPort(): number {
    return this.port.localPort;
  }

  start(): void {
    this.init.transfer.start(this.now());
    this.flush();
  }

  onDeadline(now: number): void {
    this.port.settle(this);
    this.init.transfer.onTimer(now);
    this.flush();
  }

  /** Server shutdown: tell the client, then end as an error. */
  shutdown(): void {
    if (this.ended) return;
    this.port.settle(this);
    this.init.transfer.cancel(shuttingDown(), "server shutting down");
    this.flush();
  }

  onDatagram(data: Uint8Array, port: number, address: string): void {
    if (this.ended) {
      if (this.lingering) this.onLateDatagram(data, port, address);
      return;
    }
    const reply = this.init.transfer.onDatagram(data, port, address, this.now());
    if (reply) this.port.queue(null, reply, port, address);
    this.flush();
    this.port.flushIfQuiet();
  }

  onUnsent(count: number): void {
    if (this.ended) return;
    this.init.transfer.unsent?.(count);
    this.blocked = true;
  }

  onWritable(): void {
    if (!this.ended && this.blocked) this.resume();
  }

  onUnreachable(): void {
    if (this.ended || !this.init.transfer.clientGone) return;
    this.init.transfer.clientGone("client port unreachable (ICMP): its socket closed");
    this.flush();
  }

  private resume(): void {
    this.blocked = false;
    this.port.settle(this);
    this.init.transfer.resume(this.now());
    this.flush();
  }

  /** Queues what the state machine owes on the port's batch for this turn. */
  private flush(): void {
    const t = this.init.transfer;
    const out = t.outbox;
    if (out.length > 0) {
      const { address, port } = t.peer;
      for (let i = 0; i < out.length; i++) this.port.queue(this, out[i]!, port, address);
      out.length = 0;
    }
    if (t.outcome) this.end();
    else this.init.deadlines.schedule(this, t.deadline);
  }

  /** While lingering: the ended machine answers a repeated last DATA with its final ACK again. */
  private onLateDatagram(data: Uint8Array, port: number, address: string): void {
    const t = this.init.transfer;
    this.port.settle(this);
    const reply = t.onDatagram(data, port, address, this.now());
    if (reply) this.port.queue(null, reply, port, address);
    for (const p of t.outbox) this.port.queue(this, p, t.peer.port, t.peer.address);
    t.outbox.length = 0;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.init.deadlines.schedule(this, Infinity);
    this.init.file.close();
    const end = this.init.report();
    const linger = end.outcome === "ok" ? (this.init.lingerMs ?? 0) : 0;
    if (linger > 0) {
      this.lingering = true;
      setTimeout(() => {
        this.lingering = false;
        this.port.detach(this);
      }, linger).unref();
    } else this.port.detach(this);
    this.init.onEnd({ ...this.init.record, ...end, durationMs: this.now() - this.startedAt });
  }
}
