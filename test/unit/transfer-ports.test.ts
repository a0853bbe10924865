/**
 * Which socket of the pool a new transfer gets: uniformly random (a port one request showed is
 * not the next transfer's), never the socket of the same client endpoint's previous transfer.
 */
import { describe, expect, test } from "bun:test";
import { randomInt } from "node:crypto";
import { TransferPort, type DatagramSocket, type PortTenant } from "../../src/server/transfer-port.ts";
import { TransferPorts } from "../../src/server/transfer-ports.ts";

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
