/**
 * Which socket of the pool a new transfer gets: uniformly random (a port one request showed is
 * not the next transfer's), never the socket of the same client endpoint's previous transfer.
 */
import { describe, expect, test } from "bun:test";
import { randomInt } from "node:crypto";
import { TransferPort, type DatagramSocket, type PortTenant } from "../../src/server/io/transfer-port.ts";
import { TransferPorts } from "../../src/server/io/transfer-ports.ts";

class FakeSocket implements DatagramSocket {
  constructor(readonly port: number) {}
  sendMany(flat: readonly unknown[]): number {
    return flat.length / 3;
  }
  close(): void {}
}

const tenant = (address: string, port: number): PortTenant => ({ peer: { address, port }, onDatagram() {}, onUnsent() {}, onWritable() {} });

function pool(n: number, random = randomInt): { ports: TransferPort[]; pool: TransferPorts } {
  const ports = Array.from({ length: n }, (_, i) => new TransferPort(new FakeSocket(50000 + i)));
  return { ports, pool: new TransferPorts(new Map([["0.0.0.0", ports]]), undefined, random) };
}

describe("TransferPorts.pick", () => {
  test("uniform over the pool: 25,600 picks for 256 sockets, every socket within 50 % of its share", () => {
    const { ports, pool: p } = pool(256);
    const counts = new Map<TransferPort, number>();
    for (let i = 0; i < 25_600; i++) {
      const got = p.pick("0.0.0.0", "10.0.0.5", 3000 + (i % 1000));
      counts.set(got, (counts.get(got) ?? 0) + 1);
    }
    expect(counts.size).toBe(256);
    for (const port of ports) {
      expect(counts.get(port)!).toBeGreaterThan(50);
      expect(counts.get(port)!).toBeLessThan(150);
    }
  });

  test("the same client endpoint again never gets the socket of its running or just-finished transfer", () => {
    const { pool: p } = pool(4);
    for (let i = 0; i < 200; i++) {
      const clientPort = 2000 + i;
      const first = p.pick("0.0.0.0", "10.0.0.5", clientPort);
      const t = tenant("10.0.0.5", clientPort);
      first.attach(t);
      expect(p.pick("0.0.0.0", "10.0.0.5", clientPort)).not.toBe(first);
      first.detach(t);
      expect(p.pick("0.0.0.0", "10.0.0.5", clientPort)).not.toBe(first);
    }
  });

  test("the random source decides, the one socket the endpoint knows excepted", () => {
    const script = [2, 2, 0];
    const { ports, pool: p } = pool(3, () => script.shift() ?? 1);
    ports[2]!.attach(tenant("10.0.0.5", 2000));
    expect(p.pick("0.0.0.0", "10.0.0.5", 2000)).toBe(ports[0]!);
  });

  test("a pool of one: every transfer shares it", () => {
    const { ports, pool: p } = pool(1);
    ports[0]!.attach(tenant("10.0.0.5", 2000));
    expect(p.pick("0.0.0.0", "10.0.0.5", 2000)).toBe(ports[0]!);
  });
});

describe("TransferPorts.forTransfer: windowed transfers get a socket of their own", () => {
  function withOwn(max: number, fail?: string) {
    const ports = Array.from({ length: 4 }, (_, i) => new TransferPort(new FakeSocket(50000 + i)));
    let next = 40000;
    const opened: TransferPort[] = [];
    const p = new TransferPorts(new Map([["0.0.0.0", ports]]), undefined, randomInt, {
      max,
      open: async (_address, onEmpty) => {
        if (fail) throw Object.assign(new Error(fail), { code: fail });
        const port = new TransferPort(new FakeSocket(next++), undefined, undefined, onEmpty);
        opened.push(port);
        return port;
      },
    });
    return { ports, p, opened };
  }

  test("windowed: a new socket, closed and forgotten when its transfer detaches; lockstep: the pool", async () => {
    const { ports, p, opened } = withOwn(8);
    const own = await p.forTransfer("0.0.0.0", "10.0.0.5", 2000, true);
    expect(ports).not.toContain(own);
    expect(p.ownSockets).toBe(1);
    const t = tenant("10.0.0.5", 2000);
    own.attach(t);
    own.detach(t);
    expect(own.closed).toBe(true);
    expect(p.ownSockets).toBe(0);
    expect(p.unreachable(own.localPort, "10.0.0.5", 2000)).toBe(false);
    expect(ports).toContain(await p.forTransfer("0.0.0.0", "10.0.0.5", 2001, false));
    expect(opened.length).toBe(1);
  });

  test("past the cap, or out of descriptors, windowed transfers share the pool", async () => {
    const { ports, p } = withOwn(1);
    const first = await p.forTransfer("0.0.0.0", "10.0.0.5", 2000, true);
    first.attach(tenant("10.0.0.5", 2000));
    expect(ports).not.toContain(first);
    expect(ports).toContain(await p.forTransfer("0.0.0.0", "10.0.0.6", 2000, true));
    const starved = withOwn(8, "EMFILE");
    expect(starved.ports).toContain(await starved.p.forTransfer("0.0.0.0", "10.0.0.5", 2000, true));
    expect(starved.p.ownSockets).toBe(0);
  });

  test("an ICMP port unreachable for an own socket reaches its transfer", async () => {
    const { p } = withOwn(8);
    const own = await p.forTransfer("0.0.0.0", "10.0.0.5", 2000, true);
    let gone = false;
    own.attach({ ...tenant("10.0.0.5", 2000), onUnreachable: () => (gone = true) });
    expect(p.unreachable(own.localPort, "10.0.0.5", 2000)).toBe(true);
    expect(gone).toBe(true);
  });
});
