/** The sending state machine, driven without sockets by hand-made ACKs and a fake clock. */
import { describe, expect, test } from "bun:test";
import { notFound, shuttingDown, UNKNOWN_TID_PACKET } from "../../src/protocol/errors.ts";
import { encodeAck, encodeError, encodeOack } from "../../src/protocol/packet.ts";
import { ErrorCode, type TransferOptions } from "../../src/protocol/types.ts";
import { SharedRtoFloor } from "../../src/transfer/rto.ts";
import { GO_BACK_SPACING_MS, SendTransfer, type SendConfig } from "../../src/transfer/send.ts";
import type { BlockSource, Peer } from "../../src/transfer/types.ts";

const CLIENT: Peer = { address: "10.0.0.7", port: 2070 };

function fileOf(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/** The file already in memory: every read succeeds at once. */
function bytesSource(bytes: Uint8Array): BlockSource {
  return {
    size: bytes.length,
    read(into, offset, position, length) {
      into.set(bytes.subarray(position, position + length), offset);
      return true;
    },
  };
}

const baseConfig = (options: TransferOptions): SendConfig => ({
  peer: CLIENT,
  options,
  probeable: false,
  rto: { initialMs: 1000, minMs: 20, maxMs: 5000 },
  retries: 3,
  giveUpMs: 3000,
});

function make(size: number, opt: Partial<TransferOptions> = {}, extra: Partial<SendConfig> = {}) {
  const options: TransferOptions = { blockSize: 512, windowSize: 1, rollover: 0, ...opt };
  const file = fileOf(size);
  const t = new SendTransfer({ ...baseConfig(options), ...extra }, bytesSource(file));
  return { t, file };
}

/** Drains the outbox as [wireBlock, payloadLength] pairs ([-1, opcode] for non-DATA packets). */
function drain(t: SendTransfer): [number, number][] {
  const out = t.outbox.map((p): [number, number] => (p[1] === 3 ? [(p[2]! << 8) | p[3]!, p.length - 4] : [-1, p[1]!]));
  t.outbox.length = 0;
  return out;
}

describe("lockstep (RFC 1350): one block, one ACK", () => {
  test("sends DATA 1 at once without options and finishes on the last ACK", () => {
    const { t } = make(1000);
    t.start(0);
    expect(drain(t)).toEqual([[1, 512]]);
    t.onAck(1, 1);
    expect(drain(t)).toEqual([[2, 488]]);
    t.onAck(2, 2);
    expect(t.outcome).toEqual({ kind: "ok" });
    expect(t.bytesAcked).toBe(1000);
  });

  test("a file that is a multiple of the block size ends with an empty block", () => {
    const { t } = make(1024);
    t.start(0);
    drain(t);
    t.onAck(1, 0);
    expect(drain(t)).toEqual([[2, 512]]); // the driver drains after every call: slots are reused
    t.onAck(2, 0);
    expect(drain(t)).toEqual([[3, 0]]);
    t.onAck(3, 0);
    expect(t.outcome?.kind).toBe("ok");
  });

  test("empty file: one empty DATA block", () => {
    const { t } = make(0);
    t.start(0);
    expect(drain(t)).toEqual([[1, 0]]);
    t.onAck(1, 0);
    expect(t.outcome?.kind).toBe("ok");
  });

  test("duplicate ACKs never trigger a resend (Sorcerer's Apprentice)", () => {
    const { t } = make(5000);
    t.start(0);
    drain(t);
    t.onAck(1, 1);
    expect(drain(t)).toEqual([[2, 512]]);
    for (let i = 0; i < 5; i++) t.onAck(1, 2 + i);
    expect(drain(t)).toEqual([]);
    expect(t.retransmits).toBe(0);
  });

  test("a lost DATA is resent on the timer, with backoff, and the RTO is learned", () => {
    const { t } = make(5000);
    t.start(0);
    drain(t);
    t.onAck(1, 10); // RTT sample of 10 ms
    drain(t);
    expect(t.rtoMs).toBeLessThan(1000);
    const rto = t.rtoMs;
    t.onTimer(10 + rto - 1);
    expect(drain(t)).toEqual([]);
    t.onTimer(10 + rto);
    expect(drain(t)).toEqual([[2, 512]]);
    expect(t.retransmits).toBe(1);
    expect(t.rtoMs).toBe(rto * 2);
  });

  test("gives up after the retries and the minimum idle time, with outcome timeout", () => {
    const { t } = make(5000);
    t.start(0);
    drain(t);
    let now = 0;
    for (let i = 0; i < 50 && t.outcome === undefined; i++) {
      now = t.deadline;
      t.onTimer(now);
      drain(t);
    }
    expect(t.outcome?.kind).toBe("timeout");
    expect(now).toBeGreaterThanOrEqual(3000);
  });

  test("ACK with a block number from outside the window is ignored", () => {
    const { t } = make(5000);
    t.start(0);
    drain(t);
    t.onAck(7, 1);
    t.onAck(65535, 1);
    expect(drain(t)).toEqual([]);
    expect(t.bytesAcked).toBe(0);
  });
});

describe("options: the OACK first, and the PXE size probe", () => {
  const oack = encodeOack(new Map([["tsize", "5000"]]));

  test("OACK first, data after ACK 0", () => {
    const { t } = make(5000, {}, { oack });
    t.start(0);
    expect(drain(t)).toEqual([[-1, 6]]);
    t.onAck(1, 1); // not for the OACK
    expect(drain(t)).toEqual([]);
    t.onAck(0, 1);
    expect(drain(t)).toEqual([[1, 512]]);
  });

  test("OACK is retransmitted on timeout", () => {
    const { t } = make(5000, {}, { oack });
    t.start(0);
    drain(t);
    t.onTimer(t.deadline);
    expect(drain(t)).toEqual([[-1, 6]]);
  });

  test("ERROR 8 on the OACK is a probe when tsize was asked", () => {
    const { t } = make(5000, {}, { oack, probeable: true });
    t.start(0);
    t.onError(ErrorCode.OPTION_REFUSED, "tsize only");
    expect(t.outcome).toEqual({ kind: "probe" });
  });

  test("ERROR 0 on the OACK is a probe too (some ROMs), but not without tsize", () => {
    const a = make(5000, {}, { oack, probeable: true }).t;
    a.start(0);
    a.onError(ErrorCode.NOT_DEFINED, "");
    expect(a.outcome?.kind).toBe("probe");
    const b = make(5000, {}, { oack, probeable: false }).t;
    b.start(0);
    b.onError(ErrorCode.NOT_DEFINED, "");
    expect(b.outcome?.kind).toBe("error");
  });

  test("ERROR during data is an error with the client's message", () => {
    const { t } = make(5000, {}, { oack, probeable: true });
    t.start(0);
    t.onAck(0, 0);
    t.onError(ErrorCode.DISK_FULL, "disk full");
    expect(t.outcome?.kind).toBe("error");
    expect(t.outcome?.reason).toContain("disk full");
  });
});

describe("windows (RFC 7440): bursts, go-back and pacing", () => {
  test("a window is sent as one burst; the full ACK moves it", () => {
    const { t } = make(512 * 10 + 1, { windowSize: 4 });
    t.start(0);
    expect(drain(t).map((x) => x[0])).toEqual([1, 2, 3, 4]);
    t.onAck(4, 1);
    expect(drain(t).map((x) => x[0])).toEqual([5, 6, 7, 8]);
  });

  test("a partial ACK slides the window back to the first missing block", () => {
    const { t } = make(512 * 10 + 1, { windowSize: 4 });
    t.start(0);
    drain(t);
    t.onAck(2, 1); // block 3 lost; client ACKs the last in-order block
    expect(drain(t).map((x) => x[0])).toEqual([3, 4, 5, 6]);
    expect(t.retransmits).toBe(2);
  });

  test("partial ACKs one after another (a blind spoofer's 1, 2, 3, …) draw two blocks per ACK, not a window each", () => {
    const window = 16;
    const { t } = make(512 * 4000, { windowSize: window });
    t.start(0);
    drain(t);
    let sent = 0;
    const acks = 200;
    // An ACK every 2 ms for the next block, never for a window's end: what a spoofer can compute.
    for (let k = 1; k <= acks; k++) {
      t.onAck(k, k * 2);
      sent += drain(t).length;
      while (t.deadline <= k * 2 + 1) {
        t.onTimer(t.deadline);
        sent += drain(t).length;
      }
    }
    // Without the rule each ACK resent the whole window: 16 per ACK. With it, a window per
    // GO_BACK_SPACING_MS (10 ACKs here) and one new block per ACK.
    expect(sent / acks).toBeLessThanOrEqual(1 + window / (GO_BACK_SPACING_MS / 2) + 0.2);
    expect(t.bytesAcked).toBe(acks * 512);
  });

  test("a second loss inside the resent blocks: the next go-back comes GO_BACK_SPACING_MS after the first, not a timeout later", () => {
    const { t } = make(512 * 400, { windowSize: 8 });
    t.start(0);
    drain(t);
    t.onAck(8, 10);
    drain(t); // 9..16 out at 10
    t.onAck(10, 20); // 11 lost: go back
    expect(drain(t).map((x) => x[0])).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
    // 13 lost again: the ACK for 12 slides the window and books the next go-back.
    t.onAck(12, 21);
    expect(drain(t).map((x) => x[0])).toEqual([19, 20]);
    t.onAck(12, 22);
    expect(drain(t)).toEqual([]); // a duplicate never resends
    expect(t.deadline).toBe(20 + GO_BACK_SPACING_MS);
    t.onTimer(t.deadline);
    expect(drain(t).map((x) => x[0])).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
    expect(t.bytesAcked).toBe(12 * 512);
  });

  test("a window's full ACK after a go-back ends it: the next partial ACK goes back at once", () => {
    const { t } = make(512 * 400, { windowSize: 4 });
    t.start(0);
    drain(t);
    t.onAck(2, 1); // go back: 3..6
    expect(drain(t).map((x) => x[0])).toEqual([3, 4, 5, 6]);
    t.onAck(6, 2); // the resent window arrived whole
    expect(drain(t).map((x) => x[0])).toEqual([7, 8, 9, 10]);
    t.onAck(8, 3); // 9 lost
    expect(drain(t).map((x) => x[0])).toEqual([9, 10, 11, 12]);
  });

  test("duplicate ACK of the window start does not resend", () => {
    const { t } = make(512 * 10 + 1, { windowSize: 4 });
    t.start(0);
    drain(t);
    t.onAck(4, 1);
    drain(t);
    t.onAck(4, 2);
    t.onAck(4, 3);
    expect(drain(t)).toEqual([]);
  });

  test("timeout goes back to the acked block and halves the burst (AIMD), pacing the rest", () => {
    const { t } = make(512 * 40, { windowSize: 8 });
    t.start(0);
    expect(drain(t).length).toBe(8);
    t.onTimer(t.deadline);
    const burst = drain(t).map((x) => x[0]);
    expect(burst).toEqual([1, 2, 3, 4]);
    expect(t.congestionWindow).toBe(4);
    // The rest of the window follows after the pacing interval, so the client still gets a full window.
    const before = t.deadline;
    t.onTimer(before);
    expect(drain(t).map((x) => x[0])).toEqual([5, 6, 7, 8]);
    // Full windows acknowledged grow the burst back, one block per window.
    t.onAck(8, before + 1);
    expect(t.congestionWindow).toBe(5);
  });

  test("a late ACK from an earlier round after a go-back is still progress", () => {
    const { t } = make(512 * 40, { windowSize: 4 });
    t.start(0);
    drain(t);
    t.onTimer(t.deadline); // go back: resend from 1 (cwnd now 2)
    drain(t);
    t.onAck(4, t.deadline - 1); // the original window's ACK arrives late
    expect(t.bytesAcked).toBe(4 * 512);
    expect(drain(t)[0]![0]).toBe(5);
  });

  test("short send: unsent packets are taken back and resent on resume", () => {
    const { t } = make(512 * 10 + 1, { windowSize: 4 });
    t.start(0);
    expect(drain(t).length).toBe(4);
    t.unsent(2);
    t.resume(1);
    expect(drain(t).map((x) => x[0])).toEqual([3, 4]);
    expect(t.retransmits).toBe(2); // they count as resent: no RTT sample from them (Karn)
  });
});

describe("files of more than 65535 blocks", () => {
  test("a file of more than 65535 blocks wraps to 0 and finishes intact", () => {
    const size = 512 * 70000 + 100;
    const { t, file } = make(size, { windowSize: 16, rollover: 0 });
    const got = new Uint8Array(size);
    let pos = 0;
    let expectWire = 1;
    t.start(0);
    let now = 0;
    while (t.outcome === undefined) {
      const pkts = t.outbox.splice(0);
      for (const p of pkts) {
        const wire = (p[2]! << 8) | p[3]!;
        expect(wire).toBe(expectWire);
        expectWire = (expectWire + 1) & 0xffff;
        got.set(p.subarray(4), pos);
        pos += p.length - 4;
      }
      const last = pkts[pkts.length - 1]!;
      t.onAck((last[2]! << 8) | last[3]!, ++now);
    }
    expect(t.outcome?.kind).toBe("ok");
    expect(pos).toBe(size);
    expect(Bun.hash(got)).toBe(Bun.hash(file));
  });

  test("rollover 1 skips block 0", () => {
    const { t } = make(512 * 65537, { windowSize: 1, rollover: 1 });
    t.start(0);
    for (let i = 1; i <= 65535; i++) {
      t.outbox.length = 0;
      t.onAck(i, i);
    }
    const p = t.outbox[0]!;
    expect((p[2]! << 8) | p[3]!).toBe(1);
    t.outbox.length = 0;
    t.onAck(1, 70000);
    expect(t.bytesAcked).toBe(512 * 65536);
  });
});

/** A source whose data arrives only when the test says so: a slow disk or NFS server. */
class GatedSource implements BlockSource {
  onReady?: () => void;
  open = false;
  constructor(private readonly inner: BlockSource) {}
  get size() {
    return this.inner.size;
  }
  read(into: Uint8Array, offset: number, position: number, length: number): boolean {
    return this.open && this.inner.read(into, offset, position, length);
  }
  land(): void {
    this.open = true;
    this.onReady?.();
  }
}

describe("waiting on a slow disk", () => {
  const gated = (size: number, giveUpMs = 3000) => {
    const source = new GatedSource(bytesSource(fileOf(size)));
    const t = new SendTransfer(
      { ...baseConfig({ blockSize: 512, windowSize: 4, rollover: 0 }), rto: { initialMs: 100, minMs: 20, maxMs: 5000 }, giveUpMs },
      source,
    );
    return { t, source };
  };

  test("nothing is sent until the data lands; the wait is not counted as loss", () => {
    const { t, source } = gated(2048);
    t.start(0);
    expect(drain(t)).toEqual([]);
    // Several RTOs pass while the disk is slow: no retransmission, no backoff, no give-up.
    for (let now = 100; now <= 1000; now += 100) {
      t.onTimer(now);
      expect(drain(t)).toEqual([]);
    }
    expect(t.retransmits).toBe(0);
    expect(t.rtoMs).toBe(100);
    source.open = true;
    t.resume(1001);
    expect(drain(t)).toEqual([[1, 512], [2, 512], [3, 512], [4, 512]]);
    t.onAck(4, 1002);
    expect(drain(t)).toEqual([[5, 0]]);
    t.onAck(5, 1003);
    expect(t.outcome).toEqual({ kind: "ok" });
  });

  test("a window stops at the first block not in memory and goes on from there", () => {
    const { t, source } = gated(4096);
    source.open = true;
    t.start(0);
    expect(drain(t).map(([b]) => b)).toEqual([1, 2, 3, 4]);
    source.open = false;
    t.onAck(4, 1);
    expect(drain(t)).toEqual([]);
    source.open = true;
    t.resume(2);
    expect(drain(t).map(([b]) => b)).toEqual([5, 6, 7, 8]);
  });

  test("a read that never comes back ends the transfer after the give-up time", () => {
    const { t } = gated(2048, 500);
    t.start(0);
    let now = 0;
    while (t.outcome === undefined && now < 10_000) {
      now = t.deadline;
      t.onTimer(now);
    }
    expect(t.outcome?.kind).toBe("timeout");
    expect(t.outcome?.reason).toContain("file read stalled");
    expect(now).toBeGreaterThanOrEqual(500);
    expect(now).toBeLessThan(1000);
  });
});


describe("who may talk to a transfer, and what it ignores", () => {
  test("the client's ACK datagram moves the transfer", () => {
    const { t } = make(1000);
    t.start(0);
    drain(t);
    expect(t.onDatagram(encodeAck(1), CLIENT.port, CLIENT.address, 1)).toBeNull();
    expect(drain(t)).toEqual([[2, 488]]);
  });

  test("a stranger (another port or address) gets ERROR 5 back and changes nothing", () => {
    const { t } = make(1000);
    t.start(0);
    drain(t);
    expect(t.onDatagram(encodeAck(1), CLIENT.port + 1, CLIENT.address, 1)).toBe(UNKNOWN_TID_PACKET);
    expect(t.onDatagram(encodeError(ErrorCode.DISK_FULL, "x"), CLIENT.port, "10.0.0.8", 1)).toBe(UNKNOWN_TID_PACKET);
    expect(drain(t)).toEqual([]);
    expect(t.outcome).toBeUndefined();
    expect(t.bytesAcked).toBe(0);
  });

  test("mangled or stray datagrams from the client are treated as lost", () => {
    const { t } = make(1000);
    t.start(0);
    drain(t);
    for (const junk of [Uint8Array.of(0, 4, 0), Uint8Array.of(0, 9, 0, 1), Uint8Array.of(0, 3, 0, 1, 42), Uint8Array.of(1)]) {
      expect(t.onDatagram(junk, CLIENT.port, CLIENT.address, 1)).toBeNull();
    }
    expect(drain(t)).toEqual([]);
    expect(t.outcome).toBeUndefined();
    expect(t.deadline).toBe(1000); // the RTO armed at start still stands
  });

  test("an ERROR datagram from the client ends the transfer with its code and message", () => {
    const { t } = make(1000);
    t.start(0);
    drain(t);
    t.onDatagram(notFound().encode(), CLIENT.port, CLIENT.address, 1);
    expect(t.outcome).toEqual({ kind: "error", code: ErrorCode.FILE_NOT_FOUND, reason: "client sent error 1: File not found" });
    expect(t.deadline).toBe(Infinity);
  });
});

describe("ending a transfer from our side", () => {
  test("cancel sends the error to the client and ends with the given reason", () => {
    const { t } = make(5000);
    t.start(0);
    drain(t);
    t.cancel(shuttingDown(), "server shutting down");
    expect(t.outbox).toEqual([shuttingDown().encode()]);
    expect(t.outcome).toEqual({ kind: "error", reason: "server shutting down" });
    expect(t.deadline).toBe(Infinity);
    t.outbox.length = 0;
    t.cancel(shuttingDown(), "again");
    expect(t.outbox).toEqual([]);
  });

  test("a file that fails to read ends the transfer with ERROR 0 to the client", () => {
    const failing: BlockSource = {
      size: 1000,
      read() {
        throw new Error("EIO");
      },
    };
    const t = new SendTransfer(baseConfig({ blockSize: 512, windowSize: 1, rollover: 0 }), failing);
    t.start(0);
    expect(drain(t)).toEqual([[-1, 5]]);
    expect(t.outcome).toEqual({ kind: "error", code: ErrorCode.NOT_DEFINED, reason: "Read error: Error: EIO" });
  });
});

describe("spurious timeouts: a slow client is waited for, a lost block is still resent", () => {
  /** Lockstep through block `n` with a steady 10 ms round trip; returns the time of the last ACK. */
  function steady(t: SendTransfer, n: number): number {
    t.start(0);
    drain(t);
    let now = 0;
    for (let b = 1; b <= n; b++) {
      now += 10;
      t.onAck(b, now);
      drain(t);
    }
    return now;
  }

  test("the resent block acknowledged twice in a row: backoff undone, floor raised to twice its real delay", () => {
    const { t } = make(512 * 40);
    const sentAt = steady(t, 5); // DATA 6 went out at sentAt
    const rto = t.rtoMs;
    t.onTimer(sentAt + rto);
    expect(drain(t)).toEqual([[6, 512]]);
    expect(t.rtoMs).toBe(rto * 2);
    t.onAck(6, sentAt + rto + 1); // the original's ACK, or the resend's: no verdict yet
    expect(t.spuriousTimeouts).toBe(0);
    expect(drain(t)).toEqual([[7, 512]]);
    // The client got DATA 6 twice and says so: the resend was spurious. Never a resend (RFC 1123).
    t.onAck(6, sentAt + rto + 2);
    expect(drain(t)).toEqual([]);
    expect(t.spuriousTimeouts).toBe(1);
    expect(t.rtoMs).toBe(2 * (rto + 1));
    t.onAck(6, sentAt + rto + 3);
    expect(t.spuriousTimeouts).toBe(1);
  });

  test("a real loss: the resend's ACK changes nothing, a client's own retry ACK a timeout later is no evidence", () => {
    const { t } = make(512 * 40);
    const sentAt = steady(t, 5);
    const rto = t.rtoMs;
    t.onTimer(sentAt + rto);
    drain(t);
    t.onAck(6, sentAt + rto + 10);
    drain(t);
    t.onAck(6, sentAt + rto + 10 + 4 * rto); // DATA 7 lost, the client re-ACKs 6 on its own timer
    expect(t.spuriousTimeouts).toBe(0);
    t.onAck(7, sentAt + rto + 20); // progress past the resent block: the episode is over
    drain(t);
    t.onAck(7, sentAt + rto + 21);
    expect(t.spuriousTimeouts).toBe(0);
    expect(t.rtoMs).toBeLessThanOrEqual(rto * 2);
  });

  test("an OACK acknowledged twice after its resend was a spurious resend too", () => {
    const oack = encodeOack(new Map([["blksize", "512"]]));
    const { t } = make(5000, {}, { oack });
    t.start(0);
    drain(t);
    const first = t.deadline; // the initial 1000 ms
    t.onTimer(first);
    expect(drain(t)).toEqual([[-1, 6]]);
    t.onAck(0, first + 30);
    expect(drain(t)).toEqual([[1, 512]]);
    t.onAck(0, first + 31);
    expect(t.spuriousTimeouts).toBe(1);
    expect(drain(t)).toEqual([]);
  });

  test("other transfers of the server start from the floor one spurious timeout taught", () => {
    const shared = new SharedRtoFloor();
    const rto = { initialMs: 1000, minMs: 20, maxMs: 5000, shared };
    const { t } = make(512 * 40, {}, { rto });
    const sentAt = steady(t, 5);
    const before = t.rtoMs;
    t.onTimer(sentAt + before);
    drain(t);
    t.onAck(6, sentAt + before + 1);
    t.onAck(6, sentAt + before + 2);
    const other = make(512 * 40, {}, { rto }).t;
    const now = steady(other, 5);
    expect(other.deadline - now).toBe(2 * (before + 1));
  });
});

describe("a late timer: the process was stalled, the ACK may be waiting unread", () => {
  test("the resend is held back once for a socket read, then goes if no ACK came", () => {
    const { t } = make(5000);
    t.start(0);
    drain(t);
    const due = t.deadline;
    t.onTimer(due + 50); // fired 50 ms late
    expect(drain(t)).toEqual([]);
    expect(t.deadline).toBe(due + 50 + 1);
    t.onTimer(due + 51);
    expect(drain(t)).toEqual([[1, 512]]);
    expect(t.retransmits).toBe(1);
  });

  test("the ACK read in that moment means no resend at all", () => {
    const { t } = make(5000);
    t.start(0);
    drain(t);
    const due = t.deadline;
    t.onTimer(due + 50);
    t.onAck(1, due + 50.5);
    expect(drain(t)).toEqual([[2, 512]]);
    expect(t.retransmits).toBe(0);
  });
});
