/**
 * A spoofed RRQ makes the server talk to whoever the source address names. It must not send
 * that victim more than a trickle: before the client has answered once, one datagram at a time
 * whatever windowsize it asked for (the OACK, retransmitted with backoff), and one address gets
 * at most --per-client-max transfers.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { RawPeer, randomFile, scratchRoot, startServer, type ServerProcess } from "./harness.ts";

let server: ServerProcess;
const { root, cleanup } = scratchRoot("amplification");

beforeAll(async () => {
  randomFile(join(root, "big"), 4 * 1024 * 1024, 3);
  server = await startServer(root, ["--per-client-max", "2", "--retries", "3", "--timeout", "1"]);
});
afterAll(async () => {
  await server?.stop();
  cleanup();
});

/** Everything that reaches `peer` within `ms`, as datagram sizes. */
async function collect(peer: RawPeer, ms: number): Promise<number[]> {
  const sizes: number[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return sizes;
    const d = await peer.recv(left);
    if (d) sizes.push(d.data.length);
  }
}

test("a silent 'client' asking for windowsize 64 × blksize 65464 gets one small datagram at a time", async () => {
  const victim = await RawPeer.open("127.0.0.77");
  try {
    const request = encodeRequest(Opcode.RRQ, "big", "octet", new Map([["blksize", "65464"], ["windowsize", "64"], ["tsize", "0"]]));
    victim.send(request, server.port);
    // The victim never answers: the server may only retransmit its OACK, with backoff, then give up.
    const sizes = await collect(victim, 6000);
    expect(sizes.length).toBeGreaterThanOrEqual(1);
    expect(sizes.length).toBeLessThanOrEqual(1 + 3); // the OACK and its retries
    expect(Math.max(...sizes)).toBeLessThan(100); // OACKs, never a 64 KiB DATA
    const sent = sizes.reduce((a, b) => a + b, 0);
    expect(sent).toBeLessThan(4 * request.length + 64); // no more than a few times what "it" sent
  } finally {
    victim.close();
  }
}, 20_000);

test("a client that never answers draws at most 4× its request in bytes over the whole transfer, fallbacks included", async () => {
  // Short timers so the whole ladder (OACK, its fallback OACK, then plain DATA 1) runs in seconds.
  const s = await startServer(root, ["--timeout", "0.2", "--retries", "3"]);
  const victim = await RawPeer.open("127.0.0.78");
  try {
    const request = encodeRequest(Opcode.RRQ, "big", "octet", new Map([["blksize", "65464"], ["windowsize", "64"]]));
    victim.send(request, s.port);
    await s.waitForLog(/transfer timed out .*client=127\.0\.0\.78:/, 20_000);
    const sizes = await collect(victim, 300);
    const sent = sizes.reduce((a, b) => a + b, 0);
    // Before: 4 copies of a 516-byte DATA 1 after the OACKs, 2,152 bytes for a 40-byte request (54×).
    expect(sizes.length).toBeGreaterThanOrEqual(2); // the OACK was resent
    expect(sent).toBeLessThanOrEqual(4 * request.length);
    expect(Math.max(...sizes)).toBeLessThan(100); // no DATA
  } finally {
    victim.close();
    await s.stop();
  }
}, 30_000);

test("one address gets at most --per-client-max transfers; others are served", async () => {
  const ports = await Promise.all([0, 1, 2].map(() => RawPeer.open("127.0.0.88")));
  const other = await RawPeer.open("127.0.0.89");
  try {
    for (const p of ports) p.send(encodeRequest(Opcode.RRQ, "big", "octet"), server.port);
    const answered = await Promise.all(ports.map(async (p) => (await p.recv(1500)) !== undefined));
    expect(answered.filter(Boolean).length).toBe(2);
    other.send(encodeRequest(Opcode.RRQ, "big", "octet"), server.port);
    expect(await other.recv(1500)).toBeDefined();
    await server.waitForLog(/requests over --per-client-max not answered .*lastClient=127\.0\.0\.88/, 5000);
  } finally {
    for (const p of [...ports, other]) p.close();
  }
}, 20_000);

test("one address gets at most --per-client-rate new requests a second (bursts of twice that)", async () => {
  const s = await startServer(root, ["--per-client-rate", "5", "--per-client-max", "0"]);
  const peers = await Promise.all(Array.from({ length: 30 }, () => RawPeer.open("127.0.0.99")));
  try {
    for (const p of peers) p.send(encodeRequest(Opcode.RRQ, "big", "octet"), s.port);
    const answered = (await Promise.all(peers.map(async (p) => (await p.recv(1500)) !== undefined))).filter(Boolean).length;
    // The burst of 10, plus what trickled in at 5/s while they were sent.
    expect(answered).toBeGreaterThanOrEqual(10);
    expect(answered).toBeLessThanOrEqual(13);
    await s.waitForLog(/requests over --per-client-rate not answered .*lastClient=127\.0\.0\.99/, 5000);
  } finally {
    for (const p of peers) p.close();
    await s.stop();
  }
}, 20_000);
