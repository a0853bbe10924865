import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readNoWait, type NoWaitResult } from "../../src/files/nowait.ts";
import { FdSource } from "../../src/files/source.ts";
import { TftpError } from "../../src/protocol/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "pxeboot-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + (i >> 9)) & 0xff;
  writeFileSync(join(dir, name), b);
  return b;
}

/** As if nothing were in the page cache: every chunk goes to a background read. */
const diskBound = (): NoWaitResult => "wait";

describe("streaming file source", () => {
  test("sequential blocks, go-backs and chunk boundaries read the right bytes", () => {
    const data = file("a", 300_001);
    const src = new FdSource(openSync(join(dir, "a"), "r"), data.length);
    const out = new Uint8Array(1472);
    const check = (pos: number, len: number) => {
      src.read(out, 4, pos, len);
      expect(Buffer.compare(out.subarray(4, 4 + len), data.subarray(pos, pos + len))).toBe(0);
    };
    for (let pos = 0; pos < data.length; pos += 1468) check(pos, Math.min(1468, data.length - pos));
    check(65_000, 1468); // straddles the first 64 KiB chunk's end
    check(0, 1468); // go back to the start
    check(data.length - 1, 1);
    src.close();
    src.close(); // idempotent
  });

  test("blocks larger than a quarter chunk are read directly", () => {
    const data = file("b", 200_000);
    const src = new FdSource(openSync(join(dir, "b"), "r"), data.length);
    const out = new Uint8Array(65_464);
    src.read(out, 0, 100_000, 65_464);
    expect(Buffer.compare(out, data.subarray(100_000, 165_464))).toBe(0);
    src.close();
  });

  test("read() says \"not yet\" until the chunk has landed off the event loop, then calls onReady", async () => {
    const data = file("d", 500_000);
    const src = new FdSource(openSync(join(dir, "d"), "r"), data.length, undefined, diskBound);
    const out = new Uint8Array(1472);
    let waits = 0;
    let pos = 0;
    while (pos < data.length) {
      const len = Math.min(1468, data.length - pos);
      // onReady means "something landed, ask again": with whole-block chunks once is enough.
      if (!src.read(out, 4, pos, len)) {
        waits++;
        await new Promise<void>((resolve) => (src.onReady = resolve));
        expect(src.read(out, 4, pos, len)).toBe(true);
      }
      expect(Buffer.compare(out.subarray(4, 4 + len), data.subarray(pos, pos + len))).toBe(0);
      pos += len;
    }
    // The first chunk has to be waited for; later ones are usually read ahead while the current one
    // is consumed (not always: this loop consumes a chunk in microseconds).
    expect(waits).toBeGreaterThanOrEqual(1);
    expect(waits).toBeLessThanOrEqual(Math.ceil(data.length / (44 * 1468)));
    src.close();
  });

  test("big blocks get chunks of two blocks; a go-back outside both chunks is fetched again", async () => {
    const data = file("e", 600_000);
    const src = new FdSource(openSync(join(dir, "e"), "r"), data.length, undefined, diskBound);
    const out = new Uint8Array(65_468);
    const get = async (pos: number) => {
      const len = Math.min(65_464, data.length - pos);
      if (!src.read(out, 4, pos, len)) await new Promise<void>((resolve) => (src.onReady = resolve));
      expect(src.read(out, 4, pos, len)).toBe(true);
      expect(Buffer.compare(out.subarray(4, 4 + len), data.subarray(pos, pos + len))).toBe(0);
    };
    for (let pos = 0; pos < data.length; pos += 65_464) await get(pos);
    await get(0);
    src.close();
  });

  test("close() with a read in flight neither throws nor calls onReady later", async () => {
    const data = file("f", 200_000);
    const src = new FdSource(openSync(join(dir, "f"), "r"), data.length, undefined, diskBound);
    let called = false;
    src.onReady = () => (called = true);
    expect(src.read(new Uint8Array(1472), 4, 0, 1468)).toBe(false);
    src.close();
    await Bun.sleep(50);
    expect(called).toBe(false);
  });

  test("data in the page cache is ready at once (RWF_NOWAIT), without a background read", () => {
    const data = file("g", 300_000); // just written: cached
    const src = new FdSource(openSync(join(dir, "g"), "r"), data.length);
    const out = new Uint8Array(1472);
    for (let pos = 0; pos < data.length; pos += 1468) {
      const len = Math.min(1468, data.length - pos);
      expect(src.read(out, 4, pos, len)).toBe(true);
      expect(Buffer.compare(out.subarray(4, 4 + len), data.subarray(pos, pos + len))).toBe(0);
    }
    src.close();
  });

  test("readNoWait: cached bytes are read in place; a short file reads short", () => {
    const data = file("h", 10_000);
    const fd = openSync(join(dir, "h"), "r");
    const out = new Uint8Array(5000);
    expect(readNoWait(fd, out, 100, 4000, 2000)).toBe(4000);
    expect(Buffer.compare(out.subarray(100, 4100), data.subarray(2000, 6000))).toBe(0);
    expect(readNoWait(fd, out, 0, 4000, 8000)).toBe(2000);
    expect(readNoWait(fd, out, 0, 4000, 10_000)).toBe(0);
    closeSync(fd);
  });

  test("a file that shrank under a transfer is an error, not short data", () => {
    file("c", 10_000);
    const src = new FdSource(openSync(join(dir, "c"), "r"), 10_000);
    writeFileSync(join(dir, "c"), "short");
    expect(() => src.read(new Uint8Array(512), 0, 4096, 512)).toThrow(TftpError);
    src.close();
  });
});
