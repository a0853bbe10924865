import { describe, expect, test } from "bun:test";
import { Deadlines, type Timed } from "../../src/server/deadlines.ts";

function item(log: string[], name: string): Timed {
  return { dueAt: Infinity, heapAt: Infinity, onDeadline: () => void log.push(name) };
}

describe("shared deadline heap", () => {
  test("fires in deadline order; moving a deadline later does not fire early; cancel works", async () => {
    const d = new Deadlines();
    const log: string[] = [];
    const now = performance.now();
    const a = item(log, "a");
    const b = item(log, "b");
    const c = item(log, "c");
    d.schedule(a, now + 30);
    d.schedule(b, now + 10);
    d.schedule(c, now + 20);
    d.schedule(b, now + 40); // later: the old entry surfaces first and is moved on
    d.schedule(c, Infinity); // cancelled
    await Bun.sleep(80);
    expect(log).toEqual(["a", "b"]);
    d.close();
  });

  test("moving a deadline earlier fires at the new time, once", async () => {
    const d = new Deadlines();
    const log: string[] = [];
    const now = performance.now();
    const a = item(log, "a");
    d.schedule(a, now + 1000);
    d.schedule(a, now + 5);
    await Bun.sleep(40);
    expect(log).toEqual(["a"]);
    d.close();
  });

  test("thousands of reschedules keep at most one live entry per item", () => {
    const d = new Deadlines();
    const items = Array.from({ length: 100 }, (_, i) => item([], String(i)));
    const now = performance.now();
    for (let round = 1; round <= 100; round++) for (const it of items) d.schedule(it, now + 10_000 + round);
    expect(d.size).toBe(100);
    d.close();
  });
});
