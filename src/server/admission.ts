/**
 * Requests waiting for a transfer slot, bounded. Keyed by client address and port so a client
 * retrying its RRQ while it waits keeps its place instead of queueing twice. Served round-robin
 * by host (oldest first within a host), so one host opening many ports can't starve a rack.
 */
export class AdmissionQueue<T extends { address: string }> {
  /** Host → its waiting requests in arrival order; Map order is the round-robin order of hosts. */
  private readonly hosts = new Map<string, Map<string, T>>();
  private readonly keys = new Set<string>();

  constructor(private readonly max: number) {}

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

  shift(): T | undefined {
    for (const [host, q] of this.hosts) {
      this.hosts.delete(host);
      for (const [key, item] of q) {
        q.delete(key);
        this.keys.delete(key);
        if (q.size > 0) this.hosts.set(host, q); // to the back of the rotation
        return item;
      }
    }
    return undefined;
  }

  clear(): void {
    this.hosts.clear();
    this.keys.clear();
  }
}
