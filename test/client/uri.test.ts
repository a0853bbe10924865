/** RFC 3617 URI parsing: hosts, ports, IPv6 brackets, ;mode=, percent-decoding, refusals. */
import { describe, expect, test } from "bun:test";
import { parseTftpUri, resolveHost, UriError, type TftpUri } from "../../src/client/uri.ts";

describe("parseTftpUri", () => {
  test.each<[string, TftpUri]>([
    ["tftp://10.0.0.1/pxelinux.0", { host: "10.0.0.1", port: 69, file: "pxelinux.0", mode: undefined }],
    ["tftp://boot.example:1069/a/b/vmlinuz", { host: "boot.example", port: 1069, file: "a/b/vmlinuz", mode: undefined }],
    ["tftp://[::1]:6969/x", { host: "::1", port: 6969, file: "x", mode: undefined }],
    ["tftp://[fe80::1]/x", { host: "fe80::1", port: 69, file: "x", mode: undefined }],
    ["TFTP://h/notes.txt;mode=netascii", { host: "h", port: 69, file: "notes.txt", mode: "netascii" }],
    ["tftp://h/f;MODE=Octet", { host: "h", port: 69, file: "f", mode: "octet" }],
    ["tftp://h/my%20file%3Bx", { host: "h", port: 69, file: "my file;x", mode: undefined }],
    ["tftp://h//abs/path", { host: "h", port: 69, file: "/abs/path", mode: undefined }],
    ["tftp://h:/f", { host: "h", port: 69, file: "f", mode: undefined }],
  ])("%s", (uri, expected) => {
    expect(parseTftpUri(uri)).toEqual(expected);
  });

  test.each([
    "http://h/f",
    "tftp://h",
    "tftp://h/",
    "tftp:///f",
    "tftp://h:0/f",
    "tftp://h:70000/f",
    "tftp://[10.0.0.1]/f",
    "tftp://::1/f",
    "tftp://h/f;mode=mail",
    "tftp://h/%zz",
    "tftp://h/a%00b",
  ])("refuses %s", (uri) => {
    expect(() => parseTftpUri(uri)).toThrow(UriError);
  });
});

describe("resolveHost", () => {
  test("literals pass through untouched", async () => {
    expect(await resolveHost("127.0.0.1")).toBe("127.0.0.1");
    expect(await resolveHost("::1")).toBe("::1");
  });
  test("localhost resolves to a loopback address", async () => {
    expect(["127.0.0.1", "::1"]).toContain(await resolveHost("localhost"));
  });
});
