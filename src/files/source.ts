/**
 * Where a transfer's bytes come from: a shared in-memory copy (hot files every client wants) or
 * an open file streamed through read-ahead chunks fetched off the event loop, so a slow disk or
 * NFS server delays the transfer that waits for it, never every other transfer.
 */
import { closeSync, openSync, read as readAsync, readSync } from "node:fs";
import { TftpError } from "../protocol/errors.ts";
import type { PendingLoad } from "./cache.ts";

export interface FileSource {
  readonly size: number;
  /**
   * Whether `read` of this range is answered from memory now. When it isn't (the next chunk of a
   * streamed file is still on its way from the disk), the source fetches it in the background and
   * calls `onReady` once it lands: the transfer waits, the event loop does not.
   */
  ready(position: number, length: number): boolean;
  onReady?: () => void;
  /** Copies exactly `length` bytes at `position` into `into[offset…]`; throws TftpError if it can't. */
  read(into: Uint8Array, offset: number, position: number, length: number): void;
  close(): void;
}

export class MemorySource implements FileSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  ready(): boolean {
    return true;
  }
  read(into: Uint8Array, offset: number, position: number, length: number): void {
    into.set(this.bytes.subarray(position, position + length), offset);
  }
  close(): void {}
}

/** Read-ahead unit for small blocks: one read per 64 KiB instead of one per block (fewer NFS round trips). */
const READ_AHEAD_BYTES = 64 * 1024;
/** All read-ahead chunks of all streaming transfers together; past it, blocks are read one by one. */
const READ_AHEAD_BUDGET = 64 * 1024 * 1024;
let readAheadInUse = 0;

export const fileChanged = () => new TftpError(0, "File changed during transfer");

interface Chunk {
  buf: Uint8Array;
  pos: number;
  len: number;
  state: "empty" | "loading" | "ready";
}

/**
 * A file streamed from disk. Two chunks: the one the transfer reads from and the next, fetched
 * while the current one is sent, so a disk that keeps up never makes the transfer wait. A
 * go-back outside both (rare: windows are small) is fetched like any other chunk. `read` still
 * works without `ready` (it then reads synchronously), so correctness never depends on the dance.
 */
export class FdSource implements FileSource {
  onReady?: () => void;
  private fd = -1;
  private chunks: Chunk[] = [];
  private chunkBytes = 0;
  /** The transfer's block size (the length first asked for): chunks hold whole blocks, none straddles two. */
  private unit = 0;
  private inFlight = 0;
  private closed = false;
  private waiting = false;
  /** A background read failed or came back short: the synchronous path reports it properly. */
  private failed = false;

  constructor(
    private readonly path: string,
    readonly size: number,
    /** A background load of the same file: once it lands, reads come from memory. */
    private readonly load?: PendingLoad,
  ) {
    // Opened now so a missing or unreadable file is refused before the transfer starts.
    this.fd = openSync(path, "r");
  }

  ready(position: number, length: number): boolean {
    if (length === 0 || this.load?.bytes || this.failed || this.closed) return true;
    if (this.chunkFor(position, length)) return true;
    if (!this.allocate(length)) return true; // over budget: synchronous reads, as before read-ahead
    const end = position + length;
    const loading = this.chunks.find((c) => c.state === "loading" && c.pos <= position && end <= c.pos + c.len);
    if (!loading) this.fetch(this.spareChunk(position), position);
    this.waiting = true;
    return false;
  }

  read(into: Uint8Array, offset: number, position: number, length: number): void {
    const bytes = this.load?.bytes;
    if (bytes) {
      // In a storm every transfer holds a socket already; don't make it hold a file too.
      this.releaseFile();
      into.set(bytes.subarray(position, position + length), offset);
      return;
    }
    const chunk = this.chunkFor(position, length);
    if (chunk) {
      into.set(chunk.buf.subarray(position - chunk.pos, position - chunk.pos + length), offset);
      this.readAheadFrom(chunk);
      return;
    }
    if (this.fd < 0) this.fd = openSync(this.path, "r");
    this.readExactly(into, offset, position, length);
  }

  close(): void {
    this.closed = true;
    this.onReady = undefined;
    this.releaseFile();
    if (this.chunks.length > 0) {
      readAheadInUse -= this.chunks.length * this.chunkBytes;
      this.chunks = [];
    }
  }

  private chunkFor(position: number, length: number): Chunk | undefined {
    const end = position + length;
    for (const c of this.chunks) if (c.state === "ready" && c.pos <= position && end <= c.pos + c.len) return c;
    return undefined;
  }

  /** Two chunks, sized to hold at least two blocks, taken from the process-wide budget. */
  private allocate(length: number): boolean {
    if (this.chunks.length > 0) return true;
    this.unit = Math.max(1, length);
    const bytes = Math.max(READ_AHEAD_BYTES, 2 * this.unit);
    if (readAheadInUse + 2 * bytes > READ_AHEAD_BUDGET) return false;
    readAheadInUse += 2 * bytes;
    this.chunkBytes = bytes;
    for (let i = 0; i < 2; i++) this.chunks.push({ buf: new Uint8Array(bytes), pos: 0, len: 0, state: "empty" });
    return true;
  }

  /** The chunk to overwrite: not loading, and not the one holding `keep` if it can be avoided. */
  private spareChunk(keep: number): Chunk | undefined {
    const free = this.chunks.filter((c) => c.state !== "loading");
    return free.find((c) => !(c.state === "ready" && c.pos <= keep && keep < c.pos + c.len)) ?? free[0];
  }

  /** Serving from `chunk`: make sure the one after it is on its way. */
  private readAheadFrom(chunk: Chunk): void {
    const next = chunk.pos + chunk.len;
    if (next >= this.size || this.failed) return;
    if (this.chunks.some((c) => c !== chunk && c.state !== "empty" && c.pos === next)) return;
    const other = this.chunks.find((c) => c !== chunk);
    if (other && other.state !== "loading") this.fetch(other, next);
  }

  private fetch(chunk: Chunk | undefined, position: number): void {
    if (!chunk || this.fd < 0) return;
    chunk.pos = position;
    chunk.len = Math.min(this.chunkBytes - (this.chunkBytes % this.unit), this.size - position);
    chunk.state = "loading";
    this.inFlight++;
    this.fill(chunk, 0);
  }

  /** NFS and FUSE may return short reads: keep reading until the chunk is full or the file ends. */
  private fill(chunk: Chunk, done: number): void {
    readAsync(this.fd, chunk.buf, done, chunk.len - done, chunk.pos + done, (err, n) => {
      if (!this.closed && !err && n > 0 && done + n < chunk.len) return this.fill(chunk, done + n);
      this.inFlight--;
      if (this.closed) return this.releaseFile();
      if (err || n <= 0) {
        chunk.state = "empty";
        this.failed = true;
      } else chunk.state = "ready";
      if (this.waiting) {
        this.waiting = false;
        this.onReady?.();
      }
    });
  }

  /** Closes the descriptor, but never under a read in flight: its number could be reused meanwhile. */
  private releaseFile(): void {
    if (this.fd < 0 || this.inFlight > 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  private readExactly(into: Uint8Array, offset: number, position: number, length: number): void {
    let done = 0;
    // NFS and FUSE may return short reads; only a read of 0 means the file shrank under us.
    while (done < length) {
      const n = readSync(this.fd, into, offset + done, length - done, position + done);
      if (n <= 0) throw fileChanged();
      done += n;
    }
  }
}
