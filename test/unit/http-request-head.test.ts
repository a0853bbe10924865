import { describe, expect, test } from "bun:test";
import { MAX_BODY_BYTES, MAX_HEAD_BYTES, parseHead } from "../../src/http/request-head.ts";

const b = (s: string) => Buffer.from(s, "latin1");

describe("parseHead: one request head off the front of a connection's bytes", () => {
  test("a GET, its fields lower-cased, and where the next request starts", () => {
    const one = "GET /a/b?x HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\n";
    const r = parseHead(b(one + "GET /c HTTP/1.1\r\nHost: h\r\n\r\n"));
    expect(r.kind).toBe("request");
    if (r.kind !== "request") return;
    expect(r.head).toMatchObject({ method: "GET", target: "/a/b?x", version: "HTTP/1.1", keepAlive: true, length: one.length });
    expect(r.head.fields).toEqual([["host", "h"], ["range", "bytes=0-1"]]);
  });

  test("incomplete until the blank line (and the announced body) is there", () => {
    expect(parseHead(b("GET / HTTP/1.1\r\nHost: h\r\n")).kind).toBe("incomplete");
    expect(parseHead(b("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab")).kind).toBe("incomplete");
    const r = parseHead(b("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcdGET"));
    expect(r.kind === "request" && r.head.length).toBe(50);
  });

  test.each([
    ["two Host headers (RFC 9112 §3.2)", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["two Host headers, same value", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400],
    ["a Host list", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400],
    ["no Host in 1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400],
    ["a malformed request line", "GET /\r\nHost: a\r\n\r\n", 400],
    ["obsolete line folding", "GET / HTTP/1.1\r\nHost: a\r\n x\r\n\r\n", 400],
    ["a space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400],
    ["conflicting Content-Length", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400],
    ["a non-numeric Content-Length", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400],
    ["Transfer-Encoding", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501],
    ["HTTP/2.0 in a 1.1 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    ["a body too big to skip", `GET / HTTP/1.1\r\nHost: a\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`, 413],
  ])("refused: %s", (_, text, status) => {
    const r = parseHead(b(text));
    expect(r.kind).toBe("bad");
    expect(r.kind === "bad" ? r.status : 0).toBe(status);
  });

  test("a head past the limit is 431 even before its end arrives", () => {
    const r = parseHead(b("GET / HTTP/1.1\r\nX: " + "a".repeat(MAX_HEAD_BYTES)));
    expect(r.kind === "bad" && r.status).toBe(431);
  });

  test("keep-alive: 1.1 unless Connection: close; 1.0 never", () => {
    const k = (s: string) => {
      const r = parseHead(b(s));
      return r.kind === "request" && r.head.keepAlive;
    };
    expect(k("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, Close\r\n\r\n")).toBe(false);
    expect(k("GET / HTTP/1.0\r\n\r\n")).toBe(false);
    expect(k("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).toBe(false);
    expect(k("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")).toBe(true);
  });
});
