/**
 * A response body read from an open file, which says how it ended: a Bun.file() body (sendfile)
 * finishes unseen, so neither the log line (bytes, duration, outcome) nor install-once could
 * tell a complete fetch from a cut one. Two ways out, both ending in `onEnd` exactly once:
 * - the connection layer takes the file range itself (takeFileRange) and sends it with
 *   sendfile(2) from the page cache (http-front.ts, sendfile.ts), counting the bytes the socket
 *   took: the fast path, no copy through user space;
 * - or the stream is pulled one chunk at a time (highWaterMark 0: http-front.ts asks for the
 *   next chunk once the socket took the last), so "ended" means every byte was handed to the
 *   socket. One chunk goes out while the next is read (off the event loop, on libuv's threads,
 *   so a slow disk or NFS server holds up this client only).
 * Measured against nginx's sendfile in bench/RESULTS.md ("HTTP boot").
 */
import { closeSync, read } from "node:fs";

/** Big enough that per-chunk overhead vanishes, small enough that 1000 clients fit in memory (two each). */
export const CHUNK_BYTES = 512 * 1024;

export type BodyEnd = { complete: true; bytes: number } | { complete: false; bytes: number; reason: string };

export type Chunk = { bytes: Uint8Array<ArrayBuffer> } | { error: string };

/** Bytes [start, end] (inclusive) of an open file, owned from here on: closed once it ended and no read is in flight. */
export class FileRange {
  private isDone = false;
  /** A read in flight holds the descriptor: closed after it, or its number could be reused meanwhile. */
  private reading = 0;
  private fdOpen = true;
  /** The connection layer sends this range itself (takeFileRange): the stream over it stays unread. */
  taken = false;

  constructor(
    readonly fd: number,
    readonly start: number,
    readonly end: number,
    private readonly onEnd: (e: BodyEnd) => void,
  ) {}

  get done(): boolean {
    return this.isDone;
  }

  /** Reads on libuv's threads; a file that shrank under us is an error (Content-Length can't be kept). */
  read(position: number, length: number): Promise<Chunk> {
    const buf = new Uint8Array(length);
    this.reading++;
    return new Promise<Chunk>((resolve) =>
      read(this.fd, buf, 0, length, position, (err, n) => {
        if (err) resolve({ error: `read error: ${err.code ?? String(err)}` });
        else if (n === 0) resolve({ error: "file changed during transfer" });
        else resolve({ bytes: n === length ? buf : buf.subarray(0, n) });
      }),
    ).then((c) => {
      this.reading--;
      if (this.isDone) this.release();
      return c;
    });
  }

  finish(e: BodyEnd): void {
    if (this.isDone) return;
    this.isDone = true;
    this.release();
    this.onEnd(e);
  }

  private release(): void {
    if (this.reading > 0 || !this.fdOpen) return;
    this.fdOpen = false;
    closeSync(this.fd);
  }
}

/** Streams that have not been read yet, by the range they would read: the connection layer may take it instead. */
const untaken = new WeakMap<ReadableStream<Uint8Array>, FileRange>();

/**
 * The file range behind a body from fileBody(), if nobody read from it yet; the stream is then
 * dead (its pull and cancel do nothing) and the caller sends the range and calls its finish().
 */
export function takeFileRange(body: ReadableStream<Uint8Array>): FileRange | undefined {
  const range = untaken.get(body);
  untaken.delete(body);
  if (range) range.taken = true;
  return range;
}

/** Streams bytes [start, end] (inclusive) of `fd`, then closes it; `onEnd` is called exactly once. */
export function fileBody(fd: number, start: number, end: number, onEnd: (e: BodyEnd) => void): ReadableStream<Uint8Array> {
  const range = new FileRange(fd, start, end, onEnd);
  /** Where the next read starts (reads run one ahead of what was handed out). */
  let readPos = start;
  let sent = 0;
  /** The read of the next chunk, started as soon as the previous one was handed out. */
  let ahead: Promise<Chunk> | undefined;
  const readNext = (): Promise<Chunk> | undefined => {
    if (readPos > end) return undefined;
    const length = Math.min(CHUNK_BYTES, end - readPos + 1);
    const at = readPos;
    readPos += length;
    return range.read(at, length);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      type: "bytes",
      async pull(controller) {
        untaken.delete(stream);
        if (range.done || range.taken) return;
        const next = ahead ?? readNext();
        ahead = undefined;
        // Asked again after the last chunk: the socket took it.
        if (!next) {
          controller.close();
          return range.finish({ complete: true, bytes: sent });
        }
        const chunk = await next;
        if (range.done) return;
        if ("error" in chunk) {
          controller.error(new Error(chunk.error));
          return range.finish({ complete: false, bytes: sent, reason: chunk.error });
        }
        // A short read (NFS, FUSE) leaves a gap: read on from where it stopped, in order.
        if (chunk.bytes.length < CHUNK_BYTES) readPos = Math.min(readPos, start + sent + chunk.bytes.length);
        sent += chunk.bytes.length;
        controller.enqueue(chunk.bytes);
        ahead = readNext();
      },
      cancel() {
        // Taken by the connection layer: the range ends through it, not here.
        if (range.taken) return;
        untaken.delete(stream);
        range.finish({ complete: false, bytes: sent, reason: "client closed the connection" });
      },
    },
    { highWaterMark: 0 },
  );
  untaken.set(stream, range);
  return stream;
}
