import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileBody, type BodyEnd } from "../../src/http/file-body.ts";

const dir = mkdtempSync(join(tmpdir(), "pxeboot-http-body-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, size: number): string {
  const path = join(dir, name);
  writeFileSync(path, Uint8Array.from({ length: size }, (_, i) => i & 0xff));
  return path;
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("fileBody", () => {
  test("streams the inclusive range and then reports a complete end once", async () => {
    const path = file("a", 1_300_000); // more than two chunks
    const ends: BodyEnd[] = [];
    const bytes = await drain(fileBody(openSync(path, "r"), 100, 1_199_999, (e) => ends.push(e)));
    expect(bytes.length).toBe(1_199_900);
    expect(bytes[0]).toBe(100);
    expect(bytes[bytes.length - 1]).toBe(1_199_999 & 0xff);
    expect(ends).toEqual([{ complete: true, bytes: 1_199_900 }]);
  });

  test("a reader that cancels is an incomplete end with the bytes handed out so far", async () => {
    const path = file("b", 2_000_000);
    const ends: BodyEnd[] = [];
    const reader = fileBody(openSync(path, "r"), 0, 1_999_999, (e) => ends.push(e)).getReader();
    const first = await reader.read();
    await reader.cancel();
    expect(ends.length).toBe(1);
    expect(ends[0]).toEqual({ complete: false, bytes: first.value!.length, reason: "client closed the connection" });
  });

  test("a file that shrank under the transfer ends it as incomplete, not as a short success", async () => {
    const path = file("c", 1_500_000);
    const ends: BodyEnd[] = [];
    const reader = fileBody(openSync(path, "r"), 0, 1_499_999, (e) => ends.push(e)).getReader();
    await reader.read();
    truncateSync(path, 10);
    // The chunk read ahead before the truncation may still come; the one after it cannot.
    let error: unknown;
    for (let i = 0; i < 3 && !error; i++) await reader.read().catch((e) => (error = e));
    expect(String(error)).toMatch(/file changed/);
    expect(ends[0]).toMatchObject({ complete: false, reason: "file changed during transfer" });
  });
});
