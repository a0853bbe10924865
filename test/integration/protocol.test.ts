/**
 * Wire-level behaviour of the compiled server, with hand-made packets: refusals, the PXE size
 * probe, strangers at a transfer's port, duplicate RRQs, and what the log says about each.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeError, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode, type Packet } from "../../src/protocol/types.ts";
import { RawPeer, randomFile, scratchRoot, startServer, type ServerProcess } from "./harness.ts";

let server: ServerProcess;
const { root, cleanup } = scratchRoot("proto");
const outside = scratchRoot("outside");

beforeAll(async () => {
  mkdirSync(join(root, "pxelinux.cfg"));
  mkdirSync(join(root, "dir"));
  writeFileSync(join(root, "pxelinux.cfg", "default.netboot-7.2"), "KERNEL vmlinuz-7.2\n");
  symlinkSync("default.netboot-7.2", join(root, "pxelinux.cfg", "C0A8000B"));
  writeFileSync(join(outside.root, "secret"), "secret");
  symlinkSync(join(outside.root, "secret"), join(root, "escape"));
  randomFile(join(root, "big"), 3 * 1024 * 1024, 7);
  writeFileSync(join(root, "empty"), "");
  server = await startServer(root, ["--verbose", "--log-format", "json"]);
});
afterAll(async () => {
  await server?.stop();
  cleanup();
  outside.cleanup();
});

const rrq = (file: string, mode = "octet", options: Record<string, string> = {}) =>
  encodeRequest(Opcode.RRQ, file, mode, new Map(Object.entries(options)));

async function ask(bytes: Uint8Array): Promise<Packet> {
  const peer = await RawPeer.open();
  try {
    peer.send(bytes, server.port);
    const reply = await peer.recv();
    if (!reply) throw new Error("no reply");
    const p = decodePacket(reply.data);
    if (p.op === 0) throw new Error(`undecodable reply: ${p.reason}`);
    return p;
  } finally {
    peer.close();
  }
}

async function errorCodeFor(bytes: Uint8Array): Promise<number> {
  const p = await ask(bytes);
  if (p.op !== Opcode.ERROR) throw new Error(`expected ERROR, got opcode ${p.op}`);
  return p.code;
}

describe("refusals get ERROR packets", () => {
  test.each([
    ["../etc/passwd", 2],
    ["/../../etc/passwd", 2],
    ["pxelinux.cfg/../../x", 2],
    ["escape", 2],
    ["dir", 2],
    ["bad\x01name", 2],
    ["no-such-file", 1],
    ["pxelinux.cfg/01-52-54-00-12-34-56", 1],
  ] as const)("RRQ %p → ERROR %p", async (name, code) => {
    expect(await errorCodeFor(rrq(name))).toBe(code);
  });

  test("unknown and mail modes: ERROR 4", async () => {
    expect(await errorCodeFor(rrq("big", "mail"))).toBe(4);
    expect(await errorCodeFor(rrq("big", "binary"))).toBe(4);
  });

  test("modes are case-insensitive", async () => {
    const p = await ask(rrq("pxelinux.cfg/C0A8000B", "OcTeT"));
    expect(p.op).toBe(Opcode.DATA);
  });

  test("WRQ is refused with a clear ERROR", async () => {
    const p = await ask(encodeRequest(Opcode.WRQ, "upload", "octet"));
    expect(p.op).toBe(Opcode.ERROR);
    if (p.op === Opcode.ERROR) expect(p.message).toContain("Write requests");
  });

  test("malformed requests: ERROR 4", async () => {
    expect(await errorCodeFor(new Uint8Array([0, 1, 65, 66]))).toBe(4);
    expect(await errorCodeFor(new Uint8Array([0, 9, 0, 0]))).toBe(4);
  });

  test("each refusal is logged with client and reason", async () => {
    await errorCodeFor(rrq("../etc/passwd"));
    const line = await server.waitForLog(/[^\n]*leaves the root[^\n]*/);
    expect(line).toContain('"client":"127.0.0.1:');
    expect(line).toContain('"outcome":"error"');
  });
});

describe("transfers", () => {
  test("symlink inside the root is served (pxelinux.cfg/C0A8000B → default.netboot-7.2)", async () => {
    const p = await ask(rrq("pxelinux.cfg/C0A8000B"));
    expect(p.op).toBe(Opcode.DATA);
    if (p.op === Opcode.DATA) expect(new TextDecoder().decode(p.data)).toBe("KERNEL vmlinuz-7.2\n");
  });

  test("OACK answers only the options asked, with the real tsize", async () => {
    const p = await ask(rrq("big", "octet", { tsize: "0", blksize: "1432", foo: "1" }));
    expect(p.op).toBe(Opcode.OACK);
    if (p.op === Opcode.OACK) expect([...p.options]).toEqual([["tsize", String(3 * 1024 * 1024)], ["blksize", "1432"]]);
  });

  test("a window of big blocks is shrunk to what a client's default receive buffer holds", async () => {
    const granted = async (blksize: string, windowsize: string) => {
      const p = await ask(rrq("big", "octet", { blksize, windowsize }));
      if (p.op !== Opcode.OACK) throw new Error(`expected OACK, got opcode ${p.op}`);
      return p.options.get("windowsize");
    };
    // 96 KiB of payload at most: past that a 208 KiB socket buffer drops the end of every window.
    expect(await granted("65464", "4")).toBe("1");
    expect(await granted("8192", "16")).toBe("12");
    expect(await granted("1468", "64")).toBe("64");
  });

  test("PXE size probe: ERROR 8 on the OACK ends quietly and is logged as a probe", async () => {
    const peer = await RawPeer.open();
    peer.send(rrq("big", "octet", { tsize: "0", blksize: "1432" }), server.port);
    const oack = (await peer.recv())!;
    expect(decodePacket(oack.data).op).toBe(Opcode.OACK);
    peer.send(encodeError(8, "tsize probe"), oack.port);
    expect(await peer.recv(1500)).toBeUndefined(); // nothing more: no retransmitted OACK, no error
    peer.close();
    await server.waitForLog(/"msg":"size probe"[^\n]*"outcome":"probe"/);
  });

  test("a stranger at a transfer's port gets ERROR 5 and the transfer goes on", async () => {
    const client = await RawPeer.open();
    const stranger = await RawPeer.open();
    client.send(rrq("big"), server.port);
    const d1 = (await client.recv())!;
    const p1 = decodePacket(d1.data);
    expect(p1.op === Opcode.DATA && p1.block).toBe(1);
    stranger.send(encodeAck(1), d1.port);
    const e = decodePacket((await stranger.recv())!.data);
    expect(e.op === Opcode.ERROR && e.code).toBe(5);
    client.send(encodeAck(1), d1.port);
    const d2 = decodePacket((await client.recv())!.data);
    expect(d2.op === Opcode.DATA && d2.block).toBe(2);
    client.send(encodeError(0, "done testing"), d1.port);
    client.close();
    stranger.close();
  });

  test("a retransmitted RRQ from the same port does not start a second transfer", async () => {
    const client = await RawPeer.open();
    const req = rrq("big", "octet", { blksize: "1024" });
    client.send(req, server.port);
    client.send(req, server.port);
    client.send(req, server.port);
    const first = (await client.recv())!;
    // Only retransmissions of the same OACK may follow, all from the same transfer port.
    const later: number[] = [];
    for (let d = await client.recv(300); d; d = await client.recv(300)) later.push(d.port);
    expect(later.every((p) => p === first.port)).toBe(true);
    client.send(encodeError(0, "bye"), first.port);
    client.close();
  });

  test("the next transfer from the same client port gets a new transfer ID; the old one's late ACK is dropped", async () => {
    const client = await RawPeer.open();
    client.send(rrq("pxelinux.cfg/default.netboot-7.2"), server.port);
    const d1 = (await client.recv())!;
    expect(decodePacket(d1.data)).toMatchObject({ op: Opcode.DATA, block: 1 });
    client.send(encodeAck(1), d1.port); // a short file: done
    await server.waitForLog(/"file":"pxelinux.cfg\/default.netboot-7.2"[^\n]*"outcome":"ok"/);
    client.send(rrq("big"), server.port);
    const n1 = (await client.recv())!;
    expect(decodePacket(n1.data)).toMatchObject({ op: Opcode.DATA, block: 1 });
    expect(n1.port).not.toBe(d1.port);
    // A duplicate of the first transfer's ACK arrives late at its old TID: no ERROR, no effect.
    client.send(encodeAck(1), d1.port);
    const stray = await client.recv(300);
    expect(stray === undefined || stray.port === n1.port).toBe(true);
    client.send(encodeAck(1), n1.port);
    let d2 = (await client.recv())!;
    while (decodePacket(d2.data).op === Opcode.DATA && (decodePacket(d2.data) as { block: number }).block === 1) d2 = (await client.recv())!;
    expect(decodePacket(d2.data)).toMatchObject({ op: Opcode.DATA, block: 2 });
    expect(d2.port).toBe(n1.port);
    client.send(encodeError(0, "done testing"), n1.port);
    client.close();
  });

  test("an unanswered transfer is retransmitted with backoff and then given up and logged", async () => {
    const s = await startServer(root, ["--timeout", "1", "--retries", "2", "--log-format", "json"]);
    try {
      const client = await RawPeer.open();
      client.send(rrq("big"), s.port);
      const seen: number[] = [];
      const t0 = Date.now();
      for (let d = await client.recv(4000); d; d = await client.recv(4000)) seen.push(Date.now() - t0);
      expect(seen.length).toBeGreaterThanOrEqual(3); // first send + at least two retransmissions
      await s.waitForLog(/"outcome":"timeout"/, 10_000);
      client.close();
    } finally {
      await s.stop();
    }
  }, 30_000);

  test("an empty file asked with options gets no OACK: DATA 1 with zero bytes, the transfer done on ACK 1", async () => {
    const asked: Record<string, string>[] = [{ tsize: "0" }, { tsize: "0", blksize: "1468", windowsize: "4" }, { blksize: "1468" }];
    for (const options of asked) {
      // An address of its own: what the server learned of 127.0.0.1's requests plays no part.
      const peer = await RawPeer.open("127.0.0.61");
      try {
        peer.send(rrq("empty", "octet", options), server.port);
        const d = await peer.recv();
        expect(d).toBeDefined();
        const p = decodePacket(d!.data);
        expect(p).toMatchObject({ op: Opcode.DATA, block: 1 });
        if (p.op === Opcode.DATA) expect(p.data.length).toBe(0);
        peer.send(encodeAck(1), d!.port);
        // Nothing more comes: the transfer ended on that ACK.
        expect(await peer.recv(300)).toBeUndefined();
      } finally {
        peer.close();
      }
    }
    await server.waitForLog(/"msg":"transfer ok","client":"127\.0\.0\.61:\d+","file":"empty"/);
  });
});
