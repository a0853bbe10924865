/**
 * No byte a client chose reaches the log raw: a file name and a mode carrying ESC, BEL and a C1
 * control (CSI) would retitle or repaint the terminal of whoever tails the log.
 */
import { afterAll, expect, test } from "bun:test";
import { encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { eventually, RawPeer, scratchRoot, startServer } from "./harness.ts";

const { root, cleanup } = scratchRoot("log-bytes");
afterAll(cleanup);

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]/;

for (const format of ["pretty", "json"]) {
  test(`${format} log lines escape the control bytes of hostile names and modes`, async () => {
    const s = await startServer(root, ["--log-format", format, "--verbose"]);
    const peer = await RawPeer.open();
    try {
      // A missing file (logged at warning) and an unknown mode (refused, logged), both hostile.
      peer.send(encodeRequest(Opcode.RRQ, "vmlinuz\x1b]0;owned\x07\x9b2J", "octet"), s.port);
      peer.send(encodeRequest(Opcode.RRQ, "x", "octet\x1b[2J\x9d"), s.port);
      await peer.recv(2000);
      await peer.recv(2000);
      expect(await eventually(() => /owned/.test(s.log()) && /2J/.test(s.log().split("octet").slice(1).join("octet")), 5000)).toBe(true);
    } finally {
      peer.close();
      await s.stop();
    }
    for (const line of s.log().split("\n")) expect([line, RAW_CONTROL.test(line)]).toEqual([line, false]);
    expect(s.log()).toMatch(format === "json" ? /\\u001b\]0;owned\\u0007/ : /\\x1b\]0;owned\\x07/);
  }, 20_000);
}
