import { describe, expect, test } from "bun:test";
import { AdmissionQueue } from "../../src/server/admission.ts";

const req = (address: string, port: number) => ({ address, port });

describe("admission queue", () => {
  test("bounded; a retried request keeps its single place", () => {
    const q = new AdmissionQueue<ReturnType<typeof req>>(2);
    expect(q.push("a|1", req("a", 1))).toBe(true);
    expect(q.push("a|1", req("a", 1))).toBe(false);
    expect(q.push("b|1", req("b", 1))).toBe(true);
    expect(q.push("c|1", req("c", 1))).toBe(false);
    expect(q.size).toBe(2);
    expect(q.has("a|1")).toBe(true);
  });

  test("served round-robin by host, oldest first within a host", () => {
    const q = new AdmissionQueue<ReturnType<typeof req>>(100);
    for (let p = 1; p <= 4; p++) q.push(`greedy|${p}`, req("greedy", p));
    q.push("x|1", req("x", 1));
    q.push("y|1", req("y", 1));
    const order: string[] = [];
    for (let r = q.shift(); r; r = q.shift()) order.push(`${r.address}:${r.port}`);
    expect(order).toEqual(["greedy:1", "x:1", "y:1", "greedy:2", "greedy:3", "greedy:4"]);
    expect(q.size).toBe(0);
    expect(q.has("greedy|4")).toBe(false);
  });
});
