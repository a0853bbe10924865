/**
 * Where a transfer's bytes come from: a shared in-memory copy (hot files every client wants) or
 * an open file read block by block into the caller's reused packet buffer.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { TftpError } from "../protocol/errors.ts";
import type { PendingLoad } from "./cache.ts";

export interface FileSource {
  readonly size: number;
  /** Copies exactly `length` bytes at `position` into `into[offset…]`; throws TftpError if it can't. */
  read(into: Uint8Array, offset: number, position: number, length: number): void;
  close(): void;
}

export class MemorySource implements FileSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  read(into: Uint8Array, offset: number, position: number, length: number): void {
    into.set(this.bytes.subarray(position, position + length), offset);
  }
  close(): void {}
}

const READ_AHEAD_BYTES = 64 * 1024;
/** All read-ahead chunks of all streaming transfers together. */
const READ_AHEAD_BUDGET = 64 * 1024 * 1024;
let readAheadInUse = 0;

export const fileChanged = () => new TftpError(0, "File changed during transfer");

export class FdSource implements FileSource {
  private fd = -1;
  private chunk?: Uint8Array;
  private chunkPos = 0;
  private chunkLen = 0;
  constructor(
    private readonly path: string,
    readonly size: number,
    /** A background load of the same file: once it lands, reads come from memory. */
    private readonly load?: PendingLoad,
  ) {
    // Opened now so a missing or unreadable file is refused before the transfer starts.
    this.fd = openSync(path, "r");
  }
  read(into: Uint8Array, offset: number, position: number, length: number): void {
    const bytes = this.load?.bytes;
    if (bytes) {
      // In a storm every transfer holds a socket already; don't make it hold a file too.
      this.close();
      into.set(bytes.subarray(position, position + length), offset);
      return;
    }
    if (this.fd < 0) this.fd = openSync(this.path, "r");
    const ahead = this.readAhead(position, length);
    if (ahead) {
      into.set(ahead, offset);
      return;
    }
    this.readExactly(into, offset, position, length);
  }

  /**
   * Blocks from a read-ahead chunk: one read per 64 KiB instead of one per block (45 reads of a
   * 1468-byte block become one), which also suits NFS. Chunks come from a process-wide budget so
   * a storm of streaming transfers can't balloon memory; past it, blocks are read one by one.
   */
  private readAhead(position: number, length: number): Uint8Array | undefined {
    const end = position + length;
    if (this.chunk && position >= this.chunkPos && end <= this.chunkPos + this.chunkLen)
      return this.chunk.subarray(position - this.chunkPos, end - this.chunkPos);
    if (!this.chunk) {
      if (length > READ_AHEAD_BYTES / 4 || readAheadInUse + READ_AHEAD_BYTES > READ_AHEAD_BUDGET) return undefined;
      readAheadInUse += READ_AHEAD_BYTES;
      this.chunk = new Uint8Array(READ_AHEAD_BYTES);
    }
    this.chunkPos = position;
    this.chunkLen = Math.min(READ_AHEAD_BYTES, this.size - position);
    this.readExactly(this.chunk, 0, position, this.chunkLen);
    return this.chunk.subarray(0, length);
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

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    if (this.chunk) {
      readAheadInUse -= READ_AHEAD_BYTES;
      this.chunk = undefined;
    }
  }
}
