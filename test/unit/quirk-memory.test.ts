/** Picky firmware: the offer ladder, the per-address memory, and the transfer's fallback, with a fake clock. */
import { describe, expect, test } from "bun:test";
import { fallbackRequests } from "../../src/protocol/options.ts";
import { offerLadder, startIndex } from "../../src/server/offers/ladder.ts";
import { PickyClients, REPEAT_GUARD_MS } from "../../src/server/offers/picky-clients.ts";
import { QuirkMemory } from "../../src/server/offers/quirk-memory.ts";
import { encodeOack, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { OACK_TIMEOUTS_BEFORE_FALLBACK, SendTransfer, UNANSWERED_BYTES_FACTOR } from "../../src/transfer/send.ts";
import type { BlockSource } from "../../src/transfer/types.ts";

const opts = (o: Record<string, string>) => new Map(Object.entries(o));
const LIMITS = { blockSizeMax: 65464, windowSizeMax: 64, rollover: 0 as const, windowBytesMax: 96 * 1024 };

describe("fallback requests", () => {
  test("blksize down to 1024 and windowsize dropped, tsize and timeout kept; then nothing", () => {
    const r = fallbackRequests(opts({ blksize: "1468", windowsize: "8", tsize: "0", timeout: "2" }));
    expect(r.map((x) => [x.level, Object.fromEntries(x.request)])).toEqual([
      [1, { blksize: "1024", tsize: "0", timeout: "2" }],
      [2, {}],
    ]);
  });
  test("a level that changes nothing is left out; no options, no fallback", () => {
    expect(fallbackRequests(opts({ blksize: "512", tsize: "0" })).map((x) => x.level)).toEqual([2]);
    expect(fallbackRequests(new Map())).toEqual([]);
  });
  test("the ladder negotiates each level and fills in tsize", () => {
    const ladder = offerLadder(opts({ blksize: "1468", windowsize: "4", tsize: "0" }), LIMITS, 5000);
    expect(ladder.map((o) => [o.level, o.options.blockSize, o.options.windowSize, o.granted && Object.fromEntries(o.granted)])).toEqual([
      [0, 1468, 4, { blksize: "1468", windowsize: "4", tsize: "5000" }],
      [1, 1024, 1, { blksize: "1024", tsize: "5000" }],
      [2, 512, 1, undefined],
    ]);
    expect(ladder[2]!.oack).toBeUndefined();
    expect(startIndex(ladder, 1)).toBe(1);
    expect(startIndex(ladder.slice(0, 1).concat(ladder.slice(2)), 1)).toBe(1); // level 1 missing: level 2
    expect(startIndex(ladder.slice(0, 1), 2)).toBe(0);
  });
  test("an empty file: one offer without options (DATA 1 of zero bytes answers), whatever was asked", () => {
    const ladder = offerLadder(opts({ blksize: "1468", windowsize: "4", tsize: "0" }), LIMITS, 0);
    expect(ladder.map((o) => [o.level, o.options.blockSize, o.options.windowSize, o.oack, o.probeable])).toEqual([[0, 512, 1, undefined, false]]);
    expect(startIndex(ladder, 2)).toBe(0);
  });
});

describe("QuirkMemory", () => {
  test("remembers the step for memoryMs after it was last confirmed, and says when it is news", () => {
    const m = new QuirkMemory();
    expect(m.learn("10.0.0.5", 1, "OACK unanswered 2 times", "pxelinux.0", 0, 1000)).toBe(true);
    expect(m.stepFor("10.0.0.5", 500)).toBe(1);
    expect(m.learn("10.0.0.5", 1, "", "pxelinux.0", 900, 1000)).toBe(false); // confirmed: kept longer
    expect(m.stepFor("10.0.0.5", 1800)).toBe(1);
    expect(m.entries(1800)[0]![1].reason).toBe("OACK unanswered 2 times");
    expect(m.learn("10.0.0.5", 2, "asked again", "vmlinuz", 1800, 1000)).toBe(true);
    expect(m.stepFor("10.0.0.5", 2799)).toBe(2);
    expect(m.stepFor("10.0.0.5", 2800)).toBe(0);
    expect(m.stepFor("10.0.0.6", 0)).toBe(0);
  });
  test("step 0 and a memory of 0 remember nothing; the oldest entry goes when full", () => {
    const m = new QuirkMemory(2);
    expect(m.learn("a", 0, "", "f", 0, 1000)).toBe(false);
    expect(m.learn("a", 1, "x", "f", 0, 0)).toBe(true);
    expect(m.size).toBe(0);
    m.learn("a", 1, "x", "f", 0, 1000);
    m.learn("b", 1, "x", "f", 1, 1000);
    m.learn("c", 1, "x", "f", 2, 1000);
    expect(m.size).toBe(2);
    expect(m.stepFor("a", 3)).toBe(0);
    expect(m.stepFor("c", 3)).toBe(1);
  });
});

function source(size: number): BlockSource {
  return {
    size,
    read(into, offset, position, length) {
      for (let i = 0; i < length; i++) into[offset + i] = (position + i) & 0xff;
      return true;
    },
  };
}

/** A transfer for `requested`, starting at ladder index `first`, with its fallbacks recorded. */
function transferFor(requested: Record<string, string>, size = 5000, first = 0, requestBytes?: number) {
  const ladder = offerLadder(opts(requested), LIMITS, size);
  const steps: [number, string][] = [];
  const t = new SendTransfer(
    {
      peer: { address: "10.0.0.5", port: 2000 },
      options: ladder[first]!.options,
      oack: ladder[first]!.oack,
      probeable: ladder[first]!.probeable,
      rto: { initialMs: 1000, minMs: 20, maxMs: 5000 },
      retries: 6,
      giveUpMs: 6000,
      fallbacks: ladder.slice(first + 1),
      onFallback: (step, reason) => steps.push([step, reason]),
      requestBytes,
    },
    source(size),
  );
  return { t, steps, ladder };
}

/** The outbox as [opcode, blockOrLength] pairs: DATA → [3, payload length], OACK → [6, bytes]. */
function out(t: SendTransfer): [number, number][] {
  const r = t.outbox.map((p): [number, number] => [p[1]!, p[1] === 3 ? p.length - 4 : p.length]);
  t.outbox.length = 0;
  return r;
}

describe("SendTransfer falls back while its OACK is unanswered", () => {
  test(`after ${OACK_TIMEOUTS_BEFORE_FALLBACK} OACK timeouts: the 1024 offer, then plain DATA 1 of 512`, () => {
    const { t, steps, ladder } = transferFor({ blksize: "1468", windowsize: "4", tsize: "0" });
    t.start(0);
    expect(out(t)).toEqual([[6, ladder[0]!.oack!.length]]);
    t.onTimer(t.deadline);
    expect(out(t)).toEqual([[6, ladder[0]!.oack!.length]]); // the first timeout resends it
    t.onTimer(t.deadline);
    expect(out(t)).toEqual([[6, ladder[1]!.oack!.length]]);
    expect(steps).toEqual([[1, "OACK unanswered 2 times"]]);
    expect(t.deadline).toBeLessThanOrEqual(3000 + 1000 + 1); // a fresh 1 s timer, not the backed-off one
    t.onTimer(t.deadline);
    t.onTimer(t.deadline);
    expect(out(t)).toEqual([[6, ladder[1]!.oack!.length], [3, 512]]);
    expect(steps.length).toBe(2);
    expect(t.options.blockSize).toBe(512);
    expect(t.stage).toBe("data");
    t.onAck(1, t.deadline - 1);
    expect(t.stage).toBe("proven");
  });

  test("the client takes the 1024 offer: blocks of 1024, file intact", () => {
    const { t } = transferFor({ blksize: "1468", windowsize: "4", tsize: "0" }, 3000);
    t.start(0);
    out(t);
    t.onTimer(t.deadline);
    t.onTimer(t.deadline);
    out(t);
    t.onAck(0, 3500);
    expect(out(t)).toEqual([[3, 1024]]); // windowsize 1 now
    t.onAck(1, 3501);
    t.onAck(2, 3502);
    expect(out(t)).toEqual([[3, 1024], [3, 952]]);
    t.onAck(3, 3503);
    expect(t.outcome?.kind).toBe("ok");
    expect(t.bytesAcked).toBe(3000);
  });

  test("asked from outside (a repeated request): taken at the next timer, never after the OACK was answered", () => {
    const { t, steps } = transferFor({ blksize: "1468", tsize: "0" });
    t.start(0);
    out(t);
    expect(t.askFallback("asked again without answering the OACK")).toBe(true);
    t.onTimer(10);
    expect(steps).toEqual([[1, "asked again without answering the OACK"]]);
    expect(out(t)[0]![0]).toBe(6);
    t.onAck(0, 20);
    expect(t.askFallback("late")).toBe(false);
    expect(t.fallBack(30, "late")).toBe(false);
  });

  test("no fallbacks configured: the OACK is resent as before until the transfer gives up", () => {
    const t = new SendTransfer(
      { peer: { address: "10.0.0.5", port: 2000 }, options: { blockSize: 1468, windowSize: 1, rollover: 0 }, oack: encodeOack(opts({ blksize: "1468" })), probeable: false, rto: { initialMs: 1000, minMs: 20, maxMs: 5000 }, retries: 3, giveUpMs: 3000 },
      source(5000),
    );
    t.start(0);
    for (let i = 0; i < 10 && !t.outcome; i++) t.onTimer(t.deadline);
    expect(t.outcome?.kind).toBe("timeout");
  });
});

describe("what a client that never answers draws (UNANSWERED_BYTES_FACTOR)", () => {
  /** Runs the timer until the transfer ends; everything it sent, as [opcode, bytes on the wire]. */
  function silent(t: SendTransfer, repeat?: { every: number; bytes: number }): [number, number][] {
    const sent: [number, number][] = [];
    const take = () => sent.push(...t.outbox.map((p): [number, number] => [p[1]!, p.length])) && void (t.outbox.length = 0);
    t.start(0);
    take();
    let nextRepeat = repeat?.every ?? Infinity;
    for (let i = 0; i < 100 && !t.outcome; i++) {
      const at = Math.min(t.deadline, nextRepeat);
      if (at === nextRepeat) {
        t.requestRepeated(repeat!.bytes);
        nextRepeat += repeat!.every;
      } else t.onTimer(at);
      take();
    }
    expect(t.outcome?.kind).toBe("timeout");
    return sent;
  }
  const total = (sent: [number, number][]) => sent.reduce((a, [, n]) => a + n, 0);

  test("blksize 65464, windowsize 64: OACKs within 4× the request, never the fallback's DATA 1", () => {
    const asked = { blksize: "65464", windowsize: "64", tsize: "0" };
    const request = encodeRequest(Opcode.RRQ, "vmlinuz", "octet", opts(asked)).length;
    const sent = silent(transferFor(asked, 40_000_000, 0, request).t);
    expect(sent.every(([op]) => op === 6)).toBe(true);
    expect(sent.length).toBeGreaterThanOrEqual(3); // the OACK resent, and the fallback's OACK
    expect(total(sent)).toBeLessThanOrEqual(UNANSWERED_BYTES_FACTOR * request);
    // Without a budget (as before): seven copies of a 516-byte DATA 1 after the OACKs.
    const unbounded = silent(transferFor(asked, 40_000_000).t);
    expect(unbounded.filter(([op]) => op === 3).length).toBe(7);
  });

  test("a client that repeats its request (picky firmware waiting for DATA 1) pays for the fallback's DATA 1", () => {
    const asked = { blksize: "1468", windowsize: "4", tsize: "0" };
    const request = encodeRequest(Opcode.RRQ, "pxelinux.0", "octet", opts(asked)).length;
    const { t } = transferFor(asked, 40_000, 0, request);
    const sent = silent(t, { every: 900, bytes: request });
    expect(sent.filter(([op]) => op === 3).length).toBeGreaterThanOrEqual(1);
    expect(sent.find(([op]) => op === 3)![1]).toBe(516);
  });

  test("a plain RRQ: DATA 1, resent within 4× its own size; once the client answered, no budget", () => {
    const { t } = transferFor({}, 40_000, 0, 20);
    const sent = silent(t);
    expect(sent).toEqual(Array(UNANSWERED_BYTES_FACTOR).fill([3, 516]));
    // After ACK 1, DATA 2 is resent as often as without a budget.
    const resends = (requestBytes?: number) => {
      const answered = transferFor({}, 40_000, 0, requestBytes).t;
      answered.start(0);
      answered.onAck(1, 5);
      answered.outbox.length = 0;
      let n = 0;
      for (let i = 0; i < 100 && !answered.outcome; i++) {
        answered.onTimer(answered.deadline);
        n += answered.outbox.length;
        answered.outbox.length = 0;
      }
      return n;
    };
    expect(resends(20)).toBe(resends(undefined));
    expect(resends(20)).toBeGreaterThan(UNANSWERED_BYTES_FACTOR);
  });
});

describe("PickyClients", () => {
  const MEM = 3_600_000;
  test("a repeated request from the same port asks the running transfer to fall back, after the guard", () => {
    const p = new PickyClients();
    const { t, ladder } = transferFor({ blksize: "1468", tsize: "0" });
    t.start(0);
    p.track("10.0.0.5|2000", "10.0.0.5", "f", t, { level: 0 }, ladder.at(-1)!.level, 0, MEM);
    p.repeated("10.0.0.5|2000", 40, REPEAT_GUARD_MS - 1); // may have crossed the OACK
    t.onTimer(REPEAT_GUARD_MS);
    expect(t.fallbackStep).toBe(0);
    p.repeated("10.0.0.5|2000", 40, REPEAT_GUARD_MS + 1);
    t.onTimer(REPEAT_GUARD_MS + 2);
    expect(t.fallbackStep).toBe(1);
  });

  test("the same client asking again from a new port starts one level down, and that is remembered", () => {
    const p = new PickyClients();
    const lines: unknown[] = [];
    p.log = { info: (_m: string, f: unknown) => lines.push(f) } as never;
    const first = transferFor({ blksize: "1468", tsize: "0" });
    first.t.start(0);
    p.track("10.0.0.5|2000", "10.0.0.5", "pxelinux.0", first.t, { level: 0 }, 2, 0, MEM);
    expect(p.startLevel("10.0.0.5|2001", "10.0.0.5", "pxelinux.0", 100)).toEqual({ level: 0 }); // inside the guard
    expect(p.startLevel("10.0.0.9|2001", "10.0.0.9", "pxelinux.0", 4000)).toEqual({ level: 0 }); // another client
    const start = p.startLevel("10.0.0.5|2001", "10.0.0.5", "pxelinux.0", 4000);
    expect(start).toEqual({ level: 1, reason: "asked again without answering the OACK" });
    const second = transferFor({ blksize: "1468", tsize: "0" }, 5000, 1);
    p.track("10.0.0.5|2001", "10.0.0.5", "pxelinux.0", second.t, start, 2, 4000, MEM);
    expect(lines).toEqual([{ client: "10.0.0.5", file: "pxelinux.0", offer: "blksize at most 1024, no windowsize", reason: "asked again without answering the OACK" }]);
    // Its next file starts there at once.
    expect(p.startLevel("10.0.0.5|2002", "10.0.0.5", "vmlinuz", 5000)).toEqual({ level: 1 });
  });

  test("a transfer that timed out with DATA 1 never acknowledged sends the client's next request down a level", () => {
    const p = new PickyClients();
    const { t } = transferFor({ blksize: "1468", tsize: "0" });
    t.start(0);
    p.track("10.0.0.5|2000", "10.0.0.5", "f", t, { level: 0 }, 2, 0, MEM);
    t.onAck(0, 1);
    for (let i = 0; i < 50 && !t.outcome; i++) t.onTimer(t.deadline);
    expect(t.outcome?.kind).toBe("timeout");
    p.ended("10.0.0.5|2000", 20_000, MEM);
    expect(p.startLevel("10.0.0.5|2001", "10.0.0.5", "f", 20_001)).toEqual({ level: 1 });
  });
});
