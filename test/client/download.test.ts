/**
 * The UDP driver over real loopback sockets, against a scripted server: the TID rule, a foreign
 * port answered with ERROR 5, a closed port failing fast, loss recovered by our own timer.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { udp } from "bun";
import { download } from "../../src/client/download.ts";
import { decodePacket, encodeData, encodeOack } from "../../src/protocol/packet.ts";
import { Opcode, type Packet } from "../../src/protocol/types.ts";

type Socket = udp.Socket<"uint8array">;
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** A socket on 127.0.0.1 that hands every decoded datagram to `onPacket`. */
async function endpoint(onPacket: (p: Packet, port: number, self: Socket) => void): Promise<Socket> {
  const s = await Bun.udpSocket({
    hostname: "127.0.0.1",
    binaryType: "uint8array",
    socket: {
      data(self, buf, port) {
        onPacket(decodePacket(buf) as Packet, port, self);
      },
      error() {},
    },
  });
  sockets.push(s);
  return s;
}

const base = { filename: "f", mode: "octet" as const, timeoutMs: 200, retries: 3 };

describe("download over loopback", () => {
  test("the transfer runs on the server's new port; a stranger gets ERROR 5 and changes nothing", async () => {
    const content = new Uint8Array(1000).map((_, i) => i & 0xff);
    const strangerSaw: Packet[] = [];
    const stranger = await endpoint((p) => strangerSaw.push(p));
    let clientPort = 0;
    // The transfer socket: OACK, then two blocks in lockstep, with a stranger's DATA in between.
    const transfer = await endpoint((p, port, self) => {
      if (p.op !== Opcode.ACK) return;
      if (p.block === 0) {
        stranger.send(encodeData(1, new Uint8Array(600).fill(9)), clientPort, "127.0.0.1");
        setTimeout(() => self.send(encodeData(1, content.subarray(0, 600)), port, "127.0.0.1"), 30);
      } else if (p.block === 1) self.send(encodeData(2, content.subarray(600)), port, "127.0.0.1");
    });
    const listener = await endpoint((p, port) => {
      if (p.op !== Opcode.RRQ) return;
      clientPort = port;
      transfer.send(encodeOack(new Map([["blksize", "600"], ["tsize", "1000"]])), port, "127.0.0.1");
    });

    const chunks: number[] = [];
    const r = await download({
      ...base,
      blockSize: 600,
      tsize: true,
      server: { address: "127.0.0.1", port: listener.port },
      onChunk: (c) => chunks.push(...c),
    });
    expect(r.outcome).toEqual({ ok: true, bytes: 1000, tsize: 1000, probe: false });
    expect(Uint8Array.from(chunks)).toEqual(content);
    expect(r.stats.foreign).toBe(1);
    // The stranger's answer is in flight on loopback: wait for it, however slow the machine.
    for (let i = 0; i < 400 && strangerSaw.length === 0; i++) await Bun.sleep(5);
    expect(strangerSaw).toEqual([{ op: Opcode.ERROR, code: 5, message: "Unknown transfer ID" }]);
  });

  test("a port where nothing listens fails on the ICMP error, with a clear reason, not on the timer", async () => {
    const closed = await endpoint(() => {});
    const port = closed.port;
    closed.close();
    sockets.splice(sockets.indexOf(closed), 1);
    // "local" is only ever the refusal: running out of retries would end as "timeout".
    const r = await download({ ...base, timeoutMs: 300, server: { address: "127.0.0.1", port } });
    expect(r.outcome).toMatchObject({ ok: false, kind: "local" });
    expect(!r.outcome.ok && r.outcome.reason).toContain("connection refused");
  });

  test("a lost DATA is recovered by our timer re-sending the ACK", async () => {
    let sentBlock2 = 0;
    const transfer = await endpoint((p, port, self) => {
      if (p.op !== Opcode.ACK) return;
      if (p.block === 1 && sentBlock2++ === 0) return; // "lose" block 2 the first time
      if (p.block === 1) self.send(encodeData(2, Uint8Array.of(7)), port, "127.0.0.1");
    });
    const listener = await endpoint((p, port) => {
      if (p.op === Opcode.RRQ) transfer.send(encodeData(1, new Uint8Array(512)), port, "127.0.0.1");
    });
    const r = await download({ ...base, server: { address: "127.0.0.1", port: listener.port } });
    expect(r.outcome).toMatchObject({ ok: true, bytes: 513 });
    expect(r.stats.timeouts).toBe(1);
  });

  test("simulated loss drops DATA before the state machine sees it", async () => {
    let drops = 0;
    const transfer = await endpoint((p, port, self) => {
      if (p.op === Opcode.ACK && p.block === 1) self.send(encodeData(2, Uint8Array.of(1)), port, "127.0.0.1");
    });
    const listener = await endpoint((p, port) => {
      if (p.op === Opcode.RRQ) transfer.send(encodeData(1, new Uint8Array(512)), port, "127.0.0.1");
    });
    const r = await download({
      ...base,
      server: { address: "127.0.0.1", port: listener.port },
      // drop the first copy of block 1; the RRQ retry brings it again
      dropData: () => drops++ === 0,
    });
    expect(r.outcome).toMatchObject({ ok: true, bytes: 513 });
    expect(r.stats.dropped).toBe(1);
    expect(r.stats.requestRetries).toBe(1);
  });
});
