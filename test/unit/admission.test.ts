import { describe, expect, test } from "bun:test";
import { AdmissionQueue } from "../../src/server/admission/queue.ts";

const req = (address: string, port: number, receivedAt = 0) => ({ address, port, receivedAt });
type Req = ReturnType<typeof req>;

function drain(q: AdmissionQueue<Req>, now: number): string[] {
  const out: string[] = [];
  for (let r = q.shift(now).item; r; r = q.shift(now).item) out.push(`${r.address}:${r.port}`);
  return out;
}

describe("admission queue (fake clock)", () => {
  test("bounded; a retried request keeps its single place", () => {
    const q = new AdmissionQueue<Req>(2);
    expect(q.push("a|1", req("a", 1))).toBe(true);
    expect(q.push("a|1", req("a", 1))).toBe(false);
    expect(q.push("b|1", req("b", 1))).toBe(true);
    expect(q.push("c|1", req("c", 1))).toBe(false);
    expect(q.size).toBe(2);
    expect(q.has("a|1")).toBe(true);
  });

  test("served round-robin by host, oldest first within a host", () => {
    const q = new AdmissionQueue<Req>(100);
    for (let p = 1; p <= 4; p++) q.push(`greedy|${p}`, req("greedy", p));
    q.push("x|1", req("x", 1));
    q.push("y|1", req("y", 1));
    expect(drain(q, 0)).toEqual(["greedy:1", "x:1", "y:1", "greedy:2", "greedy:3", "greedy:4"]);
    expect(q.size).toBe(0);
    expect(q.has("greedy|4")).toBe(false);
  });

  test("requests that waited past staleMs are dropped at their turn, and counted", () => {
    const q = new AdmissionQueue<Req>(100, 30_000);
    q.push("old|1", req("old", 1, 0));
    q.push("old|2", req("old", 2, 10_000));
    q.push("new|1", req("new", 1, 25_000));
    const first = q.shift(35_000); // old:1 waited 35 s: expired; old:2 waited 25 s: served
    expect(first.expired).toBe(1);
    expect(first.item?.port).toBe(2);
    expect(q.shift(35_000).item?.address).toBe("new");
    expect(q.shift(35_000)).toEqual({ expired: 0 });
    expect(q.has("old|1")).toBe(false);
  });

  test("a full queue frees places as it is served", () => {
    const q = new AdmissionQueue<Req>(1);
    q.push("a|1", req("a", 1));
    expect(q.push("b|1", req("b", 1))).toBe(false);
    q.shift(0);
    expect(q.push("b|1", req("b", 1))).toBe(true);
  });
});
