/**
 * --port-range (tftpd-hpa's -R): each transfer's socket, its transfer ID, is bound to a port in
 * a range a firewall lets through, instead of any port the kernel picks. The range is walked
 * round-robin from the port after the last one handed out, skipping ports this server still
 * holds without a system call; a port someone else holds is skipped on EADDRINUSE. When every
 * port is busy, binding fails with PortsBusy, which the server treats as a shortage: the request
 * waits in the admission queue until a transfer ends.
 */
import { randomInt } from "node:crypto";

export class PortsBusy extends Error {
  constructor(range: PortRange) {
    super(`every port of --port-range ${range.low}:${range.high} is in use`);
    this.name = "PortsBusy";
  }
}

export const isPortsBusy = (err: unknown): err is PortsBusy => err instanceof PortsBusy;

interface Bound {
  readonly closed: boolean;
}

export class PortRange {
  private next: number;
  /** Sockets this range handed out, by port; a closed one frees its port. */
  private readonly held = new Map<number, Bound>();

  constructor(
    readonly low: number,
    readonly high: number,
  ) {
    if (!(Number.isInteger(low) && Number.isInteger(high) && 1 <= low && low <= high && high <= 65535))
      throw new RangeError(`bad port range ${low}:${high}`);
    this.next = low;
  }

  get size(): number {
    return this.high - this.low + 1;
  }

  /**
   * Binds with `bind(port)` on the first free port of the range, walking on from the last one
   * handed out, or from a random port with `randomStart` (a transfer ID nobody can predict from
   * the port the previous transfer got).
   */
  async bind<S extends Bound>(bind: (port: number) => Promise<S>, opts: { randomStart?: boolean } = {}): Promise<S> {
    if (opts.randomStart) this.next = this.low + randomInt(this.size);
    for (let tried = 0; tried < this.size; tried++) {
      const port = this.next;
      this.next = port === this.high ? this.low : port + 1;
      const mine = this.held.get(port);
      if (mine && !mine.closed) continue;
      this.held.delete(port);
      try {
        const socket = await bind(port);
        this.held.set(port, socket);
        return socket;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") continue;
        throw err;
      }
    }
    throw new PortsBusy(this);
  }
}

/** Binds a transfer socket: in the range when there is one, else on a port the kernel picks. */
export function bindTransferPort<S extends Bound>(range: PortRange | undefined, bind: (port: number) => Promise<S>): Promise<S> {
  return range ? range.bind(bind) : bind(0);
}
