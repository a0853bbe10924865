/**
 * Where a transfer's bytes come from: a shared in-memory copy (hot files every client wants) or
 * an open file streamed through read-ahead chunks: copied at once when the page cache has them,
 * fetched off the event loop when it doesn't, so a slow disk or NFS server delays the transfer
 * that waits for it, never every other transfer.
 */
import { closeSync, read as readAsync, readSync } from "node:fs";
import { fileChanged } from "../protocol/errors.ts";
import type { PendingLoad } from "./cache.ts";
import { readNoWait, type NoWaitResult } from "./nowait.ts";

export interface FileSource {
  readonly size: number;
  /**
   * Copies exactly `length` bytes at `position` into `into[offset…]` and returns true — or returns
   * false when they are not in memory yet (a streamed file's next chunk still on its way from the
   * disk): the source then fetches them in the background and calls `onReady` when something
   * landed, and the caller asks again. The transfer waits; the event loop does not.
   * Throws TftpError if the file can't be read (or shrank).
   */
  read(into: Uint8Array, offset: number, position: number, length: number): boolean;
  onReady?: () => void;
  close(): void;
}

export class MemorySource implements FileSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  read(into: Uint8Array, offset: number, position: number, length: number): boolean {
    into.set(this.bytes.subarray(position, position + length), offset);
    return true;
  }
  close(): void {}
}

/** Read-ahead unit for small blocks: one read per 64 KiB instead of one per block (fewer NFS round trips). */
const READ_AHEAD_BYTES = 64 * 1024;
/**
 * Blocks this big are read from the page cache straight into the packet: one read per block costs
 * little, and copying them out of a chunk cost more than the read (a 64 KiB copy between buffers
 * whose addresses differ by a few bytes modulo 4 KiB runs at ~2 GB/s on x86: "4K aliasing").
 */
const DIRECT_BYTES = READ_AHEAD_BYTES / 4;
/** All read-ahead chunks of all streaming transfers together; past it, blocks are read one by one. */
const READ_AHEAD_BUDGET = 64 * 1024 * 1024;
let readAheadInUse = 0;

interface Chunk {
  buf: Uint8Array;
  pos: number;
  len: number;
  state: "empty" | "loading" | "ready";
}

const covers = (c: Chunk, position: number, end: number) => c.pos <= position && end <= c.pos + c.len;

/**
 * A file streamed from disk. Two chunks: the one the transfer reads from and the next, fetched
 * while the current one is sent, so a disk that keeps up never makes the transfer wait. A
 * go-back outside both (rare: windows are small) is fetched like any other chunk. Past the
 * read-ahead budget, or to report an error, it falls back to a plain blocking read.
 */
export class FdSource implements FileSource {
  onReady?: () => void;
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
    /** The confined file, open: owned from here, closed once the transfer is done with it. */
    private fd: number,
    readonly size: number,
    /** A background load of the same file: once it lands, reads come from memory. */
    private readonly load?: PendingLoad,
    /** How a chunk is tried before going to the background (tests pass one that always waits). */
    private readonly readNow: typeof readNoWait = readNoWait,
  ) {}

  read(into: Uint8Array, offset: number, position: number, length: number): boolean {
    if (length === 0) return true;
    const bytes = this.load?.bytes;
    if (bytes) {
      // In a storm every transfer holds a socket already; don't make it hold a file too.
      this.releaseFile();
      into.set(bytes.subarray(position, position + length), offset);
      return true;
    }
    const chunk = this.chunkFor(position, length);
    if (chunk) return this.copyOut(chunk, into, offset, position, length);
    if (this.failed || this.closed) return this.readBlocking(into, offset, position, length);
    if (length >= DIRECT_BYTES) {
      const n = this.readNow(this.fd, into, offset, length, position);
      if (n === length) return true;
      if (n === 0) throw fileChanged();
      // Not (all) cached: fetched whole into a chunk in the background, like small blocks.
    }
    if (!this.allocate(length)) return this.readBlocking(into, offset, position, length); // over budget
    const end = position + length;
    const loading = this.chunks.some((c) => c.state === "loading" && covers(c, position, end));
    if (!loading) {
      // Any chunk not loading may be overwritten: none holds this block (chunkFor said so).
      const spare = this.chunks.find((c) => c.state !== "loading");
      if (this.fetch(spare, position))
        return this.failed ? this.readBlocking(into, offset, position, length) : this.copyOut(spare!, into, offset, position, length);
    }
    this.waiting = true;
    return false;
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

  private copyOut(chunk: Chunk, into: Uint8Array, offset: number, position: number, length: number): boolean {
    into.set(chunk.buf.subarray(position - chunk.pos, position - chunk.pos + length), offset);
    this.readAheadFrom(chunk);
    return true;
  }

  /** The plain blocking read: over the read-ahead budget, or to report an error properly. */
  private readBlocking(into: Uint8Array, offset: number, position: number, length: number): boolean {
    // Released only once the whole file is in memory (reads then never get here) or at close:
    // the name is never opened again.
    if (this.fd < 0) throw new Error("read from a closed file source");
    this.readExactly(into, offset, position, length);
    return true;
  }

  private chunkFor(position: number, length: number): Chunk | undefined {
    const end = position + length;
    for (const c of this.chunks) if (c.state === "ready" && covers(c, position, end)) return c;
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

  /** Serving from `chunk`: make sure the one after it is on its way. */
  private readAheadFrom(chunk: Chunk): void {
    const next = chunk.pos + chunk.len;
    if (next >= this.size || this.failed) return;
    if (this.chunks.some((c) => c !== chunk && c.state !== "empty" && c.pos === next)) return;
    const other = this.chunks.find((c) => c !== chunk);
    if (other && other.state !== "loading") this.fetch(other, next);
  }

  /** Fills `chunk` from `position`: true when it is ready at once (page cache), else it loads in the background. */
  private fetch(chunk: Chunk | undefined, position: number): boolean {
    if (!chunk || this.fd < 0) return false;
    chunk.pos = position;
    chunk.len = Math.min(this.chunkBytes - (this.chunkBytes % this.unit), this.size - position);
    const now = this.readNow(this.fd, chunk.buf, 0, chunk.len, position);
    if (now === chunk.len) {
      chunk.state = "ready";
      return true;
    }
    if (now === 0) {
      // The file ended early: it shrank under us. The synchronous path reports it.
      chunk.state = "empty";
      this.failed = true;
      return true;
    }
    chunk.state = "loading";
    this.inFlight++;
    this.fill(chunk, now === "wait" ? 0 : now);
    return false;
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
