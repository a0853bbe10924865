/**
 * One UDP socket shared by many transfers: the server's transfer ID (RFC 1350 §4) for every
 * transfer a worker runs on one local address. A socket per transfer cost about twice the CPU per
 * datagram of a shared one (bench/RESULTS.md); what a socket per transfer gave for free is done
 * here instead:
 *
 * - demultiplexing: a datagram goes to the transfer whose client address and port sent it;
 *   a stranger sending DATA or ACK gets ERROR 5 while the process's budget of such replies
 *   lasts (a spoofer spraying ACKs at the pool must not turn it into a reflector), anything else
 *   from a stranger is dropped (no reply to nobody who did not speak TFTP first);
 * - a client port that just finished a transfer here is not a stranger for a while: its late
 *   duplicates are dropped silently, as a closed socket would have (ICMP aside);
 * - batching: what transfers send during one event-loop turn leaves in one `sendMany`, in the
 *   order it was queued. A transfer's datagrams are in reused buffers (transfer/types.ts), so
 *   before a transfer with datagrams still queued takes its next event, the batch goes out
 *   first (`settle`): a buffer is never rewritten while it waits to be sent;
 * - back-pressure: when the socket takes only the front of the batch, each transfer whose
 *   datagrams stayed behind is told how many (`onUnsent`, it rewinds) and is resumed
 *   (`onWritable`) when the socket drains or a short retry timer fires, whichever comes first
 *   (Bun does not always emit drain after a short sendMany: BUN-NOTES).
 */
import { UNKNOWN_TID_PACKET } from "../../protocol/errors.ts";
import { Opcode } from "../../protocol/types.ts";

/** A client's transfer ID as a key: its address and port (how the port finds a datagram's transfer). */
export const peerKey = (address: string, port: number) => `${address}|${port}`;

/** What the port needs of a socket: Bun's udpSocket in the server, a fake in tests. */
export interface DatagramSocket {
  readonly port: number;
  /** Flat [data, port, address, …]; returns how many datagrams from the front were taken. */
  sendMany(flat: readonly (Uint8Array | number | string)[]): number;
  close(): void;
}

/** One transfer as the port sees it. */
export interface PortTenant {
  /** The client's transfer ID: datagrams from it come here. */
  readonly peer: { readonly address: string; readonly port: number };
  onDatagram(data: Uint8Array, port: number, address: string): void;
  /** The last `count` datagrams this tenant queued were not sent: send them again when resumed. */
  onUnsent(count: number): void;
  /** The socket takes datagrams again after a short send. */
  onWritable(): void;
  /** The client's port answered with ICMP port unreachable: its socket is gone. */
  onUnreachable?(): void;
}

/** How the port defers work; the server passes setImmediate/setTimeout, tests a manual clock. */
export interface PortScheduler {
  /** Runs `fn` once, after the current batch of I/O callbacks (end of the event-loop turn). */
  soon(fn: () => void): void;
  /** Runs `fn` once after `ms`; returns a cancel function. */
  later(fn: () => void, ms: number): () => void;
  /** Monotonic ms. */
  now(): number;
}

/** How many ERROR 5 replies to strangers may go out now; shared by a process's sockets. */
export interface StrangerReplies {
  allow(now: number): boolean;
}

const UNLIMITED: StrangerReplies = { allow: () => true };

/**
 * A scheduler for many ports at once: every `soon` of a turn runs from one callback of `base`,
 * so a pool of sockets costs one deferred call per turn, not one per socket.
 */
export function sharedTurn(base: PortScheduler): PortScheduler {
  let pending: (() => void)[] = [];
  let scheduled = false;
  const run = () => {
    scheduled = false;
    const due = pending;
    pending = [];
    for (const fn of due) fn();
  };
  return {
    soon(fn) {
      pending.push(fn);
      if (!scheduled) {
        scheduled = true;
        base.soon(run);
      }
    },
    later: (fn, ms) => base.later(fn, ms),
    now: () => base.now(),
  };
}

export const REAL_SCHEDULER: PortScheduler = {
  soon: (fn) => void setImmediate(fn),
  later: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  now: () => performance.now(),
};

/** How long a finished transfer's client port is remembered (late duplicates dropped silently). */
export const RECENT_MS = 10_000;
/** At most this many remembered; the oldest are forgotten first. */
const RECENT_MAX = 8192;
/** After a short send, the latest the blocked tenants are resumed without a drain event. */
const SEND_RETRY_MS = 1;

export class TransferPort {
  /** Tenants by client port; a port shared by clients on different addresses holds several. */
  private readonly byPort = new Map<number, PortTenant[]>();
  private count = 0;
  /** Ended transfers' "address|port" → when it ended; insertion order is time order. */
  private readonly recent = new Map<string, number>();

  /** The batch: flat triples for sendMany, and the tenant each datagram belongs to (null: a reply). */
  private readonly flat: (Uint8Array | number | string)[] = [];
  private readonly owners: (PortTenant | null)[] = [];
  /** Tenants with datagrams in the current batch. */
  private readonly queued = new Set<PortTenant>();
  private flushPending = false;
  /** The last flush carried datagrams of more than one tenant: this turn's go out together at its end. */
  private busy = false;
  /** A quiet port already sent at once this turn: anything more waits for the end of the turn. */
  private flushedThisTurn = false;
  private readonly blocked = new Set<PortTenant>();
  private cancelRetry?: () => void;
  private isClosed = false;

  constructor(
    private readonly socket: DatagramSocket,
    private readonly scheduler: PortScheduler = REAL_SCHEDULER,
    private readonly strangers: StrangerReplies = UNLIMITED,
    /** A transfer's own socket: called (and the socket closed) when its transfer detaches. */
    private readonly onEmpty?: (port: TransferPort) => void,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  get localPort(): number {
    return this.socket.port;
  }

  /** Transfers attached now. */
  get size(): number {
    return this.count;
  }

  attach(tenant: PortTenant): void {
    const { address, port } = tenant.peer;
    const list = this.byPort.get(port);
    const i = list ? list.findIndex((t) => t.peer.address === address) : -1;
    // The same client endpoint again replaces the old tenant, which then detaches as a no-op.
    if (list && i >= 0) list[i] = tenant;
    else {
      if (list) list.push(tenant);
      else this.byPort.set(port, [tenant]);
      this.count++;
    }
    this.recent.delete(peerKey(address, port));
  }

  /** The tenant's transfer is over: its client port is remembered a while, then a stranger again. */
  detach(tenant: PortTenant): void {
    const { address, port } = tenant.peer;
    const list = this.byPort.get(port);
    const i = list ? list.indexOf(tenant) : -1;
    if (i < 0) return;
    if (list!.length === 1) this.byPort.delete(port);
    else list!.splice(i, 1);
    this.count--;
    this.queued.delete(tenant);
    this.blocked.delete(tenant);
    const key = peerKey(address, port);
    this.recent.delete(key);
    this.recent.set(key, this.scheduler.now());
    if (this.recent.size > RECENT_MAX) this.forgetOld(true);
    if (this.count === 0 && this.onEmpty) {
      // Late datagrams of the transfer now meet a closed port, as with tftpd-hpa (ICMP).
      this.close();
      this.onEmpty(this);
    }
  }

  /** Whether this client endpoint has a transfer here, or finished one within RECENT_MS. */
  knows(address: string, port: number): boolean {
    return this.find(address, port) !== undefined || this.recentlyEnded(address, port);
  }

  /**
   * Call before the tenant handles any event (a timer, a resume): if datagrams of its are still
   * queued, the batch goes out now, before their buffers can be rewritten.
   */
  settle(tenant: PortTenant): void {
    if (this.queued.has(tenant)) this.flush();
  }

  /** A datagram arrived on the socket. */
  receive(data: Uint8Array, port: number, address: string): void {
    const tenant = this.find(address, port);
    if (tenant) {
      if (this.queued.has(tenant)) this.flush();
      tenant.onDatagram(data, port, address);
      return;
    }
    if (this.isClosed || this.recentlyEnded(address, port)) return;
    // A stranger: only a DATA or ACK (someone speaking TFTP to a TID it does not own) is answered.
    if (data.length >= 4 && data[0] === 0 && (data[1] === Opcode.ACK || data[1] === Opcode.DATA) && this.strangers.allow(this.scheduler.now()))
      this.queue(null, UNKNOWN_TID_PACKET, port, address);
  }

  /** An ICMP port unreachable from this client endpoint (icmp-unreachable.ts): its transfer ends. */
  unreachable(address: string, port: number): boolean {
    const tenant = this.find(address, port) ?? this.find(`::ffff:${address}`, port);
    tenant?.onUnreachable?.();
    return tenant !== undefined;
  }

  /** Queues a datagram for this turn's batch; `owner` null for replies nobody will resend. */
  queue(owner: PortTenant | null, packet: Uint8Array, port: number, address: string): void {
    if (this.isClosed) return;
    this.flat.push(packet, port, address);
    this.owners.push(owner);
    if (owner) this.queued.add(owner);
    if (!this.flushPending) {
      this.flushPending = true;
      this.scheduler.soon(() => {
        this.flushPending = false;
        this.flushedThisTurn = false;
        this.flush();
      });
    }
  }

  /**
   * Called when a tenant has queued its answer to a datagram. A port whose last batch was one
   * tenant's (one lockstep client, or few clients on many sockets) sends it at once: waiting for
   * the end of the turn only delays the DATA by a loop pass (issue 26: one client's lockstep round
   * trip). A busy port keeps batching: the datagrams of its tenants leave in one sendmmsg.
   */
  flushIfQuiet(): void {
    if (this.busy || this.flushedThisTurn || this.owners.length === 0) return;
    this.flushedThisTurn = true;
    this.flush();
  }

  /** Sends the batch now. */
  flush(): void {
    const total = this.owners.length;
    if (total === 0) return;
    this.busy = this.queued.size > 1;
    let sent = 0;
    // A throw is one datagram the kernel would not take (an unroutable client, say): drop it as
    // lost, which TFTP repairs, and go on with the rest. A short count is a full buffer: stop.
    for (let tries = 0; sent < total && tries < 8; tries++) {
      try {
        sent += this.socket.sendMany(sent === 0 ? this.flat : this.flat.slice(sent * 3));
        break;
      } catch {
        sent++;
      }
    }
    if (sent < total) this.giveBack(sent);
    this.flat.length = 0;
    this.owners.length = 0;
    this.queued.clear();
  }

  /** Tells each tenant how many of its datagrams stayed behind, and waits for the socket. */
  private giveBack(from: number): void {
    const owners = this.owners;
    for (let i = from; i < owners.length; ) {
      const owner = owners[i];
      let j = i + 1;
      while (j < owners.length && owners[j] === owner) j++;
      if (owner) {
        owner.onUnsent(j - i);
        this.blocked.add(owner);
      }
      i = j;
    }
    if (this.blocked.size > 0 && !this.cancelRetry) this.cancelRetry = this.scheduler.later(() => this.onDrain(), SEND_RETRY_MS);
  }

  /** The socket drained (or the retry timer fired): blocked tenants go on. */
  onDrain(): void {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    if (this.blocked.size === 0) return;
    const resume = [...this.blocked];
    this.blocked.clear();
    for (const t of resume) t.onWritable();
  }

  /** Closes the socket; queued datagrams go out first. */
  close(): void {
    if (this.isClosed) return;
    this.flush();
    this.isClosed = true;
    this.cancelRetry?.();
    this.socket.close();
  }

  private find(address: string, port: number): PortTenant | undefined {
    const list = this.byPort.get(port);
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) if (list[i]!.peer.address === address) return list[i];
    return undefined;
  }

  private recentlyEnded(address: string, port: number): boolean {
    if (this.recent.size === 0) return false;
    const at = this.recent.get(peerKey(address, port));
    if (at === undefined) return false;
    if (this.scheduler.now() - at < RECENT_MS) return true;
    this.forgetOld(false);
    return false;
  }

  private forgetOld(overflow: boolean): void {
    const cutoff = this.scheduler.now() - RECENT_MS;
    for (const [key, at] of this.recent) {
      if (at >= cutoff && !(overflow && this.recent.size > RECENT_MAX)) break;
      this.recent.delete(key);
    }
  }
}
