/**
 * The transfer sockets of one server process: a pool of shared TransferPorts per listening
 * address, bound at start-up (so before privileges are dropped, and from --port-range when one is
 * given, each process taking its share).
 *
 * Each new transfer gets a socket of the pool chosen uniformly at random (crypto-random): the
 * server's transfer ID is what RFC 1350 §4 asks it to be, a port someone who did not receive the
 * transfer's first reply cannot know. One ordinary request shows a spoofer one port of the pool;
 * a transfer it starts from a victim's address then runs on that port only 1 time in the pool's
 * size, and ACKs it sends to any other port are a stranger's (nothing advances; issue 21).
 *
 * A client that starts a new transfer from the client port it has just used is never given the
 * socket of its previous transfer, so a late datagram of the old transfer (a duplicate final ACK,
 * say) can't be taken for the new one's, the guarantee a new socket per transfer used to give.
 */
import type { udp } from "bun";
import { randomInt } from "node:crypto";
import { PortRange, PortsBusy } from "./ports.ts";
import { TokenBuckets } from "../admission/token-buckets.ts";
import { disableRecvErr, setReceiveBuffer, setSendBuffer, socketFd } from "./sockopt.ts";
import { REAL_SCHEDULER, sharedTurn, TransferPort, type DatagramSocket, type PortScheduler, type StrangerReplies } from "./transfer-port.ts";

/**
 * Transfer sockets per listening address and process. A blind guess of a transfer's port hits 1
 * in this many; descriptors: this × addresses per process (256 with the default `::`), × workers
 * for the whole server (at most 2048 with 8 workers).
 */
export const POOL_PER_ADDRESS = 256;

/**
 * ERROR 5 to strangers, per process and second (burst the same): a reply to a datagram nobody
 * answers for must not become a reflector at a spoofed address, whichever pool port it hits.
 */
export const STRANGER_REPLIES_PER_SECOND = 50;

/**
 * Socket buffers of the pool: one turn's batch for thousands of transfers leaves at once, and
 * their ACKs arrive together, spread over the pool's sockets. What two shared sockets had (4 MiB
 * to send, --rcvbuf-mb to receive, each) is split over the pool, at least 256 KiB a socket (the
 * kernel's default holds ~95 full datagrams). Capped by net.core.[rw]mem_max unless root; the
 * kernel charges only what is queued.
 */
const POOL_SEND_BUFFER_BYTES = 2 * 4 * 1024 * 1024;
const MIN_SOCKET_BUFFER_BYTES = 256 * 1024;
const perSocket = (poolBytes: number, sockets: number) => Math.max(MIN_SOCKET_BUFFER_BYTES, Math.ceil(poolBytes / sockets));

/**
 * A windowed transfer's own socket sends its window in one batch: 64 blocks of 1468 bytes is
 * ~96 KiB, of 8,972 (jumbo frames) ~580 KiB. The kernel charges only what is queued.
 */
const OWN_SEND_BUFFER_BYTES = 1024 * 1024;
/** Own sockets per process at most (also at most a quarter of the open-file limit). */
const OWN_SOCKETS_MAX = 16_384;

export interface TransferPortsOptions {
  /** --port-range: sockets bind there, each process taking its share. */
  range?: { low: number; high: number };
  /** Processes sharing the range (--workers): each takes an equal share of it, at least one port per address. */
  processes?: number;
  /** This process's open-file limit: the pool takes at most a quarter of it (files and HTTP need the rest). */
  openFiles?: number;
  /** The request socket's receive buffer (--rcvbuf-mb): the pool of each address shares twice that. */
  receiveBufferBytes: number;
}

/** Picks an integer in [0, n): crypto-random in the server, scripted in tests. */
export type RandomIndex = (n: number) => number;

/**
 * Opens a socket of a transfer's own on a port nobody can predict (the kernel's random ephemeral
 * choice, or a random start in --port-range); `onEmpty` closes it when its transfer leaves.
 */
export type OwnSocketOpener = (address: string, onEmpty: (port: TransferPort) => void) => Promise<TransferPort>;

export interface OwnSockets {
  open: OwnSocketOpener;
  /** At most this many open at once per process; past it windowed transfers share the pool too. */
  max: number;
}

export class TransferPorts {
  constructor(
    private readonly byAddress: Map<string, TransferPort[]>,
    /** Why the pool is smaller than POOL_PER_ADDRESS (a small or busy --port-range, the open-file limit); undefined when it is not. */
    readonly shortBy?: string,
    private readonly random: RandomIndex = randomInt,
    private readonly own?: OwnSockets,
  ) {
    for (const ports of byAddress.values()) for (const p of ports) this.index(p);
  }

  /** Own sockets open now. */
  private ownOpen = 0;

  private index(p: TransferPort): void {
    this.byLocalPort.set(p.localPort, [...(this.byLocalPort.get(p.localPort) ?? []), p]);
  }

  private unindex(p: TransferPort): void {
    const list = (this.byLocalPort.get(p.localPort) ?? []).filter((x) => x !== p);
    if (list.length > 0) this.byLocalPort.set(p.localPort, list);
    else this.byLocalPort.delete(p.localPort);
  }

  /** The sockets on each local port (one per address family may share a number): an ICMP message names the port. */
  private readonly byLocalPort = new Map<number, TransferPort[]>();

  static async bind(addresses: readonly string[], opts: TransferPortsOptions): Promise<TransferPorts> {
    const range = opts.range ? new PortRange(opts.range.low, opts.range.high) : undefined;
    const rangeShare = range ? Math.floor(range.size / ((opts.processes ?? 1) * addresses.length)) : Infinity;
    const fileShare = opts.openFiles !== undefined ? Math.floor(opts.openFiles / 4 / addresses.length) : Infinity;
    const perAddress = Math.max(1, Math.min(POOL_PER_ADDRESS, rangeShare, fileShare));
    const why = perAddress === POOL_PER_ADDRESS ? undefined : rangeShare <= fileShare ? "--port-range" : "open-file limit";
    // Every socket of the process flushes at the end of the same turn, and shares one budget of
    // replies to strangers.
    const scheduler = sharedTurn(REAL_SCHEDULER);
    const limiter = new TokenBuckets(STRANGER_REPLIES_PER_SECOND, STRANGER_REPLIES_PER_SECOND, 1);
    const strangers: StrangerReplies = { allow: (now) => limiter.allow("", now) };
    const byAddress = new Map<string, TransferPort[]>();
    const all: TransferPort[] = [];
    let shortBy = why;
    try {
      for (const address of addresses) {
        const ports: TransferPort[] = [];
        for (let i = 0; i < perAddress; i++) {
          try {
            const buffers = { send: perSocket(POOL_SEND_BUFFER_BYTES, perAddress), receive: perSocket(2 * opts.receiveBufferBytes, perAddress) };
            const open = (p: number) => openPort(address, p, buffers, scheduler, strangers);
            const port = range ? await range.bind(open) : await open(0);
            ports.push(port);
            all.push(port);
          } catch (err) {
            // A smaller pool still works (the start-up log says so); none at all does not.
            if ((err instanceof PortsBusy || (err as NodeJS.ErrnoException).code === "EMFILE") && ports.length > 0) {
              shortBy ??= err instanceof PortsBusy ? "--port-range (ports held by others)" : "open-file limit";
              break;
            }
            throw err;
          }
        }
        byAddress.set(address, ports);
      }
    } catch (err) {
      for (const p of all) p.close();
      if (err instanceof PortsBusy) throw new Error(`${err.message} (by other programs or workers): transfers need at least one port per address and worker; widen the range`);
      throw err;
    }
    const ownMax = opts.openFiles !== undefined ? Math.floor(opts.openFiles / 4) : OWN_SOCKETS_MAX;
    const ownBuffers = { send: OWN_SEND_BUFFER_BYTES, receive: MIN_SOCKET_BUFFER_BYTES };
    const own: OwnSockets = {
      max: Math.min(OWN_SOCKETS_MAX, ownMax),
      open: (address, onEmpty) => {
        const open = (p: number) => openPort(address, p, ownBuffers, scheduler, strangers, onEmpty);
        return range ? range.bind(open, { randomStart: true }) : open(0);
      },
    };
    return new TransferPorts(byAddress, shortBy, randomInt, own);
  }

  /**
   * The socket for a new transfer. One that sends windows (windowsize above 1) gets a socket of
   * its own, as tftpd-hpa gives every transfer: a spoofer who guesses a windowed transfer's port
   * draws up to a window per 4-byte ACK (about 23,500× at windowsize 64, blksize 1468), which a
   * 1-in-pool-size guess does not bring under the 5× a never-answering client draws; a 1-in-28,000
   * guess does. Lockstep transfers, where a guess draws one block per ACK, share the pool, which
   * is where sharing saves the most (one datagram per transfer per turn, batched). Past the own
   * sockets' cap, or when a bind fails for want of descriptors or ports, the pool serves.
   */
  async forTransfer(bindAddress: string, clientAddress: string, clientPort: number, windowed: boolean): Promise<TransferPort> {
    if (windowed && this.own && this.ownOpen < this.own.max) {
      this.ownOpen++;
      try {
        const port = await this.own.open(bindAddress, (p) => {
          this.ownOpen--;
          this.unindex(p);
        });
        this.index(port);
        return port;
      } catch (err) {
        this.ownOpen--;
        if (!(err instanceof PortsBusy) && (err as NodeJS.ErrnoException).code !== "EMFILE" && (err as NodeJS.ErrnoException).code !== "ENFILE") throw err;
      }
    }
    return this.pick(bindAddress, clientAddress, clientPort);
  }

  /** How many windowed transfers at once get a socket of their own (0: all share the pool). */
  get ownSocketsMax(): number {
    return this.own?.max ?? 0;
  }

  /** Own sockets open now (windowed transfers running). */
  get ownSockets(): number {
    return this.ownOpen;
  }

  /**
   * The socket a new transfer with this client uses: uniformly random among those this client
   * endpoint is a stranger to (all but its previous transfer's, as a rule).
   */
  pick(bindAddress: string, clientAddress: string, clientPort: number): TransferPort {
    const ports = this.byAddress.get(bindAddress)!;
    // Rejection sampling keeps the choice uniform over the sockets that qualify.
    for (let tries = 0; tries < 8; tries++) {
      const p = ports[this.random(ports.length)]!;
      if (!p.knows(clientAddress, clientPort)) return p;
    }
    const fresh = ports.filter((p) => !p.knows(clientAddress, clientPort));
    if (fresh.length > 0) return fresh[this.random(fresh.length)]!;
    // A pool this small that every socket knows the endpoint: the least busy one.
    let best = ports[0]!;
    for (const p of ports) if (p.size < best.size) best = p;
    return best;
  }

  /** An ICMP port unreachable quoting a datagram from `localPort`: the transfer to that client ends. */
  unreachable(localPort: number, address: string, port: number): boolean {
    for (const p of this.byLocalPort.get(localPort) ?? []) if (p.unreachable(address, port)) return true;
    return false;
  }

  /** Local ports per address, for the start-up log. */
  get bound(): { address: string; ports: number[] }[] {
    return [...this.byAddress].map(([address, ports]) => ({ address, ports: ports.map((p) => p.localPort) }));
  }

  /** Sockets held, every address together (descriptors). */
  get count(): number {
    let n = 0;
    for (const ports of this.byAddress.values()) n += ports.length;
    return n;
  }

  close(): void {
    for (const ports of this.byAddress.values()) for (const p of ports) p.close();
  }
}

async function openPort(
  address: string,
  port: number,
  buffers: { send: number; receive: number },
  scheduler: PortScheduler,
  strangers: StrangerReplies,
  onEmpty?: (port: TransferPort) => void,
): Promise<TransferPort> {
  let tp: TransferPort | undefined;
  const socket = await Bun.udpSocket({
    hostname: address,
    port,
    binaryType: "uint8array",
    socket: {
      data: (_s, data, from, addr) => tp?.receive(data, from, addr),
      drain: () => tp?.onDrain(),
      // With IP_RECVERR off nothing should land here; a send error is loss as far as TFTP goes.
      error: () => {},
    },
  });
  const fd = socketFd(socket);
  disableRecvErr(fd);
  setSendBuffer(fd, buffers.send);
  setReceiveBuffer(fd, buffers.receive);
  tp = new TransferPort(socket as unknown as DatagramSocket & udp.Socket<"uint8array">, scheduler, strangers, onEmpty);
  return tp;
}
