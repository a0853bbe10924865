import { describe, expect, test } from "bun:test";
import { decodePacket, encodeAck, encodeData, encodeError, encodeOack, encodeRequest, isDecodeFailure } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";

describe("packet codec", () => {
  test("RRQ round trip with options, names lower-cased, mode lower-cased", () => {
    const bytes = encodeRequest(Opcode.RRQ, "pxelinux.0", "OCTET", new Map([["BlkSize", "1468"], ["tsize", "0"]]));
    const p = decodePacket(bytes);
    expect(p).toEqual({ op: Opcode.RRQ, filename: "pxelinux.0", mode: "octet", options: new Map([["blksize", "1468"], ["tsize", "0"]]) });
  });

  test("first occurrence of a repeated option wins; odd trailing field ignored", () => {
    const raw = new TextEncoder().encode("\0\x01f\0octet\0blksize\x001024\0blksize\x00512\0dangling\0");
    const p = decodePacket(raw);
    expect(isDecodeFailure(p)).toBe(false);
    if (p.op !== Opcode.RRQ) throw new Error("not an RRQ");
    expect(p.options.get("blksize")).toBe("1024");
    expect(p.options.has("dangling")).toBe(false);
  });

  test("malformed requests are failures, not exceptions", () => {
    for (const raw of ["\0\x01", "\0\x01file", "\0\x01file\0", "\0\x01file\0octet", "\0\x02\0"]) {
      const p = decodePacket(new TextEncoder().encode(raw));
      expect(isDecodeFailure(p)).toBe(true);
    }
  });

  test("truncated and unknown packets", () => {
    expect(isDecodeFailure(decodePacket(new Uint8Array([0])))).toBe(true);
    expect(isDecodeFailure(decodePacket(new Uint8Array([0, 4, 1])))).toBe(true);
    expect(isDecodeFailure(decodePacket(new Uint8Array([0, 3, 0])))).toBe(true);
    expect(isDecodeFailure(decodePacket(new Uint8Array([0, 9, 0, 0])))).toBe(true);
    expect(isDecodeFailure(decodePacket(new Uint8Array([0xff, 0xff, 0, 0])))).toBe(true);
  });

  test("DATA, ACK, ERROR, OACK encode/decode", () => {
    expect(decodePacket(encodeAck(65535))).toEqual({ op: Opcode.ACK, block: 65535 });
    const d = decodePacket(encodeData(258, Uint8Array.of(1, 2, 3)));
    expect(d.op).toBe(Opcode.DATA);
    if (d.op === Opcode.DATA) {
      expect(d.block).toBe(258);
      expect([...d.data]).toEqual([1, 2, 3]);
    }
    expect(decodePacket(encodeError(1, "File not found"))).toEqual({ op: Opcode.ERROR, code: 1, message: "File not found" });
    expect(decodePacket(encodeOack(new Map([["tsize", "42"]])))).toEqual({ op: Opcode.OACK, options: new Map([["tsize", "42"]]) });
  });

  test("ERROR messages are sanitised to printable ASCII and bounded", () => {
    const p = decodePacket(encodeError(0, "bad\nname\u00e9" + "x".repeat(500)));
    if (p.op !== Opcode.ERROR) throw new Error("not an error");
    expect(p.message.startsWith("bad?name?")).toBe(true);
    expect(p.message.length).toBe(200);
  });

  test("ERROR without terminating NUL still decodes", () => {
    const p = decodePacket(new Uint8Array([0, 5, 0, 2, 65, 66]));
    expect(p).toEqual({ op: Opcode.ERROR, code: 2, message: "AB" });
  });

  test("random bytes never throw", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 20000; i++) {
      const len = rand() % 64;
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = rand() % 4 === 0 ? 0 : rand();
      if (len >= 2) b[1] = rand() % 8;
      if (len >= 1) b[0] = 0;
      expect(() => decodePacket(b)).not.toThrow();
    }
  });
});
