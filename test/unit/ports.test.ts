/** --port-range: which port a transfer gets, and what happens when none is free. */
import { describe, expect, test } from "bun:test";
import { bindTransferPort, isPortsBusy, PortRange, PortsBusy } from "../../src/server/io/ports.ts";

class FakeSocket {
  closed = false;
  constructor(readonly port: number) {}
  close() {
    this.closed = true;
  }
}

/** A bind that fails with EADDRINUSE for ports someone else holds. */
function binder(foreign: number[] = []) {
  const tried: number[] = [];
  const bind = async (port: number) => {
    tried.push(port);
    if (foreign.includes(port)) throw Object.assign(new Error("bind EADDRINUSE"), { code: "EADDRINUSE" });
    return new FakeSocket(port);
  };
  return { bind, tried };
}

describe("PortRange", () => {
  test("hands out ports round-robin and skips its own without trying them", async () => {
    const range = new PortRange(7000, 7002);
    const { bind, tried } = binder();
    const a = await range.bind(bind);
    const b = await range.bind(bind);
    expect([a.port, b.port]).toEqual([7000, 7001]);
    a.close();
    const c = await range.bind(bind);
    const d = await range.bind(bind);
    expect([c.port, d.port]).toEqual([7002, 7000]);
    expect(tried).toEqual([7000, 7001, 7002, 7000]);
  });

  test("a port someone else holds is skipped", async () => {
    const range = new PortRange(7000, 7002);
    const { bind } = binder([7000, 7001]);
    expect((await range.bind(bind)).port).toBe(7002);
  });

  test("all busy: PortsBusy, a shortage the server queues on, not a refusal", async () => {
    const range = new PortRange(7000, 7001);
    const { bind } = binder([7001]);
    await range.bind(bind);
    let err: unknown;
    try {
      await range.bind(bind);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PortsBusy);
    expect(isPortsBusy(err)).toBe(true);
    expect((err as Error).message).toContain("7000:7001");
  });

  test("other bind errors are not shortages", async () => {
    const range = new PortRange(7000, 7001);
    const eacces = async () => {
      throw Object.assign(new Error("bind EACCES"), { code: "EACCES" });
    };
    await expect(range.bind(eacces)).rejects.toThrow("EACCES");
  });

  test("no range: the kernel picks (port 0)", async () => {
    const { bind, tried } = binder();
    await bindTransferPort(undefined, bind);
    expect(tried).toEqual([0]);
    expect(new PortRange(1, 65535).size).toBe(65535);
    expect(() => new PortRange(10, 9)).toThrow(RangeError);
  });

  test("real sockets: a range of two, a third bind waits for a close", async () => {
    const base = 40000 + Math.floor(Math.random() * 20000);
    const range = new PortRange(base, base + 1);
    const open = (port: number) => Bun.udpSocket({ hostname: "127.0.0.1", port });
    const a = await range.bind(open);
    const b = await range.bind(open);
    expect(new Set([a.port, b.port])).toEqual(new Set([base, base + 1]));
    await expect(range.bind(open)).rejects.toBeInstanceOf(PortsBusy);
    a.close();
    const c = await range.bind(open);
    expect(c.port).toBe(a.port);
    b.close();
    c.close();
  });
});
