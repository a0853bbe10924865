import { describe, expect, test } from "bun:test";
import { fromNetascii, NetasciiDecoder, toNetascii } from "../../src/protocol/netascii.ts";

const b = (s: string) => new TextEncoder().encode(s);
const s = (u: Uint8Array) => new TextDecoder().decode(u);

describe("netascii", () => {
  test("LF → CR LF and CR → CR NUL on the wire", () => {
    expect(s(toNetascii(b("a\nb\rc\r\n")))).toBe("a\r\nb\r\0c\r\0\r\n");
  });
  test("text without line ends is passed through unchanged", () => {
    const x = b("plain");
    expect(toNetascii(x)).toBe(x);
  });
  test("round trip", () => {
    for (const t of ["", "\n", "\r", "\r\n", "a\r\r\n\n", "x".repeat(1000) + "\r"]) expect(s(fromNetascii(toNetascii(b(t))))).toBe(t);
  });
  test("a CR split across blocks is decoded correctly", () => {
    const d = new NetasciiDecoder();
    const out = [d.push(b("ab\r")), d.push(b("\ncd\r")), d.push(b("\0e\r")), d.end()];
    expect(out.map(s).join("")).toBe("ab\ncd\re\r");
  });
});
