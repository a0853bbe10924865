import { describe, expect, test } from "bun:test";
import { contentType, etagOf, fileHeaders, lastModified, notModified, parseRange, rangeStillValid, type FileFacts } from "../../src/http/headers.ts";

const facts: FileFacts = { size: 1000, mtimeMs: Date.UTC(2026, 0, 2, 3, 4, 5, 678), ino: 42 };
const h = (o: Record<string, string>) => new Headers(o);

describe("contentType", () => {
  test("boot files by extension, kernels and initrds as octet-stream, configs as text", () => {
    expect(contentType("ipxe.efi")).toBe("application/efi");
    expect(contentType("pxelinux.0")).toBe("application/octet-stream");
    expect(contentType("images/debian/vmlinuz")).toBe("application/octet-stream");
    expect(contentType("images/debian/initrd.img")).toBe("application/octet-stream");
    expect(contentType("boot.ipxe")).toMatch(/^text\/plain/);
    expect(contentType("grub/grub.cfg")).toMatch(/^text\/plain/);
    expect(contentType("pxelinux.cfg/C0A8000B")).toMatch(/^text\/plain/);
    expect(contentType(".hidden")).toBe("application/octet-stream");
  });
});

describe("validators", () => {
  test("the ETag changes with inode, size and time; Last-Modified is an HTTP date", () => {
    const e = etagOf(facts);
    expect(e).toMatch(/^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    expect(etagOf({ ...facts, ino: 43 })).not.toBe(e);
    expect(etagOf({ ...facts, size: 1001 })).not.toBe(e);
    expect(etagOf({ ...facts, mtimeMs: facts.mtimeMs + 1 })).not.toBe(e);
    expect(lastModified(facts)).toBe("Fri, 02 Jan 2026 03:04:05 GMT");
    expect(fileHeaders("a.efi", facts)).toMatchObject({ etag: e, "accept-ranges": "bytes" });
  });

  test("If-None-Match decides before If-Modified-Since", () => {
    const e = etagOf(facts);
    expect(notModified(h({}), facts)).toBe(false);
    expect(notModified(h({ "if-none-match": e }), facts)).toBe(true);
    expect(notModified(h({ "if-none-match": `"x", W/${e}` }), facts)).toBe(true);
    expect(notModified(h({ "if-none-match": "*" }), facts)).toBe(true);
    expect(notModified(h({ "if-none-match": '"other"', "if-modified-since": lastModified(facts) }), facts)).toBe(false);
  });

  test("If-Modified-Since compares whole seconds", () => {
    expect(notModified(h({ "if-modified-since": lastModified(facts) }), facts)).toBe(true);
    expect(notModified(h({ "if-modified-since": new Date(facts.mtimeMs - 1000).toUTCString() }), facts)).toBe(false);
    expect(notModified(h({ "if-modified-since": "not a date" }), facts)).toBe(false);
  });

  test("If-Range keeps a range only for the current copy", () => {
    expect(rangeStillValid(h({}), facts)).toBe(true);
    expect(rangeStillValid(h({ "if-range": etagOf(facts) }), facts)).toBe(true);
    expect(rangeStillValid(h({ "if-range": '"old"' }), facts)).toBe(false);
    expect(rangeStillValid(h({ "if-range": lastModified(facts) }), facts)).toBe(true);
    expect(rangeStillValid(h({ "if-range": "Thu, 01 Jan 2026 00:00:00 GMT" }), facts)).toBe(false);
  });
});

describe("parseRange", () => {
  test("single ranges, open-ended and suffix", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual({ kind: "partial", start: 0, end: 99 });
    expect(parseRange("bytes=900-", 1000)).toEqual({ kind: "partial", start: 900, end: 999 });
    expect(parseRange("bytes=-100", 1000)).toEqual({ kind: "partial", start: 900, end: 999 });
    expect(parseRange("bytes=-5000", 1000)).toEqual({ kind: "partial", start: 0, end: 999 });
    expect(parseRange("bytes=990-5000", 1000)).toEqual({ kind: "partial", start: 990, end: 999 });
  });

  test("past the end is unsatisfiable", () => {
    expect(parseRange("bytes=1000-", 1000)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-0", 1000)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=0-", 0)).toEqual({ kind: "unsatisfiable" });
  });

  test("no header, other units, several ranges and nonsense get the whole file", () => {
    expect(parseRange(null, 1000)).toEqual({ kind: "whole" });
    expect(parseRange("items=0-1", 1000)).toEqual({ kind: "whole" });
    expect(parseRange("bytes=0-1,5-6", 1000)).toEqual({ kind: "whole" });
    expect(parseRange("bytes=5-1", 1000)).toEqual({ kind: "whole" });
    expect(parseRange("bytes=-", 1000)).toEqual({ kind: "whole" });
  });
});
