/**
 * The server's side of a write (an upload): the same receive machine as a client's read, opened
 * with OACK or ACK 0 for a peer known from the start. Hand-made packets, a fake clock and a sink
 * whose back-pressure and storing the test controls: no sockets, no files.
 */
import { describe, expect, test } from "bun:test";
import { diskFull, shuttingDown, writeError } from "../../src/protocol/errors.ts";
import { PLAIN_GRANT } from "../../src/protocol/options.ts";
import { decodePacket, encodeAck, encodeData, encodeError, encodeOack } from "../../src/protocol/packet.ts";
import { ErrorCode, Opcode, type Packet } from "../../src/protocol/types.ts";
import { ReceiveTransfer, type ReceiveOutcome, type WriteConfig } from "../../src/transfer/receive.ts";
import type { ChunkSink, Peer } from "../../src/transfer/types.ts";

const CLIENT: Peer = { address: "192.168.0.11", port: 2070 };
const STRANGER: Peer = { address: "192.168.0.11", port: 2071 };

/** A sink the test steers: `behind` makes write say false, `storing` makes end say false. */
class TestSink implements ChunkSink {
  bytes: number[] = [];
  behind = false;
  storing = false;
  failure: Error | undefined;
  ended = 0;
  onReady?: () => void;
  write(chunk: Uint8Array): boolean {
    if (this.failure) throw this.failure;
    this.bytes.push(...chunk);
    return !this.behind;
  }
  ready(): boolean {
    if (this.failure) throw this.failure;
    return !this.behind;
  }
  end(): boolean {
    if (this.failure) throw this.failure;
    this.ended++;
    return !this.storing;
  }
}

interface Seen {
  sent: Packet[];
  reply?: Packet;
  done?: ReceiveOutcome;
}

function upload(extra: Partial<WriteConfig> = {}) {
  const sink = new TestSink();
  const m = new ReceiveTransfer({ client: CLIENT, mode: "octet", granted: { ...PLAIN_GRANT }, timeoutMs: 1000, retries: 3, ...extra }, sink);
  let now = 0;
  let ended = false;
  const seen = (reply: Uint8Array | null = null): Seen => {
    const s: Seen = { sent: m.outbox.map((d) => decodePacket(d) as Packet) };
    m.outbox.length = 0;
    if (reply) s.reply = decodePacket(reply) as Packet;
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
    sink,
    start,
    at: (t: number) => (now = t),
    recv: (datagram: Uint8Array, from: Peer = CLIENT) => seen(m.onDatagram(datagram, from.port, from.address, now)),
    tick: (t: number) => {
      m.onTimer((now = t));
      return seen();
    },
    resume: () => {
      m.resume(now);
      return seen();
    },
  };
}

const acks = (s: Seen) => s.sent.filter((p) => p.op === Opcode.ACK).map((p) => (p as { block: number }).block);
const block = (n: number, len: number, fill = n & 0xff) => encodeData(n & 0xffff, new Uint8Array(len).fill(fill));

describe("opening", () => {
  test("without options ACK 0 accepts the WRQ, and goes again until DATA 1 comes", () => {
    const t = upload();
    expect(acks(t.start)).toEqual([0]);
    expect(acks(t.tick(1000))).toEqual([0]);
    expect(t.m.stats.requestRetries).toBe(1);
    const a = t.recv(block(1, 512));
    expect(acks(a)).toEqual([1]);
    expect(acks(t.recv(block(2, 3)))).toEqual([2]);
    expect(t.m.outcome).toEqual({ ok: true, bytes: 515, tsize: undefined, probe: false });
    expect(t.sink.bytes).toHaveLength(515);
  });

  test("with options the OACK accepts it, and is what a timeout repeats (never ACK 0)", () => {
    const oack = encodeOack(new Map([["blksize", "1024"], ["tsize", "1030"]]));
    const t = upload({ oack, granted: { blockSize: 1024, windowSize: 1, tsize: 1030 } });
    expect(t.start.sent).toEqual([{ op: Opcode.OACK, options: new Map([["blksize", "1024"], ["tsize", "1030"]]) }]);
    expect(t.tick(1000).sent[0]!.op).toBe(Opcode.OACK);
    expect(acks(t.recv(block(1, 1024)))).toEqual([1]);
    const end = t.recv(block(2, 6));
    expect(acks(end)).toEqual([2]);
    expect(end.done).toEqual({ ok: true, bytes: 1030, tsize: 1030, probe: false });
  });

  test("a client that never sends DATA: the opening is retried, then it times out", () => {
    const t = upload({ retries: 2, timeoutMaxMs: 4000 });
    t.tick(1000);
    t.tick(3000);
    expect(t.tick(7000).done).toMatchObject({ ok: false, kind: "timeout", reason: "timed out: no DATA after block 0" });
  });

  test("the announced tsize is not enforced: a netascii client counts its own disk's bytes", () => {
    const t = upload({ granted: { ...PLAIN_GRANT, tsize: 99 } });
    expect(t.recv(block(1, 10)).done).toMatchObject({ ok: true, bytes: 10, tsize: 99 });
  });

  test("an OACK from the client is not TFTP: ERROR 4", () => {
    const t = upload();
    const r = t.recv(encodeOack(new Map([["blksize", "512"]])));
    expect(r.sent[0]).toMatchObject({ op: Opcode.ERROR, code: ErrorCode.ILLEGAL_OPERATION });
    expect(r.done).toMatchObject({ ok: false, kind: "protocol" });
  });
});

describe("the peer", () => {
  test("a stranger gets ERROR 5 and changes nothing; the client's ERROR ends it", () => {
    const t = upload();
    const r = t.recv(block(1, 512), STRANGER);
    expect(r.reply).toMatchObject({ op: Opcode.ERROR, code: ErrorCode.UNKNOWN_TID });
    expect(t.sink.bytes).toHaveLength(0);
    const e = t.recv(encodeError(0, "user abort"));
    expect(e.sent).toEqual([]);
    expect(e.done).toEqual({ ok: false, kind: "remote", code: 0, reason: "user abort" });
  });

  test("after the final ACK, a repeat of the last DATA is ACKed again (the dally)", () => {
    const t = upload();
    t.recv(block(1, 3));
    expect(acks(t.recv(block(1, 3)))).toEqual([1]);
    expect(t.sink.ended).toBe(1);
  });

  test("cancel (server shutdown) tells the client", () => {
    const t = upload();
    t.recv(block(1, 512));
    t.m.cancel(shuttingDown(), "server shutting down");
    expect(t.m.outbox.map((d) => decodePacket(d))).toEqual([{ op: Opcode.ERROR, code: 0, message: "Server shutting down" }]);
  });
});

describe("windows", () => {
  test("windowsize 4: one ACK per window, a gap asks for a resend from it", () => {
    const t = upload({ granted: { blockSize: 512, windowSize: 4 } });
    expect(acks(t.recv(block(1, 512)))).toEqual([]);
    expect(acks(t.recv(block(2, 512)))).toEqual([]);
    expect(acks(t.recv(block(4, 512)))).toEqual([2]); // 3 was lost
    expect(acks(t.recv(block(3, 512)))).toEqual([]);
    t.recv(block(4, 512));
    t.recv(block(5, 512));
    expect(acks(t.recv(block(6, 512)))).toEqual([6]);
  });

  test("block numbers roll over to 0 after 65535 in lockstep", () => {
    const t = upload({ granted: { blockSize: 8, windowSize: 1 } });
    for (let n = 1; n <= 65535; n++) t.recv(block(n, 8, 1));
    expect(acks(t.recv(block(0, 8, 2)))).toEqual([0]);
    expect(t.recv(block(1, 2, 3)).done).toMatchObject({ ok: true, bytes: 65536 * 8 + 2 });
  });
});

describe("the sink", () => {
  test("behind: the ACK that would bring more waits, duplicates get none, resume sends it", () => {
    const t = upload({ granted: { blockSize: 512, windowSize: 2 } });
    t.recv(block(1, 512));
    t.sink.behind = true;
    expect(acks(t.recv(block(2, 512)))).toEqual([]); // end of the window, but the disk is behind
    expect(acks(t.recv(block(2, 512)))).toEqual([]); // the client's retransmission: still held
    expect(t.m.stats.timeouts).toBe(0);
    // A spurious wake-up while still behind changes nothing.
    expect(acks(t.resume())).toEqual([]);
    t.sink.behind = false;
    expect(acks(t.resume())).toEqual([2]);
    t.recv(block(3, 512));
    expect(t.recv(block(4, 0)).done).toMatchObject({ ok: true, bytes: 1536 });
  });

  test("behind too long: the transfer ends as a stalled write, no retry counted", () => {
    const t = upload({ retries: 2 });
    t.sink.behind = true;
    t.recv(block(1, 512));
    expect(acks(t.tick(1000))).toEqual([]);
    expect(t.m.stats.timeouts).toBe(0);
    expect(t.tick(3000).done).toMatchObject({ ok: false, kind: "timeout", reason: "file write stalled (slow disk or NFS server?)" });
  });

  test("the final ACK waits until the file is stored", () => {
    const t = upload();
    t.sink.storing = true;
    t.recv(block(1, 512));
    const last = t.recv(block(2, 100));
    expect(last.sent).toEqual([]);
    expect(t.m.outcome).toBeUndefined();
    expect(acks(t.recv(block(2, 100)))).toEqual([]); // the client asks again: not stored yet
    expect(acks(t.tick(1000))).toEqual([]);
    t.sink.storing = false;
    const stored = t.resume();
    expect(acks(stored)).toEqual([2]);
    expect(stored.done).toMatchObject({ ok: true, bytes: 612 });
  });

  test("storing fails: the client gets the sink's ERROR instead of the final ACK", () => {
    const t = upload();
    t.sink.storing = true;
    t.recv(block(1, 5));
    t.sink.failure = diskFull("ENOSPC");
    const r = t.resume();
    expect(r.sent).toEqual([{ op: Opcode.ERROR, code: ErrorCode.DISK_FULL, message: "Disk full or allocation exceeded" }]);
    expect(r.done).toMatchObject({ ok: false, kind: "protocol", code: 3, reason: "Disk full or allocation exceeded (ENOSPC)" });
  });

  test("a write that throws ends the transfer with its error; anything else is a Write error", () => {
    const t = upload();
    t.sink.failure = writeError("EIO");
    expect(t.recv(block(1, 512)).sent[0]).toMatchObject({ op: Opcode.ERROR, code: 0, message: "Write error" });
    const u = upload();
    u.sink.failure = new Error("boom");
    expect(u.recv(block(1, 512)).done).toMatchObject({ ok: false, code: 0, reason: "Write error (Error: boom)" });
  });
});

describe("size cap", () => {
  test("one byte past maxBytes is ERROR 3, and nothing past the cap reaches the sink", () => {
    const t = upload({ maxBytes: 1000 });
    t.recv(block(1, 512));
    const r = t.recv(block(2, 512));
    expect(r.sent).toEqual([{ op: Opcode.ERROR, code: ErrorCode.DISK_FULL, message: "Disk full or allocation exceeded" }]);
    expect(r.done).toMatchObject({ ok: false, code: 3 });
    expect(t.sink.bytes).toHaveLength(512);
  });

  test("exactly maxBytes is fine", () => {
    const t = upload({ maxBytes: 1000 });
    t.recv(block(1, 512));
    expect(t.recv(block(2, 488)).done).toMatchObject({ ok: true, bytes: 1000 });
  });

  test("netascii is counted as stored (CR LF is one byte on disk)", () => {
    const t = upload({ mode: "netascii", maxBytes: 4 });
    const r = t.recv(encodeData(1, new TextEncoder().encode("ab\r\nc")));
    expect(r.done).toMatchObject({ ok: true, bytes: 4 });
    expect(new TextDecoder().decode(Uint8Array.from(t.sink.bytes))).toBe("ab\nc");
  });
});

describe("netascii", () => {
  test("CR LF becomes LF and CR NUL a CR, across block boundaries", () => {
    const t = upload({ mode: "netascii", granted: { blockSize: 8, windowSize: 1 } });
    t.recv(encodeData(1, new TextEncoder().encode("line1\r\nx")));
    t.recv(encodeData(2, new TextEncoder().encode("a\r\0bcde\r")));
    t.recv(encodeData(3, Uint8Array.of(10)));
    expect(new TextDecoder().decode(Uint8Array.from(t.sink.bytes))).toBe("line1\nxa\rbcde\n");
    expect(t.m.outcome).toMatchObject({ ok: true });
  });
});

test("an ACK from the client is not TFTP on a write: ERROR 4", () => {
  const t = upload();
  expect(t.recv(encodeAck(0)).done).toMatchObject({ ok: false, code: ErrorCode.ILLEGAL_OPERATION });
});
