import { describe, expect, test } from "bun:test";
import { Deadlines, type TimerApi, type Timed } from "../../src/server/io/deadlines.ts";

function item(log: string[], name: string): Timed {
  return { dueAt: Infinity, heapAt: Infinity, onDeadline: () => void log.push(name) };
}

/** A clock and a single-timer API under the test's control: `advance` runs what falls due. */
function fakeTime() {
  let now = 1000;
  let pending: { at: number; fn: () => void; id: number } | undefined;
  let nextId = 1;
  let armed = 0;
  const timers: TimerApi = {
    set(fn, ms) {
      armed++;
      pending = { at: now + ms, fn, id: nextId++ };
      return pending.id;
    },
    clear(id) {
      if (pending?.id === id) pending = undefined;
    },
  };
  return {
    clock: () => now,
    timers,
    get armed() {
      return armed;
    },
    /** Moves time forward, firing the timer (and any it re-arms) when due. */
    advance(ms: number) {
      const until = now + ms;
      while (pending && pending.at <= until) {
        const p = pending;
        pending = undefined;
        now = Math.max(now, p.at);
        p.fn();
      }
      now = until;
    },
  };
}

describe("shared deadline heap", () => {
  test("fires in deadline order; moving a deadline later does not fire early; cancel works", () => {
    const t = fakeTime();
    const d = new Deadlines(t.clock, t.timers);
    const log: string[] = [];
    const [a, b, c] = [item(log, "a"), item(log, "b"), item(log, "c")];
    d.schedule(a, 1030);
    d.schedule(b, 1010);
    d.schedule(c, 1020);
    d.schedule(b, 1040); // later: the old entry surfaces first and is moved on
    d.schedule(c, Infinity); // cancelled
    t.advance(35);
    expect(log).toEqual(["a"]);
    t.advance(10);
    expect(log).toEqual(["a", "b"]);
    t.advance(1000);
    expect(log).toEqual(["a", "b"]);
    d.close();
  });

  test("moving a deadline earlier fires at the new time, once", () => {
    const t = fakeTime();
    const d = new Deadlines(t.clock, t.timers);
    const log: string[] = [];
    const a = item(log, "a");
    d.schedule(a, 2000);
    d.schedule(a, 1005);
    t.advance(4);
    expect(log).toEqual([]);
    t.advance(1);
    expect(log).toEqual(["a"]);
    t.advance(2000);
    expect(log).toEqual(["a"]);
    d.close();
  });

  test("an item rescheduled from its own deadline fires again", () => {
    const t = fakeTime();
    const d = new Deadlines(t.clock, t.timers);
    let fired = 0;
    const it: Timed = { dueAt: Infinity, heapAt: Infinity, onDeadline: (now) => void (++fired < 3 && d.schedule(it, now + 10)) };
    d.schedule(it, 1010);
    t.advance(100);
    expect(fired).toBe(3);
  });

  test("thousands of reschedules keep at most one live entry per item, and one timer", () => {
    const t = fakeTime();
    const d = new Deadlines(t.clock, t.timers);
    const items = Array.from({ length: 100 }, (_, i) => item([], String(i)));
    for (let round = 1; round <= 100; round++) for (const it of items) d.schedule(it, 11_000 + round);
    expect(d.size).toBe(100);
    expect(t.armed).toBe(1); // later deadlines never re-arm the timer
    d.close();
  });
});
