/** Where `pxeboot get` writes: atomically into files, directly into devices, never over a directory. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileSink } from "../../src/client/file-sink.ts";

const dir = mkdtempSync(join(tmpdir(), "pxeboot-sink-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("fileSink", () => {
  test("a committed download replaces the target in one step", () => {
    const target = join(dir, "a");
    writeFileSync(target, "old content");
    const s = fileSink(target);
    s.write(new TextEncoder().encode("new "));
    expect(readFileSync(target, "utf8")).toBe("old content"); // untouched until commit
    s.write(new Uint8Array(3 << 20).fill(65)); // larger than the write buffer
    s.commit();
    const got = readFileSync(target);
    expect(got.length).toBe(4 + (3 << 20));
    expect(readdirSync(dir)).toEqual(["a"]);
  });

  test("a discarded download leaves neither a file nor a temporary", () => {
    const target = join(dir, "b");
    const s = fileSink(target);
    s.write(Uint8Array.of(1, 2, 3));
    s.discard();
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes("b"))).toEqual([]);
  });

  test("a character device is written in place, not renamed over", () => {
    const s = fileSink("/dev/null");
    s.write(Uint8Array.of(1, 2, 3));
    s.commit();
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
  });

  test("a directory is refused", () => {
    expect(() => fileSink(dir)).toThrow(/is a directory/);
  });
});
