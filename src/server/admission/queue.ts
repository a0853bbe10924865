/**
 * Requests waiting for a transfer slot, bounded. Keyed by client address and port so a client
 * retrying its RRQ while it waits keeps its place instead of queueing twice. Served round-robin
 * by host (oldest first within a host), so one host opening many ports can't starve a rack.
 * Requests that waited longer than `staleMs` are dropped when their turn comes: their client has
 * given up (or retried from a new port), and starting them would hold a slot for nothing.
 */
export class AdmissionQueue<T extends { address: string; receivedAt: number }> {
  /** Host → its waiting requests in arrival order; Map order is the round-robin order of hosts. */
  private readonly hosts = new Map<string, Map<string, T>>();
  private readonly keys = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly staleMs = Infinity,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** False when the queue is full: the caller drops the request (the client will retry). */
  push(key: string, item: T): boolean {
    if (this.keys.size >= this.max || this.keys.has(key)) return false;
    let q = this.hosts.get(item.address);
    if (!q) this.hosts.set(item.address, (q = new Map()));
    q.set(key, item);
    this.keys.add(key);
    return true;
  }

  /** The next request to start at time `now`; `expired` counts the stale ones passed over. */
  shift(now: number): { item?: T; expired: number } {
    let expired = 0;
    for (const [host, q] of this.hosts) {
      this.hosts.delete(host);
      for (const [key, item] of q) {
        q.delete(key);
        this.keys.delete(key);
        if (now - item.receivedAt > this.staleMs) {
          expired++;
          continue;
        }
        if (q.size > 0) this.hosts.set(host, q); // to the back of the rotation
        return { item, expired };
      }
    }
    return { expired };
  }

  clear(): void {
    this.hosts.clear();
    this.keys.clear();
  }
}
