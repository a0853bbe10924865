/**
 * A client whose socket vanished mid-transfer (its host answers our DATA with ICMP port
 * unreachable) ends only its own transfer: another client on the same server, sharing nothing
 * with it, finishes intact.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { eventually, RawPeer, randomFile, scratchRoot, sha256, startServer, type ServerProcess } from "./harness.ts";

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
  // The vanished one ended on its own (timed out), and the server is still up.
  expect(await eventually(() => /transfer timed out .*client=127\.0\.0\.31:/.test(server.log()), 20_000)).toBe(true);
  expect(server.proc.exitCode).toBeNull();
  expect(server.log()).toMatch(/transfer ok .*client=127\.0\.0\.32:/);
}, 60_000);
