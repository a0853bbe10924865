import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, type Stats } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileCache } from "../../src/files/cache.ts";

const dir = mkdtempSync(join(tmpdir(), "pxeboot-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function landed(load: { bytes?: Uint8Array }): Promise<void> {
  for (let i = 0; i < 100 && !load.bytes; i++) await Bun.sleep(5);
}

describe("shared file cache", () => {
  test("cache on second use: the first request streams, the second starts the load", async () => {
    const f = join(dir, "kernel");
    writeFileSync(f, "k".repeat(10_000));
    const cache = new FileCache(1 << 20);
    const st = statSync(f);
    const fd = openSync(f, "r");
    expect(cache.warm(f, st, fd)).toBeUndefined();
    const load = cache.warm(f, st, fd)!;
    expect(load).toBeDefined();
    expect(cache.warm(f, st, fd)).toBe(load); // a third request joins the load in flight
    closeSync(fd); // the load reads through a descriptor of its own
    await landed(load);
    expect(load.bytes?.length).toBe(10_000);
    expect(cache.get(f, st)?.length).toBe(10_000);
  });

  test("a changed file (size or mtime) is not served from the cache", async () => {
    const f = join(dir, "initrd");
    writeFileSync(f, "a".repeat(1000));
    const cache = new FileCache(1 << 20);
    const st = statSync(f);
    cache.put(f, st, new Uint8Array(1000));
    writeFileSync(f, "b".repeat(2000));
    expect(cache.get(f, statSync(f))).toBeUndefined();
  });

  test("bounded: least recently used entries go; files over half the capacity are never cached", () => {
    const cache = new FileCache(3000);
    const st = (size: number, ino: number) => ({ size, mtimeMs: 1, ino }) as Stats;
    cache.put("a", st(1000, 1), new Uint8Array(1000));
    cache.put("b", st(1000, 2), new Uint8Array(1000));
    cache.get("a", st(1000, 1)); // a is now the most recent
    cache.put("c", st(1500, 3), new Uint8Array(1500));
    expect(cache.get("b", st(1000, 2))).toBeUndefined();
    expect(cache.get("a", st(1000, 1))).toBeDefined();
    expect(cache.bytesUsed).toBeLessThanOrEqual(3000);
    expect(cache.cacheable(1501)).toBe(false);
  });
});
