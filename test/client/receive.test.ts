/** The receiving state machine, driven by hand-made packets and a fake clock: no sockets. */
import { describe, expect, test } from "bun:test";
import { cancelled } from "../../src/protocol/errors.ts";
import { decodePacket, encodeData, encodeError, encodeOack } from "../../src/protocol/packet.ts";
import { ErrorCode, Opcode, type Packet } from "../../src/protocol/types.ts";
import { ReceiveTransfer, type ReceiveConfig, type ReceiveOutcome } from "../../src/transfer/receive.ts";
import type { Peer } from "../../src/transfer/types.ts";

const LISTEN: Peer = { address: "127.0.0.1", port: 69 };
const SERVER: Peer = { address: "127.0.0.1", port: 40000 };
const STRANGER: Peer = { address: "127.0.0.1", port: 40001 };

/** What the machine did in answer to one event, decoded, so tests read as a conversation. */
interface Seen {
  /** The outbox, drained. */
  sent: { packet: Packet; to: Peer }[];
  /** What onDatagram asked to send back to the sender instead. */
  reply?: Packet;
  /** Bytes the sink received. */
  data: number[];
  /** The outcome, on the event that ended the transfer. */
  done?: ReceiveOutcome;
}

const decode = (datagram: Uint8Array) => decodePacket(datagram) as Packet;

const acks = (s: Seen) => s.sent.filter((x) => x.packet.op === Opcode.ACK).map((x) => (x.packet as { block: number }).block);

function machine(extra: Partial<ReceiveConfig> = {}) {
  const sunk: number[] = [];
  const m = new ReceiveTransfer(
    { filename: "f", mode: "octet", server: LISTEN, timeoutMs: 1000, retries: 3, ...extra },
    { write: (chunk) => void sunk.push(...chunk) },
  );
  let now = 0;
  let ended = false;
  /** Drains the machine like a driver does after every event. */
  const seen = (reply: Uint8Array | null = null): Seen => {
    const s: Seen = { sent: m.outbox.map((d) => ({ packet: decode(d), to: m.peer })), data: sunk.splice(0) };
    m.outbox.length = 0;
    if (reply) s.reply = decode(reply);
    if (m.outcome && !ended) {
      ended = true;
      s.done = m.outcome;
    }
    return s;
  };
  m.start(now);
  const start = seen();
  return {
    m,
    start,
    at: (t: number) => (now = t),
    get now() {
      return now;
    },
    recv: (datagram: Uint8Array, from: Peer = SERVER) => seen(m.onDatagram(datagram, from.port, from.address, now)),
    tick: (t: number) => {
      m.onTimer((now = t));
      return seen();
    },
    cancel: (reason: string) => {
      m.cancel(cancelled(), reason);
      return seen();
    },
  };
}

const block = (n: number, len: number, fill = n & 0xff) => encodeData(n & 0xffff, new Uint8Array(len).fill(fill));

describe("request", () => {
  test("the RRQ carries the asked options, in a fixed order, and goes to the listening port", () => {
    const { start } = machine({ blockSize: 1468, windowSize: 4, tsize: true, timeoutSec: 3 });
    expect(start.sent).toHaveLength(1);
    const rrq = start.sent[0]!;
    expect(rrq.to).toEqual(LISTEN);
    expect(rrq.packet).toEqual({
      op: Opcode.RRQ,
      filename: "f",
      mode: "octet",
      options: new Map([
        ["blksize", "1468"],
        ["windowsize", "4"],
        ["timeout", "3"],
        ["tsize", "0"],
      ]),
    });
  });

  test("no answer: the RRQ is re-sent with backoff, then it times out", () => {
    const t = machine({ retries: 2, timeoutMaxMs: 4000 });
    expect(t.tick(999).sent).toHaveLength(0); // early ticks do nothing
    expect(t.tick(1000).sent[0]!.packet.op).toBe(Opcode.RRQ);
    expect(t.m.deadline).toBe(3000); // 2 s after the first retry
    expect(t.tick(3000).sent[0]!.to).toEqual(LISTEN);
    expect(t.m.deadline).toBe(7000);
    const last = t.tick(7000);
    expect(last.sent).toHaveLength(0);
    expect(last.done).toMatchObject({ ok: false, kind: "timeout" });
    expect(t.m.stats.timeouts).toBe(2);
    expect(t.m.stats.requestRetries).toBe(2);
  });
});

describe("lockstep without options", () => {
  test("blocks are ACKed one by one, data delivered in order, a short block ends it", () => {
    const t = machine();
    const a = t.recv(block(1, 512, 7));
    expect(acks(a)).toEqual([1]);
    expect(a.sent[0]!.to).toEqual(SERVER);
    expect(a.data).toHaveLength(512);
    const b = t.recv(block(2, 10, 9));
    expect(acks(b)).toEqual([2]);
    expect(b.done).toEqual({ ok: true, bytes: 522, tsize: undefined, probe: false });
    expect(t.m.deadline).toBe(Infinity);
  });

  test("a file that is an exact multiple of the block size ends with an empty block", () => {
    const t = machine();
    t.recv(block(1, 512));
    const end = t.recv(encodeData(2, new Uint8Array(0)));
    expect(end.done).toMatchObject({ ok: true, bytes: 512 });
  });

  test("a duplicate DATA (our ACK was lost) is ACKed again, delivered once", () => {
    const t = machine();
    t.recv(block(1, 512));
    const dup = t.recv(block(1, 512));
    expect(acks(dup)).toEqual([1]);
    expect(dup.data).toHaveLength(0);
    expect(t.m.stats.duplicates).toBe(1);
    expect(acks(t.recv(block(1, 512)))).toEqual([1]);
  });

  test("silence after a block re-sends the last ACK; progress resets the retry budget", () => {
    const t = machine({ retries: 1 });
    t.recv(block(1, 512));
    expect(acks(t.tick(1000))).toEqual([1]);
    t.at(1500);
    t.recv(block(2, 512));
    expect(t.m.deadline).toBe(2500);
    expect(acks(t.tick(2500))).toEqual([2]);
    expect(t.tick(3500).done).toMatchObject({ ok: false, kind: "timeout", reason: "timed out: no DATA after block 2" });
  });

  test("the final ACK is repeated if the last DATA comes again", () => {
    const t = machine();
    t.recv(block(1, 3));
    expect(acks(t.recv(block(1, 3)))).toEqual([1]);
  });

  test("a block larger than blksize is a protocol error", () => {
    const t = machine();
    const r = t.recv(block(1, 513));
    expect(r.done).toMatchObject({ ok: false, kind: "protocol", code: ErrorCode.ILLEGAL_OPERATION });
    expect(r.sent[0]!.packet).toMatchObject({ op: Opcode.ERROR, code: ErrorCode.ILLEGAL_OPERATION });
  });
});

describe("server errors and foreign ports", () => {
  test("an ERROR from the server ends the transfer with its code and message, and is not answered", () => {
    const t = machine();
    const r = t.recv(encodeError(1, "File not found"));
    expect(r.sent).toHaveLength(0);
    expect(r.done).toEqual({ ok: false, kind: "remote", code: 1, reason: "File not found" });
  });

  test("the first reply fixes the server's TID; another port gets ERROR 5 and changes nothing", () => {
    const t = machine();
    t.recv(block(1, 512));
    const r = t.recv(block(2, 512), STRANGER);
    expect(r.sent).toHaveLength(0);
    expect(r.reply).toEqual({ op: Opcode.ERROR, code: ErrorCode.UNKNOWN_TID, message: "Unknown transfer ID" });
    expect(r.data).toHaveLength(0);
    expect(t.m.stats.foreign).toBe(1);
    expect(acks(t.recv(block(2, 1)))).toEqual([2]);
    expect(t.m.outcome).toMatchObject({ ok: true, bytes: 513 });
  });

  test("an ERROR from a foreign port does not end the transfer", () => {
    const t = machine();
    t.recv(block(1, 512));
    t.recv(encodeError(1, "nope"), STRANGER);
    expect(t.m.outcome).toBeUndefined();
  });

  test("garbage from the server ends the transfer with ERROR 4", () => {
    const t = machine();
    const r = t.recv(Uint8Array.of(0, 9, 1));
    expect(r.done).toMatchObject({ ok: false, code: ErrorCode.ILLEGAL_OPERATION });
  });
});

describe("option negotiation", () => {
  test("an OACK is checked, ACKed with block 0, and its values rule the transfer", () => {
    const t = machine({ blockSize: 1468, windowSize: 2, tsize: true });
    const r = t.recv(encodeOack(new Map([["blksize", "1024"], ["windowsize", "2"], ["tsize", "1030"]])));
    expect(acks(r)).toEqual([0]);
    expect(t.m.negotiated).toMatchObject({ blockSize: 1024, windowSize: 2, tsize: 1030 });
    expect(acks(t.recv(block(1, 1024)))).toEqual([]);
    const end = t.recv(block(2, 6));
    expect(acks(end)).toEqual([2]);
    expect(end.done).toEqual({ ok: true, bytes: 1030, tsize: 1030, probe: false });
  });

  test("a lost ACK 0: the repeated OACK is ACKed again", () => {
    const t = machine({ blockSize: 1468 });
    t.recv(encodeOack(new Map([["blksize", "1468"]])));
    expect(acks(t.recv(encodeOack(new Map([["blksize", "1468"]]))))).toEqual([0]);
    expect(acks(t.tick(1000))).toEqual([0]);
  });

  test.each([
    ["a larger blksize", [["blksize", "2048"]]],
    ["a tiny blksize", [["blksize", "4"]]],
    ["a larger windowsize", [["windowsize", "8"]]],
    ["an option we did not ask", [["multicast", "1"]]],
    ["a changed timeout", [["timeout", "9"]]],
    ["a non-number", [["blksize", "1k"]]],
  ])("%s is refused with ERROR 8", (_name, opts) => {
    const t = machine({ blockSize: 1468, windowSize: 4, timeoutSec: 2 });
    const r = t.recv(encodeOack(new Map(opts as [string, string][])));
    expect(r.sent[0]!.packet).toMatchObject({ op: Opcode.ERROR, code: ErrorCode.OPTION_REFUSED });
    expect(r.sent[0]!.to).toEqual(SERVER);
    expect(r.done).toMatchObject({ ok: false, kind: "protocol", code: ErrorCode.OPTION_REFUSED });
  });

  test("a server that ignores the options answers with DATA: blksize falls back to 512", () => {
    const t = machine({ blockSize: 1468, windowSize: 8 });
    const r = t.recv(block(1, 512));
    expect(acks(r)).toEqual([1]); // windowsize 1 in force: every block is ACKed
    expect(t.m.negotiated).toEqual({ blockSize: 512, windowSize: 1 });
    expect(t.recv(block(2, 100)).done).toMatchObject({ ok: true, bytes: 612 });
  });

  test("a transfer shorter than the announced tsize fails", () => {
    const t = machine({ tsize: true });
    t.recv(encodeOack(new Map([["tsize", "600"]])));
    expect(t.recv(block(1, 100)).done).toMatchObject({ ok: false, reason: expect.stringContaining("size mismatch") });
  });

  test("a size probe reads tsize from the OACK and answers ERROR 8", () => {
    const t = machine({ probe: true, blockSize: 1456 });
    const r = t.recv(encodeOack(new Map([["blksize", "1456"], ["tsize", "123456"]])));
    expect(r.sent).toHaveLength(1);
    expect(r.sent[0]!.packet).toMatchObject({ op: Opcode.ERROR, code: ErrorCode.OPTION_REFUSED });
    expect(r.done).toEqual({ ok: true, bytes: 0, tsize: 123456, probe: true });
  });

  test("a size probe answered with DATA learns nothing and says so", () => {
    const t = machine({ probe: true });
    expect(t.recv(block(1, 512)).done).toMatchObject({ ok: false, code: ErrorCode.OPTION_REFUSED });
  });
});

describe("windows (RFC 7440)", () => {
  function windowed(windowSize: number) {
    const t = machine({ blockSize: 512, windowSize });
    t.recv(encodeOack(new Map([["blksize", "512"], ["windowsize", String(windowSize)]])));
    return t;
  }

  test("one ACK per full window, and one for the last block", () => {
    const t = windowed(4);
    const sentAcks: number[] = [];
    for (let n = 1; n <= 9; n++) sentAcks.push(...acks(t.recv(block(n, 512))));
    expect(sentAcks).toEqual([4, 8]);
    const end = t.recv(block(10, 5));
    expect(acks(end)).toEqual([10]);
    expect(end.done).toMatchObject({ ok: true, bytes: 9 * 512 + 5 });
  });

  test("a gap is answered once with the last in-order block; the resend from there completes it", () => {
    const t = windowed(4);
    t.recv(block(1, 512));
    // block 2 lost
    expect(acks(t.recv(block(3, 512)))).toEqual([1]);
    expect(acks(t.recv(block(4, 512)))).toEqual([]); // same gap: no second ACK
    expect(t.m.stats.gaps).toBe(2);
    // the server goes back to block 2 and sends a full window
    const again: number[] = [];
    for (let n = 2; n <= 5; n++) again.push(...acks(t.recv(block(n, 512))));
    expect(again).toEqual([5]);
    expect(t.m.bytes).toBe(5 * 512);
  });

  test("a later gap after progress is answered again", () => {
    const t = windowed(4);
    t.recv(block(1, 512));
    expect(acks(t.recv(block(3, 512)))).toEqual([1]);
    t.recv(block(2, 512));
    t.recv(block(3, 512));
    expect(acks(t.recv(block(5, 512)))).toEqual([3]);
    expect(acks(t.recv(block(6, 512)))).toEqual([]);
  });

  test("a whole window re-sent (our ACK was lost) draws one ACK, not one per block", () => {
    const t = windowed(4);
    for (let n = 1; n <= 4; n++) t.recv(block(n, 512));
    const re: number[] = [];
    for (let n = 1; n <= 4; n++) re.push(...acks(t.recv(block(n, 512))));
    expect(re).toEqual([4]);
    expect(t.m.stats.duplicates).toBe(4);
  });

  test("a timeout mid-window re-sends the last in-order ACK and restarts the window count", () => {
    const t = windowed(4);
    t.recv(block(1, 512));
    t.recv(block(2, 512));
    expect(acks(t.tick(1000))).toEqual([2]);
    const next: number[] = [];
    for (let n = 3; n <= 6; n++) next.push(...acks(t.recv(block(n, 512))));
    expect(next).toEqual([6]);
  });

  test("loss at random still yields every byte in order", () => {
    const t = windowed(8);
    const total = 300;
    let rand = 12345;
    const lossy = () => ((rand = (rand * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) < 0.2;
    // A toy server: sends a window from the last ACK, goes back on a gap ACK or silence.
    let base = 1;
    const payload = (n: number) => (n === total ? 7 : 512);
    for (let rounds = 0; rounds < 5000 && !t.m.outcome; rounds++) {
      let acked = -1;
      for (let n = base; n < base + 8 && n <= total; n++) {
        if (lossy()) continue;
        const a = acks(t.recv(block(n, payload(n), n & 0xff)));
        if (a.length) acked = a[a.length - 1]!;
      }
      if (acked < 0) acked = acks(t.tick(t.now + 1000))[0] ?? base - 1;
      base = acked + 1;
    }
    expect(t.m.outcome).toMatchObject({ ok: true, bytes: 299 * 512 + 7 });
  });
});

describe("block number rollover", () => {
  /** Feeds blocks 1..count through a lockstep (or windowed) machine with the given wire numbering. */
  function run(count: number, rollover: 0 | 1, windowSize = 1, cfgRollover: 0 | 1 | "auto" = "auto") {
    const t = machine({ blockSize: 8, windowSize, rollover: cfgRollover });
    t.recv(encodeOack(new Map([["blksize", "8"], ["windowsize", String(windowSize)]])));
    const wire = (abs: number) => (rollover === 0 || abs <= 65535 ? abs % 65536 : ((abs - 1) % 65535) + 1);
    const sentAcks: number[] = [];
    let sum = 0;
    for (let abs = 1; abs <= count; abs++) {
      const r = t.recv(encodeData(wire(abs), new Uint8Array(abs === count ? 1 : 8).fill(abs & 0xff)));
      for (const b of r.data) sum += b;
      sentAcks.push(...acks(r));
    }
    return { t, sentAcks, sum };
  }
  const expectedSum = (count: number) => {
    let s = 0;
    for (let abs = 1; abs <= count; abs++) s += (abs & 0xff) * (abs === count ? 1 : 8);
    return s;
  };

  test("lockstep past 65535 with rollover 0", () => {
    const { t, sentAcks, sum } = run(70000, 0);
    expect(t.m.outcome).toMatchObject({ ok: true, bytes: 69999 * 8 + 1 });
    expect(sentAcks.slice(65534, 65538)).toEqual([65535, 0, 1, 2]);
    expect(sum).toBe(expectedSum(70000));
  });

  test("lockstep past 65535 with rollover 1 is learned from the wire", () => {
    const { t, sentAcks, sum } = run(70000, 1);
    expect(t.m.outcome).toMatchObject({ ok: true });
    expect(sentAcks.slice(65534, 65537)).toEqual([65535, 1, 2]);
    expect(sum).toBe(expectedSum(70000));
  });

  test("windowed past 65535 (rollover 0 assumed)", () => {
    const { t, sentAcks, sum } = run(140000, 0, 16);
    expect(t.m.outcome).toMatchObject({ ok: true, bytes: 139999 * 8 + 1 });
    expect(sentAcks).toContain(0); // 65536 is a multiple of 16: the window ending there ACKs wire 0
    expect(sum).toBe(expectedSum(140000));
  });

  test("windowed with rollover 1 given explicitly", () => {
    const { t, sum } = run(70000, 1, 16, 1);
    expect(t.m.outcome).toMatchObject({ ok: true });
    expect(sum).toBe(expectedSum(70000));
  });

  test("a duplicate from just before the wrap is a duplicate, not a jump ahead", () => {
    const t = machine({ blockSize: 8 });
    t.recv(encodeOack(new Map([["blksize", "8"]])));
    for (let abs = 1; abs <= 65537; abs++) t.recv(encodeData(abs % 65536, new Uint8Array(8)));
    const r = t.recv(encodeData(65535, new Uint8Array(8)));
    expect(r.data).toHaveLength(0);
    expect(t.m.stats.duplicates).toBe(1);
  });
});

describe("netascii", () => {
  test("CR LF and CR NUL are decoded, also across a block boundary", () => {
    const t = machine({ mode: "netascii", blockSize: 8 });
    t.recv(encodeOack(new Map([["blksize", "8"]])));
    const wire = new TextEncoder().encode("ab\r\ncd\r"); // 7 bytes + CR pending
    const first = new Uint8Array(8);
    first.set(wire);
    first[7] = 13; // a CR at the end of the block, its LF starts the next one
    const a = t.recv(encodeData(1, first));
    const b = t.recv(encodeData(2, Uint8Array.of(10, 120, 13, 0, 121, 13)));
    const text = new TextDecoder().decode(Uint8Array.from([...a.data, ...b.data]));
    expect(text).toBe("ab\ncd\r\nx\ry\r");
    expect(b.done).toMatchObject({ ok: true, bytes: text.length });
    expect(t.m.stats.wireBytes).toBe(14);
  });

  test("the RRQ names netascii as the mode", () => {
    const { start } = machine({ mode: "netascii" });
    expect(start.sent[0]!.packet).toMatchObject({ mode: "netascii" });
  });
});

describe("cancel", () => {
  test("tells the server and reports the reason", () => {
    const t = machine();
    t.recv(block(1, 512));
    const r = t.cancel("interrupted");
    expect(r.sent[0]!.packet).toMatchObject({ op: Opcode.ERROR, code: ErrorCode.NOT_DEFINED });
    expect(r.done).toMatchObject({ ok: false, reason: "interrupted" });
  });

  test("before the server answered there is no TID to tell: it just ends", () => {
    const t = machine();
    const r = t.cancel("interrupted");
    expect(r.sent).toHaveLength(0);
    expect(r.done).toMatchObject({ ok: false, kind: "protocol", reason: "interrupted" });
    expect(t.m.deadline).toBe(Infinity);
  });
});
