/**
 * The request port's rules as a table: each datagram, against a given server state, gets exactly
 * one decision. No sockets or timers: the server only carries decisions out.
 */
import { describe, expect, test } from "bun:test";
import { clientFilter } from "../../src/server/admission/client-filter.ts";
import { TokenBuckets } from "../../src/server/admission/token-buckets.ts";
import { dispatch, type DispatchState } from "../../src/server/requests/dispatch.ts";
import { encodeAck, encodeData, encodeError, encodeOack, encodeRequest } from "../../src/protocol/packet.ts";
import { ErrorCode, Opcode } from "../../src/protocol/types.ts";

const PEER = "127.0.0.9:2070";

function state(over: Partial<DispatchState> & { known?: string[] } = {}): DispatchState {
  const known = new Set(over.known ?? []);
  return { closing: false, has: (p) => known.has(p), active: 0, slotLimit: 10, queueFull: false, ...over };
}

const rrq = (mode = "octet") => encodeRequest(Opcode.RRQ, "pxelinux.0", mode);

describe("request port dispatch", () => {
  test("a new RRQ with a free slot begins a transfer, with the decoded request", () => {
    const d = dispatch(rrq(), PEER, "127.0.0.9", state(), 0);
    expect(d.action).toBe("begin");
    expect(d.action === "begin" && d.request.filename).toBe("pxelinux.0");
  });

  test("netascii is served; an unknown mode is refused with ERROR 4, logged as a transfer", () => {
    expect(dispatch(rrq("netascii"), PEER, "127.0.0.9", state(), 0).action).toBe("begin");
    const d = dispatch(rrq("mail"), PEER, "127.0.0.9", state(), 0);
    expect(d.action).toBe("refuse");
    expect(d.action === "refuse" && [d.error.code, d.error.message]).toEqual([ErrorCode.ILLEGAL_OPERATION, "Unsupported transfer mode 'mail'"]);
  });

  test("an RRQ repeated while its transfer runs is folded with the repeat as data (picky firmware's sign); a repeated WRQ is only folded", () => {
    const st = state({ known: [PEER], uploads: true });
    const again = rrq();
    expect(dispatch(again, PEER, "127.0.0.9", st, 0)).toEqual({ action: "fold", repeat: { peer: PEER, bytes: again.length } });
    expect(dispatch(encodeRequest(Opcode.WRQ, "up", "octet"), PEER, "127.0.0.9", st, 0)).toEqual({ action: "fold" });
  });

  test("a WRQ is refused with ERROR 2", () => {
    const d = dispatch(encodeRequest(Opcode.WRQ, "upload.bin", "octet"), PEER, "127.0.0.9", state(), 0);
    expect(d.action === "refuse" && d.error.code).toBe(ErrorCode.ACCESS_VIOLATION);
    expect(d.action === "refuse" && d.error.message).toBe("Write requests are not accepted by this server");
  });

  test("with uploads on (--create) a WRQ is admitted like an RRQ: begun, folded, queued, mode checked", () => {
    const wrq = (mode = "octet") => encodeRequest(Opcode.WRQ, "upload.bin", mode);
    const d = dispatch(wrq(), PEER, "127.0.0.9", state({ uploads: true }), 0);
    expect(d.action === "begin" && [d.request.op, d.request.filename]).toEqual([Opcode.WRQ, "upload.bin"]);
    expect(dispatch(wrq("netascii"), PEER, "127.0.0.9", state({ uploads: true }), 0).action).toBe("begin");
    expect(dispatch(wrq("mail"), PEER, "127.0.0.9", state({ uploads: true }), 0).action).toBe("refuse");
    expect(dispatch(wrq(), PEER, "127.0.0.9", state({ uploads: true, known: [PEER] }), 0).action).toBe("fold");
    expect(dispatch(wrq(), PEER, "127.0.0.9", state({ uploads: true, active: 10 }), 0).action).toBe("queue");
  });

  test("a retransmitted RRQ of a running, opening or queued transfer is folded into it", () => {
    expect(dispatch(rrq(), PEER, "127.0.0.9", state({ known: [PEER] }), 0).action).toBe("fold");
    // Another port of the same host is another transfer.
    expect(dispatch(rrq(), "127.0.0.9:2071", "127.0.0.9", state({ known: [PEER] }), 0).action).toBe("begin");
  });

  test("all slots busy: queued; queue full too: dropped (the client retries), never refused", () => {
    expect(dispatch(rrq(), PEER, "127.0.0.9", state({ active: 10 }), 0).action).toBe("queue");
    expect(dispatch(rrq(), PEER, "127.0.0.9", state({ active: 3, slotLimit: 3 }), 0).action).toBe("queue");
    expect(dispatch(rrq(), PEER, "127.0.0.9", state({ active: 10, queueFull: true }), 0).action).toBe("drop");
  });

  test("DATA or ACK on the request port is answered with ERROR 5; ERROR and OACK are never answered", () => {
    for (const pkt of [encodeAck(1), encodeData(1, new Uint8Array(3))]) {
      const d = dispatch(pkt, PEER, "127.0.0.9", state(), 0);
      expect(d.action === "answer" && [d.error.code, d.error.message]).toEqual([ErrorCode.UNKNOWN_TID, "Unknown transfer ID"]);
    }
    expect(dispatch(encodeError(0, "bye"), PEER, "127.0.0.9", state(), 0).action).toBe("ignore");
    expect(dispatch(encodeOack(new Map([["blksize", "1468"]])), PEER, "127.0.0.9", state(), 0).action).toBe("ignore");
  });

  test("a malformed datagram is answered with ERROR 4 naming what is wrong", () => {
    for (const junk of [new Uint8Array([]), new Uint8Array([0]), new Uint8Array([0, 99, 1, 2]), new Uint8Array([0, 1, 65, 66])]) {
      const d = dispatch(junk, PEER, "127.0.0.9", state(), 0);
      expect(d.action).toBe("answer");
      expect(d.action === "answer" && d.error.code).toBe(ErrorCode.ILLEGAL_OPERATION);
      expect(d.action === "answer" && d.error.message).toStartWith("Illegal TFTP operation (");
    }
  });

  test("an address --allow/--deny shuts out gets no answer of any kind", () => {
    const filter = clientFilter(["127.0.0.0/8"], ["127.0.0.9/32"])!;
    for (const pkt of [rrq(), new Uint8Array([0]), encodeAck(1)]) expect(dispatch(pkt, PEER, "127.0.0.9", state({ filter }), 0).action).toBe("deny");
    expect(dispatch(rrq(), "127.0.0.8:2070", "127.0.0.8", state({ filter }), 0).action).toBe("begin");
  });

  test("an address at --per-client-max gets no answer; other addresses, and the limit 0, are unaffected", () => {
    const busy = (a: string) => (a === "127.0.0.9" ? 3 : 0);
    const limited = dispatch(rrq(), PEER, "127.0.0.9", state({ transfersOf: busy, perClientMax: 3 }), 0);
    expect(limited.action === "limit" && limited.why).toBe("transfers");
    expect(dispatch(rrq(), PEER, "127.0.0.9", state({ transfersOf: busy, perClientMax: 4 }), 0).action).toBe("begin");
    expect(dispatch(rrq(), "127.0.0.8:1", "127.0.0.8", state({ transfersOf: busy, perClientMax: 3 }), 0).action).toBe("begin");
    expect(dispatch(rrq(), PEER, "127.0.0.9", state({ transfersOf: busy, perClientMax: 0 }), 0).action).toBe("begin");
    // A retransmitted RRQ of a running transfer is still folded, not counted again.
    expect(dispatch(rrq(), PEER, "127.0.0.9", state({ known: [PEER], transfersOf: busy, perClientMax: 3 }), 0).action).toBe("fold");
  });

  test("an address over --per-client-rate gets no answer; a folded retransmission is not counted", () => {
    const asked: number[] = [];
    const hasToken = (_: string, now: number) => (asked.push(now), false);
    const d = dispatch(rrq(), PEER, "127.0.0.9", state({ hasToken }), 7);
    expect(d.action === "limit" && d.why).toBe("rate");
    expect(dispatch(rrq(), PEER, "127.0.0.9", state({ known: [PEER], hasToken }), 8).action).toBe("fold");
    // Looked at once, at the time dispatch was given.
    expect(asked).toEqual([7]);
  });

  test("with no --per-client-rate no token is spent", () => {
    for (const st of [state(), state({ active: 10 }), state({ active: 10, queueFull: true })]) {
      const d = dispatch(rrq(), PEER, "127.0.0.9", st, 0);
      expect(d.action !== "limit" && "token" in d && d.token).toBe(false);
    }
  });

  /**
   * Requests over time against a real token bucket (1 a second, a burst of 2) and a hand clock.
   * Dispatch only looks at the bucket; each row's decision says what to take, and the table
   * carries it out as the server does (a token spent on begin, queue or drop alike), so the next
   * row sees what the last one decided.
   */
  test("--per-client-rate over time, with a hand clock: each decision names the token it spends", () => {
    const buckets = new TokenBuckets(1, 2);
    const running = new Set<string>();
    let queued = 0;
    const st: DispatchState = {
      closing: false,
      has: (p) => running.has(p),
      get active() {
        return running.size;
      },
      slotLimit: 3,
      get queueFull() {
        return queued >= 1;
      },
      hasToken: (a, now) => buckets.has(a, now),
    };
    const A = "10.0.0.1";
    const B = "10.0.0.2";
    type Row = [at: number, address: string, port: number, expected: string];
    const rows: Row[] = [
      [0, A, 1001, "begin token"], // a full bucket: the burst
      [0, A, 1002, "begin token"],
      [0, A, 1001, "fold repeat"], // the first one's retransmission: no token looked at
      [0, A, 1003, "limit rate"], // the burst is spent
      [0, B, 1001, "begin token"], // another address, its own bucket; now every slot is busy
      [500, A, 1004, "limit rate"], // half a token
      [1000, A, 1004, "queue token"], // one token again; slots busy, so it waits
      [1500, A, 1005, "limit rate"],
      [2000, A, 1005, "drop token"], // a token, but the queue is full: spent all the same
      [2000, B, 1002, "drop token"],
      [9000, A, 1006, "drop token"], // a quiet spell refills to the burst, not beyond
      [9000, A, 1007, "drop token"],
      [9000, A, 1008, "limit rate"],
    ];
    const got: string[] = [];
    for (const [at, address, port, _] of rows) {
      const peer = `${address}|${port}`;
      const d = dispatch(rrq(), peer, address, st, at);
      if (d.action === "limit") {
        if (d.why === "rate") buckets.allow(address, at);
        got.push(`limit ${d.why}`);
      } else if (d.action === "fold") got.push(d.repeat ? "fold repeat" : "fold");
      else if (d.action === "begin" || d.action === "queue" || d.action === "drop") {
        if (d.token) expect(buckets.allow(address, at)).toBe(true);
        if (d.action === "begin") running.add(peer);
        if (d.action === "queue") queued++;
        got.push(`${d.action}${d.token ? " token" : ""}`);
      } else got.push(d.action);
    }
    expect(got).toEqual(rows.map((r) => r[3]));
  });

  test("while closing nothing is answered or started", () => {
    expect(dispatch(rrq(), PEER, "127.0.0.9", state({ closing: true }), 0).action).toBe("ignore");
    expect(dispatch(new Uint8Array([0]), PEER, "127.0.0.9", state({ closing: true }), 0).action).toBe("ignore");
  });
});
