/**
 * The worker-steering BPF program, run by a small interpreter of the instructions it uses over
 * hand-made IPv4 and IPv6 headers: the worker depends on the client's address alone, and every
 * worker gets clients.
 */
import { describe, expect, test } from "bun:test";
import { encodeProgram, steeringProgram } from "../../src/server/io/steer.ts";

const NET = 0xfff00000;

/** Runs the classic BPF program on a packet whose network header is `ip`. */
function run(program: Uint8Array, ip: Uint8Array): number {
  const view = new DataView(program.buffer);
  let a = 0;
  for (let pc = 0; pc < program.length / 8; pc++) {
    const code = view.getUint16(pc * 8, true);
    const jt = view.getUint8(pc * 8 + 2);
    const jf = view.getUint8(pc * 8 + 3);
    const k = view.getUint32(pc * 8 + 4, true);
    const off = k - NET;
    switch (code) {
      case 0x30:
        a = ip[off]!;
        break;
      case 0x20:
        a = ((ip[off]! << 24) | (ip[off + 1]! << 16) | (ip[off + 2]! << 8) | ip[off + 3]!) >>> 0;
        break;
      case 0x74:
        a = a >>> k;
        break;
      case 0x94:
        a = a % k;
        break;
      case 0x15:
        pc += a === k ? jt : jf;
        break;
      case 0x05:
        pc += k;
        break;
      case 0x16:
        return a;
      default:
        throw new Error(`opcode ${code.toString(16)} not interpreted`);
    }
  }
  throw new Error("fell off the end");
}

function ipv4(src: string): Uint8Array {
  const h = new Uint8Array(20);
  h[0] = 0x45;
  h.set(src.split(".").map(Number), 12);
  h.set([10, 0, 0, 1], 16);
  return h;
}

function ipv6(lastWord: number): Uint8Array {
  const h = new Uint8Array(40);
  h[0] = 0x60;
  h.set([0x20, 0x01, 0x0d, 0xb8], 8);
  new DataView(h.buffer).setUint32(20, lastWord);
  h[39] = 1; // destination
  return h;
}

describe("steering by client address", () => {
  test("IPv4: the worker is the source address modulo the worker count", () => {
    const p = encodeProgram(steeringProgram(4));
    expect(run(p, ipv4("192.168.0.11"))).toBe(0xc0a8000b % 4);
    expect(run(p, ipv4("192.168.0.12"))).toBe(0xc0a8000c % 4);
  });

  test("IPv6: the last 32 bits of the source address", () => {
    const p = encodeProgram(steeringProgram(3));
    expect(run(p, ipv6(0x1234567))).toBe(0x1234567 % 3);
  });

  test("a /24 of hosts spreads over every worker, evenly", () => {
    for (const workers of [2, 3, 8]) {
      const p = encodeProgram(steeringProgram(workers));
      const counts = new Array(workers).fill(0);
      for (let host = 1; host <= 240; host++) counts[run(p, ipv4(`10.1.2.${host}`))]++;
      for (const c of counts) expect(c).toBe(240 / workers);
    }
  });

  test("the program is 8 instructions of 8 bytes, the layout of struct sock_filter", () => {
    const p = encodeProgram(steeringProgram(2));
    expect(p.length).toBe(64);
    expect(new DataView(p.buffer).getUint16(7 * 8, true)).toBe(0x16); // ret a
  });
});
