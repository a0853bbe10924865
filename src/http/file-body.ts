/**
 * A response body read from an open file in chunks, which says how it ended. Bun.serve has no
 * hook for "the response went out": a Bun.file() body (sendfile) finishes unseen, so neither the
 * log line (bytes, duration, outcome) nor install-once could tell a complete fetch from a cut one.
 * This stream pulls one chunk at a time (highWaterMark 0: the next read waits until the socket
 * took the last chunk), so the file is never held whole and "ended" means every byte was handed
 * to the kernel. Measured against sendfile in bench/RESULTS.md ("HTTP boot").
 */
import { closeSync, read } from "node:fs";
import { readNoWait } from "../files/nowait.ts";

/** Big enough that per-chunk overhead vanishes, small enough that 1000 clients fit in memory. */
const CHUNK_BYTES = 512 * 1024;

function readAsync(fd: number, buf: Uint8Array, offset: number, position: number): Promise<number> {
  return new Promise<number>((resolve, reject) => read(fd, buf, offset, buf.length - offset, position, (err, got) => (err ? reject(err) : resolve(got))));
}

export type BodyEnd = { complete: true; bytes: number } | { complete: false; bytes: number; reason: string };

/**
 * Streams bytes [start, end] (inclusive) of `fd`, then closes it; `onEnd` is called exactly once.
 * The fd is owned by the stream from here on.
 */
export function fileBody(fd: number, start: number, end: number, onEnd: (e: BodyEnd) => void): ReadableStream<Uint8Array> {
  let pos = start;
  let sent = 0;
  let done = false;
  /** A background read holds the descriptor: closed after it, or its number could be reused meanwhile. */
  let reading = false;
  const release = () => {
    if (reading || fd < 0) return;
    closeSync(fd);
    fd = -1;
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
        // Reaching here again after the last chunk means the socket took it.
        if (pos > end) {
          controller.close();
          return finish({ complete: true, bytes: sent });
        }
        const buf = new Uint8Array(Math.min(CHUNK_BYTES, end - pos + 1));
        let n: number;
        try {
          // From the page cache at once when it holds the bytes (a hot initrd); from the disk or an
          // NFS server off the event loop when it doesn't, so one slow read holds up one client only.
          const now = readNoWait(fd, buf, 0, buf.length, pos);
          n = now === "wait" ? 0 : now;
          if (n < buf.length && now !== 0) {
            reading = true;
            try {
              n += await readAsync(fd, buf, n, pos + n);
            } finally {
              reading = false;
            }
          }
        } catch (err) {
          if (done) return release();
          controller.error(err);
          return finish({ complete: false, bytes: sent, reason: `read error: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
        }
        if (done) return release();
        if (n === 0) {
          // The file shrank under us: Content-Length can no longer be kept, so the connection is cut.
          controller.error(new Error("file changed during transfer"));
          return finish({ complete: false, bytes: sent, reason: "file changed during transfer" });
        }
        pos += n;
        sent += n;
        controller.enqueue(n === buf.length ? buf : buf.subarray(0, n));
      },
      cancel() {
        finish({ complete: false, bytes: sent, reason: "client closed the connection" });
      },
    },
    { highWaterMark: 0 },
  );
}
