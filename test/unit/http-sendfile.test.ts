/**
 * File bodies by sendfile(2): every byte arrives in order behind the head, the end is reported
 * once with the bytes the socket took, a client that stops reading is waited for (the socket
 * fills, one byte goes through Bun's write, its drain resumes sendfile), a client that leaves is
 * a cut end, a file that shrinks mid-way cuts the connection, and pages not in the page cache
 * are read on libuv's threads instead of making the event loop wait for the disk.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { dlopen, FFIType } from "bun:ffi";
import { createHash } from "node:crypto";
import { mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, readFileSync, fsyncSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Socket } from "node:net";
import { listenHttp, type HttpFront } from "../../src/http/http-front.ts";
import { fileBody, type BodyEnd } from "../../src/http/file-body.ts";
import { limitsFor } from "../../src/http/connection-limits.ts";
import { createLogger } from "../../src/log.ts";
import { canSendfile } from "../../src/http/sendfile.ts";

const dir = mkdtempSync(join(tmpdir(), "pxeboot-sendfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, size: number): string {
  const path = join(dir, name);
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 13)) & 0xff;
  writeFileSync(path, bytes);
  return path;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A front whose every GET is the whole of `path`; ends are collected. */
function serveFile(path: string, ends: BodyEnd[], sendfile = true): HttpFront {
  return listenHttp({
    hostname: "127.0.0.1",
    port: 0,
    reusePort: false,
    limits: limitsFor(4096, 0),
    log: createLogger({ level: "error" }),
    sendfile,
    handle() {
      const size = readFileSync(path).length;
      const body = fileBody(openSync(path, "r"), 0, size - 1, (e) => ends.push(e));
      return new Response(body, { status: 200, headers: { "content-length": String(size) } });
    },
    refused() {},
  });
}

/** A raw client: sends one GET, optionally waits before reading, returns the body (after the head). */
async function get(port: number, opts: { pauseMs?: number; stopAfter?: number } = {}): Promise<Uint8Array> {
  const sock: Socket = connect(port, "127.0.0.1");
  const parts: Buffer[] = [];
  let total = 0;
  await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
  if (opts.pauseMs) sock.pause();
  sock.write("GET /f HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
  if (opts.pauseMs) {
    await Bun.sleep(opts.pauseMs);
    sock.resume();
  }
  await new Promise<void>((resolve) => {
    sock.on("data", (d: Buffer) => {
      parts.push(d);
      total += d.length;
      if (opts.stopAfter !== undefined && total >= opts.stopAfter) {
        sock.destroy();
        resolve();
      }
    });
    sock.on("close", () => resolve());
    sock.on("error", () => resolve());
  });
  const all = Buffer.concat(parts);
  const at = all.indexOf("\r\n\r\n");
  return new Uint8Array(all.subarray(at + 4));
}

async function settle(ends: BodyEnd[]): Promise<void> {
  for (let i = 0; i < 200 && ends.length === 0; i++) await Bun.sleep(10);
}

describe.if(canSendfile())("file bodies by sendfile", () => {
  test("a 24 MB file: every byte, in order, one complete end; sent by sendfile, not copied", async () => {
    const path = file("big", 24_000_000);
    const ends: BodyEnd[] = [];
    const front = serveFile(path, ends);
    try {
      const body = await get(front.port);
      await settle(ends);
      expect(body.length).toBe(24_000_000);
      expect(sha(body)).toBe(sha(readFileSync(path)));
      expect(ends).toEqual([{ complete: true, bytes: 24_000_000 }]);
      expect(front.fileBytes.sendfile).toBeGreaterThan(23_000_000);
    } finally {
      front.closeAll();
    }
  });

  test("a client that stops reading for a while: the socket fills, the server waits, the bytes still arrive whole", async () => {
    const path = file("slow", 16_000_000);
    const ends: BodyEnd[] = [];
    const front = serveFile(path, ends);
    try {
      const body = await get(front.port, { pauseMs: 700 });
      await settle(ends);
      expect(sha(body)).toBe(sha(readFileSync(path)));
      expect(ends).toEqual([{ complete: true, bytes: 16_000_000 }]);
      // The socket filled at least once: a byte went through Bun's write to wait for room.
      expect(front.fileBytes.copied).toBeGreaterThan(0);
    } finally {
      front.closeAll();
    }
  });

  test("a client that leaves half-way: a cut end with fewer bytes than the file", async () => {
    const path = file("left", 32_000_000);
    const ends: BodyEnd[] = [];
    const front = serveFile(path, ends);
    try {
      await get(front.port, { stopAfter: 2_000_000 });
      await settle(ends);
      expect(ends.length).toBe(1);
      expect(ends[0]!.complete).toBe(false);
      expect(ends[0]!.bytes).toBeLessThan(32_000_000);
    } finally {
      front.closeAll();
    }
  });

  test("a file that shrinks while a slow client reads: the connection is cut, the end says why", async () => {
    const path = file("shrinks", 24_000_000);
    const ends: BodyEnd[] = [];
    const front = serveFile(path, ends);
    try {
      const got = get(front.port, { pauseMs: 600 });
      await Bun.sleep(200);
      truncateSync(path, 1_000_000);
      const body = await got;
      await settle(ends);
      expect(body.length).toBeLessThan(24_000_000);
      expect(ends).toEqual([{ complete: false, bytes: ends[0]!.bytes, reason: "file changed during transfer" }]);
    } finally {
      front.closeAll();
    }
  });

  test("pages not in the page cache are read on libuv's threads (the event loop never waits for a disk); the bytes are the same", async () => {
    const path = file("cold", 8_000_000);
    // Drop the file's clean pages from the page cache (posix_fadvise DONTNEED).
    const libc = dlopen("libc.so.6", { posix_fadvise: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32], returns: FFIType.i32 } });
    const fd = openSync(path, "r");
    fsyncSync(openSync(path, "r+"));
    expect(libc.symbols.posix_fadvise(fd, 0, 0, 4)).toBe(0);
    closeSync(fd);
    const ends: BodyEnd[] = [];
    const front = serveFile(path, ends);
    try {
      const body = await get(front.port);
      await settle(ends);
      expect(sha(body)).toBe(sha(readFileSync(path)));
      expect(ends).toEqual([{ complete: true, bytes: 8_000_000 }]);
      expect(front.fileBytes.copied).toBeGreaterThan(0);
    } finally {
      front.closeAll();
      libc.close();
    }
  });

  test("sendfile: false sends the same bytes through the read stream", async () => {
    const path = file("plain", 3_000_000);
    const ends: BodyEnd[] = [];
    const front = serveFile(path, ends, false);
    try {
      const body = await get(front.port);
      await settle(ends);
      expect(sha(body)).toBe(sha(readFileSync(path)));
      expect(front.fileBytes).toEqual({ sendfile: 0, copied: 3_000_000 });
    } finally {
      front.closeAll();
    }
  });
});
