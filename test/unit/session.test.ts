/**
 * A session reads the time only from the clock it is handed (as the transfer port is handed its
 * socket and scheduler): with a hand clock, the machine's deadlines and the record's duration are
 * exactly what the clock said, with no time passing.
 */
import { describe, expect, test } from "bun:test";
import { MemorySource } from "../../src/files/source.ts";
import { encodeAck } from "../../src/protocol/packet.ts";
import type { TransferRecord } from "../../src/records/transfer-record.ts";
import { Deadlines, type TimerApi } from "../../src/server/io/deadlines.ts";
import { Session, type SessionInit } from "../../src/server/io/session.ts";
import type { TransferPort } from "../../src/server/io/transfer-port.ts";
import { SendTransfer } from "../../src/transfer/send.ts";

const CLIENT = { address: "192.0.2.7", port: 2001 };

function harness(blocks: number) {
  let clock = 1000;
  const sent: Uint8Array[] = [];
  const port = {
    localPort: 40000,
    attach() {},
    detach() {},
    settle() {},
    flushIfQuiet() {},
    queue(_tenant: unknown, data: Uint8Array) {
      sent.push(data.slice());
    },
  } as unknown as TransferPort;
  const noTimers: TimerApi = { set: () => 0, clear: () => {} };
  const deadlines = new Deadlines(() => clock, noTimers);
  const transfer = new SendTransfer(
    {
      peer: CLIENT,
      options: { blockSize: 512, windowSize: 1, rollover: 0 },
      probeable: false,
      rto: { initialMs: 1000, minMs: 200, maxMs: 5000 },
      retries: 3,
      giveUpMs: 3000,
    },
    new MemorySource(new Uint8Array(512 * blocks - 1)),
  );
  const ended: TransferRecord[] = [];
  const init: SessionInit = {
    port,
    transfer,
    file: { close() {} },
    report: () => ({ bytes: transfer.bytesAcked, outcome: transfer.outcome!.kind, retransmits: transfer.retransmits }),
    record: { direction: "read", clientAddress: CLIENT.address, clientPort: CLIENT.port, requested: "f", file: "f", mode: "octet", options: {}, size: 512 * blocks - 1 },
    deadlines,
    now: () => clock,
    onEnd: (r) => ended.push(r),
  };
  return {
    session: Session.open(init),
    transfer,
    sent,
    ended,
    advance: (ms: number) => (clock += ms),
  };
}

describe("session over a hand clock", () => {
  test("the machine's deadlines and the record's duration come from the clock it was given", () => {
    const h = harness(3);
    h.session.start();
    expect(h.sent.length).toBe(1);
    // The first DATA went out at 1000: its retransmission is due one RTO later on the same clock.
    expect(h.transfer.deadline).toBe(2000);
    for (let block = 1; block <= 3; block++) {
      h.advance(25);
      h.session.onDatagram(encodeAck(block), CLIENT.port, CLIENT.address);
    }
    expect(h.ended.length).toBe(1);
    expect(h.ended[0]!.outcome).toBe("ok");
    expect(h.ended[0]!.durationMs).toBe(75);
  });

  test("a deadline reached on the hand clock resends, and counts it", () => {
    const h = harness(2);
    h.session.start();
    h.advance(1000);
    h.session.onDeadline(2000);
    expect(h.sent.length).toBe(2);
    expect(h.sent[1]).toEqual(h.sent[0]!);
    h.advance(10);
    h.session.onDatagram(encodeAck(1), CLIENT.port, CLIENT.address);
    h.session.onDatagram(encodeAck(2), CLIENT.port, CLIENT.address);
    expect(h.ended[0]!).toMatchObject({ outcome: "ok", retransmits: 1, durationMs: 1010 });
  });
});
