/**
 * The shared transfer socket's I/O loop with a fake socket and a hand-run scheduler: which
 * transfer a datagram goes to, what strangers get, one sendMany per turn, and what happens to
 * datagrams the socket would not take.
 */
import { describe, expect, test } from "bun:test";
import { decodePacket, encodeAck } from "../../src/protocol/packet.ts";
import { ErrorCode, Opcode } from "../../src/protocol/types.ts";
import { RECENT_MS, sharedTurn, TransferPort, type DatagramSocket, type PortScheduler, type PortTenant } from "../../src/server/io/transfer-port.ts";
import { TokenBuckets } from "../../src/server/admission/token-buckets.ts";

type Sent = { data: Uint8Array; port: number; address: string };

class FakeSocket implements DatagramSocket {
  readonly port = 40000;
  calls: Sent[][] = [];
  /** How many datagrams each next sendMany takes (undefined: all); "throw" throws. */
  accept: (number | "throw")[] = [];
  closed = false;
  sendMany(flat: readonly (Uint8Array | number | string)[]): number {
    const rule = this.accept.shift();
    if (rule === "throw") throw new Error("EHOSTUNREACH");
    const n = Math.min(flat.length / 3, rule ?? Infinity);
    const call: Sent[] = [];
    for (let i = 0; i < n; i++) call.push({ data: flat[3 * i] as Uint8Array, port: flat[3 * i + 1] as number, address: flat[3 * i + 2] as string });
    this.calls.push(call);
    return n;
  }
  close(): void {
    this.closed = true;
  }
  get all(): Sent[] {
    return this.calls.flat();
  }
}

class ManualScheduler implements PortScheduler {
  t = 0;
  private soonQ: (() => void)[] = [];
  private laterQ: { at: number; fn: () => void; live: boolean }[] = [];
  soon(fn: () => void): void {
    this.soonQ.push(fn);
  }
  later(fn: () => void, ms: number): () => void {
    const e = { at: this.t + ms, fn, live: true };
    this.laterQ.push(e);
    return () => (e.live = false);
  }
  now(): number {
    return this.t;
  }
  /** The end of the event-loop turn. */
  endTurn(): void {
    const q = this.soonQ;
    this.soonQ = [];
    for (const fn of q) fn();
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.laterQ.filter((e) => e.live && e.at <= this.t);
    this.laterQ = this.laterQ.filter((e) => !due.includes(e));
    for (const e of due) e.fn();
  }
}

/** A tenant that records what it is told, and sends what a test tells it to on its next datagram. */
class Tenant implements PortTenant {
  got: Uint8Array[] = [];
  unsent = 0;
  writable = 0;
  constructor(readonly peer: { address: string; port: number }) {}
  onDatagram(data: Uint8Array): void {
    this.got.push(data);
  }
  onUnsent(count: number): void {
    this.unsent += count;
  }
  onWritable(): void {
    this.writable++;
  }
}

const packet = (tag: number) => new Uint8Array([0, Opcode.DATA, 0, tag]);

function setup() {
  const socket = new FakeSocket();
  const clock = new ManualScheduler();
  const port = new TransferPort(socket, clock);
  return { socket, clock, port };
}

describe("demultiplexing", () => {
  test("a datagram goes to the transfer of the client address and port that sent it", () => {
    const { port } = setup();
    const a = new Tenant({ address: "10.0.0.1", port: 2000 });
    const b = new Tenant({ address: "10.0.0.2", port: 2000 }); // same client port, other host
    const c = new Tenant({ address: "10.0.0.1", port: 2001 });
    for (const t of [a, b, c]) port.attach(t);
    expect(port.size).toBe(3);
    port.receive(encodeAck(1), 2000, "10.0.0.2");
    port.receive(encodeAck(2), 2001, "10.0.0.1");
    port.receive(encodeAck(3), 2000, "10.0.0.1");
    expect([a.got.length, b.got.length, c.got.length]).toEqual([1, 1, 1]);
    expect(decodePacket(b.got[0]!)).toMatchObject({ op: Opcode.ACK, block: 1 });
    expect(decodePacket(a.got[0]!)).toMatchObject({ op: Opcode.ACK, block: 3 });
  });

  test("a stranger's ACK or DATA gets ERROR 5; other junk from strangers gets nothing", () => {
    const { port, socket, clock } = setup();
    port.attach(new Tenant({ address: "10.0.0.1", port: 2000 }));
    port.receive(encodeAck(1), 2000, "10.0.0.9");
    port.receive(new Uint8Array([0, Opcode.DATA, 0, 1, 42]), 3000, "10.0.0.1");
    port.receive(new Uint8Array([0, Opcode.ERROR, 0, 0, 0]), 3001, "10.0.0.1"); // never an ERROR for an ERROR
    port.receive(new Uint8Array([1]), 3002, "10.0.0.1");
    port.receive(new Uint8Array([0, Opcode.RRQ, 0x61, 0, 0x6f, 0]), 3003, "10.0.0.1");
    clock.endTurn();
    expect(socket.all.map((s) => [s.address, s.port])).toEqual([
      ["10.0.0.9", 2000],
      ["10.0.0.1", 3000],
    ]);
    for (const s of socket.all) expect(decodePacket(s.data)).toMatchObject({ op: Opcode.ERROR, code: ErrorCode.UNKNOWN_TID });
  });

  test("ERROR 5 to strangers comes from one budget shared by the sockets: ACKs sprayed at a pool are not reflected", () => {
    const clock = new ManualScheduler();
    const limiter = new TokenBuckets(5, 5, 1);
    const budget = { allow: (now: number) => limiter.allow("", now) };
    const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
    const ports = sockets.map((s) => new TransferPort(s, clock, budget));
    // A spoofer sprays ACK n, from a victim's address, at every socket of the pool.
    for (let n = 0; n < 20; n++) for (const p of ports) p.receive(encodeAck(n), 4000, "10.0.0.66");
    clock.endTurn();
    expect(sockets.reduce((sum, s) => sum + s.all.length, 0)).toBe(5);
    clock.advance(1000);
    for (const p of ports) p.receive(encodeAck(99), 4000, "10.0.0.66");
    clock.endTurn();
    expect(sockets.reduce((sum, s) => sum + s.all.length, 0)).toBe(8);
  });

  test("a shared turn: sockets that queued during a turn flush from one deferred call, each its own sendMany", () => {
    const clock = new ManualScheduler();
    let deferred = 0;
    const counting: PortScheduler = { soon: (fn) => (deferred++, clock.soon(fn)), later: (fn, ms) => clock.later(fn, ms), now: () => clock.now() };
    const turn = sharedTurn(counting);
    const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
    const ports = sockets.map((s) => new TransferPort(s, turn));
    const tenants = ports.map((p, i) => {
      const t = new Tenant({ address: "10.0.0.1", port: 2000 + i });
      p.attach(t);
      return t;
    });
    ports.forEach((p, i) => (p.queue(tenants[i]!, packet(i), 2000 + i, "10.0.0.1"), p.queue(tenants[i]!, packet(10 + i), 2000 + i, "10.0.0.1")));
    expect(deferred).toBe(1);
    clock.endTurn();
    expect(sockets.map((s) => s.calls.length)).toEqual([1, 1, 1]);
    expect(sockets.map((s) => s.all.length)).toEqual([2, 2, 2]);
    ports[0]!.queue(tenants[0]!, packet(7), 2000, "10.0.0.1");
    expect(deferred).toBe(2);
  });

  test("a finished transfer's client is not a stranger for a while: its late duplicates are dropped silently", () => {
    const { port, socket, clock } = setup();
    const t = new Tenant({ address: "10.0.0.1", port: 2000 });
    port.attach(t);
    port.detach(t);
    expect(port.size).toBe(0);
    expect(port.knows("10.0.0.1", 2000)).toBe(true);
    port.receive(encodeAck(7), 2000, "10.0.0.1");
    clock.endTurn();
    expect(socket.all).toEqual([]);
    expect(t.got).toEqual([]);
    clock.advance(RECENT_MS + 1);
    expect(port.knows("10.0.0.1", 2000)).toBe(false);
    port.receive(encodeAck(7), 2000, "10.0.0.1");
    clock.endTurn();
    expect(socket.all.length).toBe(1); // a stranger again: ERROR 5
  });

  test("attaching the same client endpoint again replaces the old tenant; the old one's detach changes nothing", () => {
    const { port } = setup();
    const old = new Tenant({ address: "10.0.0.1", port: 2000 });
    const fresh = new Tenant({ address: "10.0.0.1", port: 2000 });
    port.attach(old);
    port.attach(fresh);
    expect(port.size).toBe(1);
    port.detach(old);
    expect(port.size).toBe(1);
    port.receive(encodeAck(1), 2000, "10.0.0.1");
    expect(fresh.got.length).toBe(1);
    expect(old.got.length).toBe(0);
  });
});

describe("batching", () => {
  test("everything queued during a turn leaves in one sendMany, in order", () => {
    const { port, socket, clock } = setup();
    const tenants = Array.from({ length: 50 }, (_, i) => new Tenant({ address: "10.0.0.1", port: 3000 + i }));
    for (const t of tenants) port.attach(t);
    for (const [i, t] of tenants.entries()) port.queue(t, packet(i), t.peer.port, t.peer.address);
    expect(socket.calls.length).toBe(0);
    clock.endTurn();
    expect(socket.calls.length).toBe(1);
    expect(socket.calls[0]!.map((s) => s.port)).toEqual(tenants.map((t) => t.peer.port));
    clock.endTurn();
    expect(socket.calls.length).toBe(1); // nothing left, no empty send
  });

  test("a transfer with datagrams still queued gets its next event only after they went out", () => {
    const { port, socket } = setup();
    const buffer = packet(1);
    const t = new Tenant({ address: "10.0.0.1", port: 2000 });
    // The tenant reuses its buffer on every event, as the state machines do.
    t.onDatagram = (data: Uint8Array) => {
      t.got.push(data);
      buffer[3] = data[3]! + 1;
      port.queue(t, buffer, 2000, "10.0.0.1");
    };
    port.attach(t);
    port.receive(encodeAck(1), 2000, "10.0.0.1");
    expect(socket.calls.length).toBe(0);
    port.receive(encodeAck(2), 2000, "10.0.0.1"); // the batch leaves before the buffer is rewritten
    expect(socket.calls.length).toBe(1);
    // The buffer is shared: what was passed to sendMany had block 2 when it was sent.
    expect(socket.calls[0]!.length).toBe(1);
    const other = new Tenant({ address: "10.0.0.2", port: 2000 });
    port.attach(other);
    port.queue(other, packet(9), 2000, "10.0.0.2");
    port.settle(t); // t has datagrams queued: flushed
    expect(socket.calls.length).toBe(2);
    port.settle(other); // nothing queued any more: no send
    expect(socket.calls.length).toBe(2);
  });

  test("a short send: each transfer left behind is told how many, then resumed on drain", () => {
    const { port, socket, clock } = setup();
    const a = new Tenant({ address: "10.0.0.1", port: 2000 });
    const b = new Tenant({ address: "10.0.0.1", port: 2001 });
    const c = new Tenant({ address: "10.0.0.1", port: 2002 });
    for (const t of [a, b, c]) port.attach(t);
    for (let i = 0; i < 3; i++) port.queue(a, packet(i), 2000, "10.0.0.1");
    for (let i = 0; i < 4; i++) port.queue(b, packet(i), 2001, "10.0.0.1");
    port.queue(null, packet(99), 2999, "10.0.0.9"); // a reply: nobody to tell
    for (let i = 0; i < 2; i++) port.queue(c, packet(i), 2002, "10.0.0.1");
    socket.accept = [5];
    clock.endTurn();
    expect(socket.all.length).toBe(5);
    expect([a.unsent, b.unsent, c.unsent]).toEqual([0, 2, 2]);
    expect([a.writable, b.writable, c.writable]).toEqual([0, 0, 0]);
    port.onDrain();
    expect([a.writable, b.writable, c.writable]).toEqual([0, 1, 1]);
    port.onDrain(); // once each
    expect([b.writable, c.writable]).toEqual([1, 1]);
  });

  test("no drain event after a short send: the retry timer resumes the transfers", () => {
    const { port, socket, clock } = setup();
    const a = new Tenant({ address: "10.0.0.1", port: 2000 });
    port.attach(a);
    port.queue(a, packet(1), 2000, "10.0.0.1");
    socket.accept = [0];
    clock.endTurn();
    expect(a.unsent).toBe(1);
    clock.advance(1);
    expect(a.writable).toBe(1);
  });

  test("a send that throws drops the datagram at the head (loss, which TFTP repairs) and sends the rest", () => {
    const { port, socket, clock } = setup();
    const a = new Tenant({ address: "10.0.0.1", port: 2000 });
    port.attach(a);
    for (let i = 0; i < 4; i++) port.queue(a, packet(i), 2000, "10.0.0.1");
    socket.accept = ["throw"];
    clock.endTurn();
    expect(socket.all.map((s) => s.data[3])).toEqual([1, 2, 3]);
    expect(a.unsent).toBe(0);
  });

  test("a detached transfer is not resumed, and close sends what is queued first", () => {
    const { port, socket, clock } = setup();
    const a = new Tenant({ address: "10.0.0.1", port: 2000 });
    port.attach(a);
    port.queue(a, packet(1), 2000, "10.0.0.1");
    socket.accept = [0];
    clock.endTurn();
    port.detach(a);
    port.onDrain();
    expect(a.writable).toBe(0);
    port.queue(null, packet(2), 2000, "10.0.0.1");
    port.close();
    expect(socket.all.map((s) => s.data[3])).toEqual([2]);
    expect(socket.closed).toBe(true);
    port.queue(null, packet(3), 2000, "10.0.0.1");
    clock.endTurn();
    expect(socket.all.length).toBe(1);
  });
});

describe("a quiet port sends at once", () => {
  test("one tenant's answer goes in the same turn's callback; a busy port keeps batching to the end of the turn", () => {
    const sent: number[] = [];
    const socket: DatagramSocket = {
      port: 40000,
      sendMany(flat) {
        sent.push(flat.length / 3);
        return flat.length / 3;
      },
      close() {},
    };
    const pending: (() => void)[] = [];
    const scheduler = { soon: (fn: () => void) => void pending.push(fn), later: () => () => {}, now: () => 0 };
    const port = new TransferPort(socket, scheduler);
    const a = { peer: { address: "10.0.0.1", port: 1 }, onDatagram() {}, onUnsent() {}, onWritable() {} };
    const b = { peer: { address: "10.0.0.2", port: 2 }, onDatagram() {}, onUnsent() {}, onWritable() {} };
    port.attach(a);
    port.attach(b);
    // Quiet: a's DATA leaves at once, before the end of the turn.
    port.queue(a, new Uint8Array(4), 1, "10.0.0.1");
    port.flushIfQuiet();
    expect(sent).toEqual([1]);
    // b in the same turn: it waits for the turn's end, and that batch (one tenant) keeps the port quiet.
    port.queue(b, new Uint8Array(4), 2, "10.0.0.2");
    port.flushIfQuiet();
    expect(sent).toEqual([1]);
    pending.splice(0).forEach((fn) => fn());
    expect(sent).toEqual([1, 1]);
    // A turn where both tenants queue before the port flushes: that batch makes the port busy.
    port.queue(a, new Uint8Array(4), 1, "10.0.0.1");
    port.queue(b, new Uint8Array(4), 2, "10.0.0.2");
    pending.splice(0).forEach((fn) => fn());
    expect(sent).toEqual([1, 1, 2]);
    port.queue(a, new Uint8Array(4), 1, "10.0.0.1");
    port.flushIfQuiet();
    expect(sent).toEqual([1, 1, 2]); // busy: batched to the end of the turn
    pending.splice(0).forEach((fn) => fn());
    expect(sent).toEqual([1, 1, 2, 1]);
  });
});
