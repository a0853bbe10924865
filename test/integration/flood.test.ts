/**
 * No datagram, however malformed or oversized, may crash the server or stall a transfer: throw
 * tens of thousands of them at the request port and at a live transfer's port while the transfer
 * runs, then check the transfer's bytes and that the server still serves.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { RawPeer, randomFile, run, scratchRoot, sha256, startServer, type ServerProcess } from "./harness.ts";

let server: ServerProcess;
const { root, cleanup } = scratchRoot("flood");
let file: Uint8Array;

beforeAll(async () => {
  file = randomFile(join(root, "payload"), 4 * 1024 * 1024 + 123, 99);
  server = await startServer(root, ["--log-format", "json", "--quiet"]);
});
afterAll(async () => {
  await server?.stop();
  cleanup();
});

test("a garbage flood does not crash the server or disturb a running transfer", async () => {
  const client = await RawPeer.open();
  client.send(encodeRequest(Opcode.RRQ, "payload", "octet", new Map([["blksize", "1024"]])), server.port);
  const oack = (await client.recv())!;
  expect(decodePacket(oack.data).op).toBe(Opcode.OACK);
  const tid = oack.port;

  const flood = Bun.spawn([process.execPath, join(import.meta.dir, "flood.ts"), String(server.port), String(tid), "40000", "7"], {
    stdout: "pipe",
    stderr: "inherit",
  });

  // Drive the transfer to its end in lockstep while the flood runs, as a real client would.
  const got = new Uint8Array(file.length);
  let pos = 0;
  let expectBlock = 1;
  let lastAck = 0;
  client.send(encodeAck(0), tid);
  const deadline = Date.now() + 90_000;
  let done = false;
  while (!done && Date.now() < deadline) {
    const d = await client.recv(500);
    if (!d) {
      client.send(encodeAck(lastAck), tid); // our ACK or its DATA was lost in the flood: ask again
      continue;
    }
    if (d.port !== tid) continue;
    const p = decodePacket(d.data);
    if (p.op !== Opcode.DATA) throw new Error(`unexpected opcode ${p.op}`);
    if (p.block === (expectBlock & 0xffff)) {
      got.set(p.data, pos);
      pos += p.data.length;
      lastAck = p.block;
      expectBlock++;
      if (p.data.length < 1024) done = true;
    }
    client.send(encodeAck(lastAck), tid);
  }
  client.close();
  const floodOut = await new Response(flood.stdout).text();
  await flood.exited;
  expect(floodOut).toMatch(/sent \d+/);
  expect(Number(floodOut.match(/sent (\d+)/)![1])).toBeGreaterThan(20_000);
  expect(done).toBe(true);
  expect(pos).toBe(file.length);
  expect(sha256(got)).toBe(sha256(file));

  // Still alive and serving.
  expect(server.proc.exitCode).toBeNull();
  const r = await run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", `tftp://127.0.0.1:${server.port}/payload`]);
  expect(r.stdout).toBe(String(file.length));
}, 120_000);
