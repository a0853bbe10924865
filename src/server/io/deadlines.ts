/**
 * One timer for every transfer: a min-heap of deadlines behind a single setTimeout. Thousands of
 * transfers re-arm their retransmission timer on every ACK; that must not cost a setTimeout or a
 * heap entry each. So an item keeps at most one live heap entry: moving a deadline later only
 * updates `dueAt`, and the entry is pushed back to the new time when it surfaces; only moving it
 * earlier pushes a new entry (the old one is then dropped as stale).
 */
export interface Timed {
  /** When the item wants `onDeadline` (Infinity: never). Owned by Deadlines. */
  dueAt: number;
  /** The time of the item's live heap entry (Infinity: none). Owned by Deadlines. */
  heapAt: number;
  onDeadline(now: number): void;
}

interface Entry {
  at: number;
  item: Timed;
}

/** The one timer behind the heap; tests pass a fake one driven by their own clock. */
export interface TimerApi {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const REAL_TIMER: TimerApi = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class Deadlines {
  private heap: Entry[] = [];
  private timer: unknown;
  private timerAt = Infinity;

  constructor(
    private readonly clock: () => number = () => performance.now(),
    private readonly timers: TimerApi = REAL_TIMER,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  schedule(item: Timed, at: number): void {
    item.dueAt = at;
    if (at >= item.heapAt) return; // the live entry surfaces first and is moved on then
    item.heapAt = at;
    this.push({ at, item });
    if (at < this.timerAt) this.arm(at);
  }

  close(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    this.heap = [];
  }

  private arm(at: number): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timerAt = at;
    this.timer = this.timers.set(() => this.fire(), Math.max(0, at - this.clock()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock();
    // Bounded per tick so a flood of expiries can't starve socket reads; the rest runs next tick.
    for (let n = 0; n < 4096 && this.heap.length > 0 && this.heap[0]!.at <= now; n++) {
      const { at, item } = this.pop()!;
      if (item.heapAt !== at) continue; // superseded by an earlier entry
      item.heapAt = Infinity;
      if (item.dueAt <= now) {
        item.dueAt = Infinity;
        item.onDeadline(now);
      } else if (item.dueAt !== Infinity) {
        item.heapAt = item.dueAt;
        this.push({ at: item.dueAt, item });
      }
    }
    if (this.heap.length > 0) this.arm(this.heap[0]!.at);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (!top || !last || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
      if (h[c]!.at >= last.at) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
