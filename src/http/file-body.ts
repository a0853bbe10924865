/**
 * A response body read from an open file in chunks, which says how it ended: a Bun.file() body
 * (sendfile) finishes unseen, so neither the log line (bytes, duration, outcome) nor install-once
 * could tell a complete fetch from a cut one. This stream is pulled one chunk at a time
 * (highWaterMark 0: http-front.ts asks for the next chunk once the socket took the last), so
 * "ended" means every byte was handed to the socket, and the file is never held
 * whole: one chunk goes out while the next is read (off the event loop, on libuv's threads, so a
 * slow disk or NFS server holds up this client only). Measured against nginx's sendfile in
 * bench/RESULTS.md ("HTTP boot").
 */
import { closeSync, read } from "node:fs";

/** Big enough that per-chunk overhead vanishes, small enough that 1000 clients fit in memory (two each). */
const CHUNK_BYTES = 512 * 1024;

export type BodyEnd = { complete: true; bytes: number } | { complete: false; bytes: number; reason: string };

type Chunk = { bytes: Uint8Array<ArrayBuffer> } | { error: string };

function readChunk(fd: number, position: number, length: number): Promise<Chunk> {
  const buf = new Uint8Array(length);
  return new Promise((resolve) =>
    read(fd, buf, 0, length, position, (err, n) => {
      if (err) resolve({ error: `read error: ${err.code ?? String(err)}` });
      // The file shrank under us: Content-Length can no longer be kept, so the connection is cut.
      else if (n === 0) resolve({ error: "file changed during transfer" });
      else resolve({ bytes: n === length ? buf : buf.subarray(0, n) });
    }),
  );
}

/**
 * Streams bytes [start, end] (inclusive) of `fd`, then closes it; `onEnd` is called exactly once.
 * The fd is owned by the stream from here on.
 */
export function fileBody(fd: number, start: number, end: number, onEnd: (e: BodyEnd) => void): ReadableStream<Uint8Array> {
  /** Where the next read starts (reads run one ahead of what was handed out). */
  let readPos = start;
  let sent = 0;
  let done = false;
  /** The read of the next chunk, started as soon as the previous one was handed out. */
  let ahead: Promise<Chunk> | undefined;
  /** A read in flight holds the descriptor: closed after it, or its number could be reused meanwhile. */
  let reading = 0;
  let fdOpen = true;
  const release = () => {
    if (reading > 0 || !fdOpen) return;
    fdOpen = false;
    closeSync(fd);
  };
  const readNext = (): Promise<Chunk> | undefined => {
    if (readPos > end) return undefined;
    const length = Math.min(CHUNK_BYTES, end - readPos + 1);
    const at = readPos;
    readPos += length;
    reading++;
    return readChunk(fd, at, length).then((c) => {
      reading--;
      if (done) release();
      return c;
    });
  };
  const finish = (e: BodyEnd) => {
    if (done) return;
    done = true;
    release();
    onEnd(e);
  };
  return new ReadableStream<Uint8Array>(
    {
      type: "bytes",
      async pull(controller) {
        if (done) return;
        const next = ahead ?? readNext();
        ahead = undefined;
        // Asked again after the last chunk: the socket took it.
        if (!next) {
          controller.close();
          return finish({ complete: true, bytes: sent });
        }
        const chunk = await next;
        if (done) return;
        if ("error" in chunk) {
          controller.error(new Error(chunk.error));
          return finish({ complete: false, bytes: sent, reason: chunk.error });
        }
        // A short read (NFS, FUSE) leaves a gap: read on from where it stopped, in order.
        if (chunk.bytes.length < CHUNK_BYTES) readPos = Math.min(readPos, start + sent + chunk.bytes.length);
        sent += chunk.bytes.length;
        controller.enqueue(chunk.bytes);
        ahead = readNext();
      },
      cancel() {
        finish({ complete: false, bytes: sent, reason: "client closed the connection" });
      },
    },
    { highWaterMark: 0 },
  );
}
