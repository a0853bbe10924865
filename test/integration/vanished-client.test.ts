/**
 * A client whose socket vanished mid-transfer (its host answers our DATA with ICMP port
 * unreachable) ends only its own transfer, at the first ICMP (the server reads them on a raw
 * socket, which needs root): another client on the same server, sharing nothing with it,
 * finishes intact.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { UnreachableWatch, type Unreachable } from "../../src/server/io/icmp-unreachable.ts";
import { testNeeding } from "../gate.ts";
import { eventually, RawPeer, randomFile, scratchRoot, sha256, startServer, type ServerProcess } from "./harness.ts";

/** Only root (CAP_NET_RAW) reads ICMP; otherwise a vanished client's transfer ends after its retries. */
const asRoot = process.getuid?.() === 0;
/** ICMP port unreachable is read from a raw socket: CAP_NET_RAW, which the server has when started as root. */
const ROOT_FOR_ICMP = { present: asRoot, what: "root (the raw ICMP socket needs CAP_NET_RAW)" };
let server: ServerProcess;
const { root, cleanup } = scratchRoot("vanished");
let file: Uint8Array;

beforeAll(async () => {
  file = randomFile(join(root, "payload"), 1024 * 1024 + 5, 21);
  server = await startServer(root, ["--timeout", "1", "--retries", "2"]);
});
afterAll(async () => {
  await server?.stop();
  cleanup();
});

test("ICMP port unreachable for one client leaves the others alone", async () => {
  // The one that vanishes: it takes the OACK and two blocks, then its socket closes.
  const gone = await RawPeer.open("127.0.0.31");
  gone.send(encodeRequest(Opcode.RRQ, "payload", "octet", new Map([["blksize", "1024"], ["windowsize", "4"]])), server.port);
  const oack = (await gone.recv())!;
  expect(decodePacket(oack.data).op).toBe(Opcode.OACK);
  gone.send(encodeAck(0), oack.port);
  expect(await gone.recv()).toBeDefined();
  gone.close();

  // The survivor, lockstep from another address, all the way.
  const peer = await RawPeer.open("127.0.0.32");
  peer.send(encodeRequest(Opcode.RRQ, "payload", "octet", new Map([["blksize", "1024"]])), server.port);
  const first = (await peer.recv())!;
  const tid = first.port;
  const got = new Uint8Array(file.length);
  let pos = 0;
  let last = 0;
  peer.send(encodeAck(0), tid);
  for (let i = 0; i < 5000; i++) {
    const d = await peer.recv(2000);
    if (!d) {
      peer.send(encodeAck(last), tid);
      continue;
    }
    const p = decodePacket(d.data);
    if (p.op !== Opcode.DATA) throw new Error(`unexpected opcode ${p.op}`);
    if (p.block === ((last + 1) & 0xffff)) {
      got.set(p.data, pos);
      pos += p.data.length;
      last = p.block;
    }
    peer.send(encodeAck(last), tid);
    if (p.data.length < 1024 && pos === file.length) break;
  }
  peer.close();
  expect(pos).toBe(file.length);
  expect(sha256(got)).toBe(sha256(file));
  // The vanished one ended on its own (at the ICMP, or timed out without root), and the server is still up.
  const ended = asRoot ? /transfer failed .*client=127\.0\.0\.31:.*client port unreachable \(ICMP\)/ : /transfer timed out .*client=127\.0\.0\.31:/;
  expect(await eventually(() => ended.test(server.log()), 20_000)).toBe(true);
  expect(server.proc.exitCode).toBeNull();
  // Its last ACK may reach the server after the loop above ended: the log line comes a moment later.
  await server.waitForLog(/transfer ok .*client=127\.0\.0\.32:/, 5000);
}, 60_000);

testNeeding(ROOT_FOR_ICMP, "a client that closes its socket after ACK 0 gets the window in flight and no more: ICMP ends its transfer at once", async () => {
  // A server of its own with the default timers: before, it resent windows into the closed port for ~30 s.
  const s = await startServer(root, ["--log-format", "json"]);
  const watch = UnreachableWatch.open()!;
  expect(watch).not.toBeNull();
  try {
    const seen: Unreachable[] = [];
    watch.poll(() => {});
    const gone = await RawPeer.open("127.0.0.33");
    const clientPort = gone.socket.port;
    gone.send(encodeRequest(Opcode.RRQ, "payload", "octet", new Map([["blksize", "1024"], ["windowsize", "16"]])), s.port);
    const oack = (await gone.recv())!;
    expect(decodePacket(oack.data).op).toBe(Opcode.OACK);
    gone.send(encodeAck(0), oack.port);
    gone.close();
    // Every ICMP port unreachable the client's host sent back is one datagram that reached the closed port.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      watch.poll((u) => u.address === "127.0.0.33" && u.port === clientPort && seen.push(u));
      await Bun.sleep(20);
    }
    // The window that left with the answer to ACK 0 (16 blocks), nothing after; before: 48 in these 3 s.
    console.log(`datagrams that reached the closed port in 3 s: ${seen.length}`);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeLessThanOrEqual(16);
    const line = await s.waitForLog(/"msg":"transfer failed","client":"127\.0\.0\.33:\d+".*/, 1000);
    expect(line).toContain("client port unreachable (ICMP)");
  } finally {
    watch.close();
    await s.stop();
  }
}, 30_000);
