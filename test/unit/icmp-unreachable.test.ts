import { describe, expect, test } from "bun:test";
import { parseUnreachable } from "../../src/server/io/icmp-unreachable.ts";

/** An ICMP port unreachable as a raw IPv4 socket reads it: quoting our DATA from 10.0.0.1:40000 to 10.0.0.5:2000. */
function v4(opts: { type?: number; code?: number; proto?: number; opcode?: number } = {}): Uint8Array {
  const b = new Uint8Array(20 + 8 + 20 + 8 + 4);
  b[0] = 0x45;
  b.set([10, 0, 0, 5], 12); // the client's host sends it
  b.set([10, 0, 0, 1], 16);
  b[20] = opts.type ?? 3;
  b[21] = opts.code ?? 3;
  const inner = 28;
  b[inner] = 0x45;
  b[inner + 9] = opts.proto ?? 17;
  b.set([10, 0, 0, 1], inner + 12);
  b.set([10, 0, 0, 5], inner + 16);
  b.set([40000 >> 8, 40000 & 0xff, 2000 >> 8, 2000 & 0xff], inner + 20);
  b.set([0, opts.opcode ?? 3, 0, 1], inner + 28);
  return b;
}

function v6(): Uint8Array {
  const b = new Uint8Array(8 + 40 + 8 + 4);
  b[0] = 1;
  b[1] = 4;
  b[8] = 0x60;
  b[8 + 6] = 17;
  b.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8 + 8);
  b.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5], 8 + 24);
  b.set([40000 >> 8, 40000 & 0xff, 2000 >> 8, 2000 & 0xff], 48);
  b.set([0, 6], 56);
  return b;
}

describe("ICMP port unreachable: which of our datagrams it quotes", () => {
  test("IPv4: our port, the client's address and port", () => {
    expect(parseUnreachable(v4(), 4)).toEqual({ localAddress: "10.0.0.1", localPort: 40000, address: "10.0.0.5", port: 2000 });
  });

  test("IPv6: the same from an ICMPv6 socket (no IP header in front)", () => {
    expect(parseUnreachable(v6(), 6)).toEqual({ localAddress: "fd00::1", localPort: 40000, address: "fd00::5", port: 2000 });
  });

  test("anything else is not a vanished client: other ICMP, other protocols, datagrams we never send, short reads", () => {
    expect(parseUnreachable(v4({ code: 1 }), 4)).toBeUndefined(); // host unreachable
    expect(parseUnreachable(v4({ type: 11 }), 4)).toBeUndefined();
    expect(parseUnreachable(v4({ proto: 6 }), 4)).toBeUndefined();
    expect(parseUnreachable(v4({ opcode: 1 }), 4)).toBeUndefined(); // an RRQ: not from this server
    for (let n = 0; n < 58; n++) expect(parseUnreachable(v4().subarray(0, n), 4)).toBeUndefined();
    for (let n = 0; n < 58; n++) expect(parseUnreachable(v6().subarray(0, n), 6)).toBeUndefined();
  });
});
