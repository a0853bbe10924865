/** An upload's file on a real disk: temporary until stored, then renamed into place whole. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { confineUpload } from "../../src/files/confine-upload.ts";
import { isTempName } from "../../src/files/temp-name.ts";
import { openUpload, type UploadFile } from "../../src/files/upload.ts";
import { TftpError } from "../../src/protocol/errors.ts";

const root = realpathSync(mkdtempSync(join(tmpdir(), "pxeboot-upload-")));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function open(name: string, overwrite = false): Promise<UploadFile> {
  return openUpload(confineUpload(root, name, { writable: [], overwrite }), overwrite);
}

/** Calls end until it says stored (as the machine does on every onReady). */
async function store(f: UploadFile): Promise<void> {
  while (!f.end()) await new Promise<void>((resolve) => (f.onReady = resolve));
}

const names = () => readdirSync(root);

describe("UploadFile", () => {
  test("bytes go to a hidden 0600 temporary file, then into place as 0644 only once stored", async () => {
    const f = await open("a.bin");
    expect(names().filter(isTempName)).toHaveLength(1);
    expect(statSync(join(root, f.temp)).mode & 0o777).toBe(0o600);
    const data = new Uint8Array(700_000).map((_, i) => i * 7);
    for (let off = 0; off < data.length; off += 1468) expect(f.write(data.subarray(off, off + 1468))).toBe(true);
    expect(names()).not.toContain("a.bin");
    await store(f);
    expect(f.end()).toBe(true);
    f.close(); // after storing: harmless
    expect(new Uint8Array(readFileSync(join(root, "a.bin")))).toEqual(data);
    expect(statSync(join(root, "a.bin")).mode & 0o777).toBe(0o644);
    expect(names().filter(isTempName)).toEqual([]);
  });

  test("names are bytes: a Latin-1 name reaches the disk as sent", async () => {
    const name = Buffer.from([0x66, 0xfc, 0x72]).toString("latin1"); // "für" in Latin-1
    const f = await open(name);
    f.write(Uint8Array.of(1, 2, 3));
    await store(f);
    expect(readdirSync(root, { encoding: "buffer" }).some((n) => n.equals(Buffer.from([0x66, 0xfc, 0x72])))).toBe(true);
  });

  test("an empty upload stores an empty file", async () => {
    const f = await open("empty");
    await store(f);
    expect(readFileSync(join(root, "empty"))).toHaveLength(0);
  });

  test("closed before storing (aborted, timed out): nothing is left", async () => {
    const f = await open("aborted.bin");
    f.write(new Uint8Array(600_000));
    f.close();
    await Bun.sleep(50);
    expect(names().filter((n) => n.includes("aborted"))).toEqual([]);
  });

  test("closed while storing: nothing is left either", async () => {
    const f = await open("closed-mid-store.bin");
    f.write(new Uint8Array(300_000));
    expect(f.end()).toBe(false);
    f.close();
    await Bun.sleep(100);
    expect(names().filter((n) => n.includes("closed-mid-store"))).toEqual([]);
  });

  test("far ahead of the disk, write says so, and onReady fires once it caught up", async () => {
    const f = await open("fast.bin");
    let behind = false;
    const chunk = new Uint8Array(65464);
    for (let i = 0; i < 40 && !behind; i++) behind = f.write(chunk) === false;
    expect(behind).toBe(true);
    expect(f.ready()).toBe(false);
    await new Promise<void>((resolve) => (f.onReady = resolve));
    expect(f.ready()).toBe(true);
    await store(f);
    expect(statSync(join(root, "fast.bin")).size).toBe(f.size);
  });

  test("a file that appeared meanwhile is not replaced without overwrite: ERROR 6", async () => {
    const f = await open("raced.bin");
    f.write(new Uint8Array([1, 2, 3]));
    writeFileSync(join(root, "raced.bin"), "theirs");
    const err = await store(f).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TftpError);
    expect((err as TftpError).code).toBe(6);
    f.close();
    await Bun.sleep(20);
    expect(readFileSync(join(root, "raced.bin"), "utf8")).toBe("theirs");
    expect(names().filter((n) => n.includes("raced") && isTempName(n))).toEqual([]);
  });

  test("with overwrite the old file is replaced by a new one in one rename", async () => {
    writeFileSync(join(root, "replace.cfg"), "old");
    const oldInode = statSync(join(root, "replace.cfg")).ino;
    const f = await open("replace.cfg", true);
    f.write(new TextEncoder().encode("new contents"));
    await store(f);
    expect(readFileSync(join(root, "replace.cfg"), "utf8")).toBe("new contents");
    expect(statSync(join(root, "replace.cfg")).ino).not.toBe(oldInode);
  });

  test("the directory renamed and replaced by a link mid-upload: stored, or removed, in the directory that was checked", async () => {
    const outside = realpathSync(mkdtempSync(join(tmpdir(), "pxeboot-upload-outside-")));
    try {
      for (const d of ["kept", "dropped"]) mkdirSync(join(root, d));
      const kept = await open("kept/file.bin");
      const dropped = await open("dropped/file.bin");
      kept.write(Uint8Array.of(1, 2, 3));
      for (const d of ["kept", "dropped"]) {
        renameSync(join(root, d), join(root, `${d}-moved`));
        symlinkSync(outside, join(root, d));
      }
      await store(kept);
      dropped.close();
      await Bun.sleep(50);
      expect(readdirSync(outside)).toEqual([]);
      expect(readdirSync(join(root, "kept-moved"))).toEqual(["file.bin"]);
      expect(readdirSync(join(root, "dropped-moved"))).toEqual([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
