import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("streaming file source", () => {
  test("sequential blocks, go-backs and chunk boundaries read the right bytes", () => {
    const data = file("a", 300_001);
    const src = new FdSource(join(dir, "a"), data.length);
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
    const src = new FdSource(join(dir, "b"), data.length);
    const out = new Uint8Array(65_464);
    src.read(out, 0, 100_000, 65_464);
    expect(Buffer.compare(out, data.subarray(100_000, 165_464))).toBe(0);
    src.close();
  });

  test("ready() says no until the chunk has landed off the event loop, then calls onReady", async () => {
    const data = file("d", 500_000);
    const src = new FdSource(join(dir, "d"), data.length);
    const out = new Uint8Array(1472);
    let waits = 0;
    let pos = 0;
    while (pos < data.length) {
      const len = Math.min(1468, data.length - pos);
      // onReady means "something landed, ask again": with whole-block chunks once is enough.
      if (!src.ready(pos, len)) {
        waits++;
        await new Promise<void>((resolve) => (src.onReady = resolve));
        expect(src.ready(pos, len)).toBe(true);
      }
      src.read(out, 4, pos, len);
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
    const src = new FdSource(join(dir, "e"), data.length);
    const out = new Uint8Array(65_468);
    const get = async (pos: number) => {
      const len = Math.min(65_464, data.length - pos);
      if (!src.ready(pos, len)) await new Promise<void>((resolve) => (src.onReady = resolve));
      expect(src.ready(pos, len)).toBe(true);
      src.read(out, 4, pos, len);
      expect(Buffer.compare(out.subarray(4, 4 + len), data.subarray(pos, pos + len))).toBe(0);
    };
    for (let pos = 0; pos < data.length; pos += 65_464) await get(pos);
    await get(0);
    src.close();
  });

  test("close() with a read in flight neither throws nor calls onReady later", async () => {
    const data = file("f", 200_000);
    const src = new FdSource(join(dir, "f"), data.length);
    let called = false;
    src.onReady = () => (called = true);
    expect(src.ready(0, 1468)).toBe(false);
    src.close();
    await Bun.sleep(50);
    expect(called).toBe(false);
  });

  test("a file that shrank under a transfer is an error, not short data", () => {
    file("c", 10_000);
    const src = new FdSource(join(dir, "c"), 10_000);
    writeFileSync(join(dir, "c"), "short");
    expect(() => src.read(new Uint8Array(512), 0, 4096, 512)).toThrow(TftpError);
    src.close();
  });
});
