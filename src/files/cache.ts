/**
 * Shared LRU of whole-file contents, bounded in bytes. In a boot storm a thousand clients want the
 * same kernel and initrd: one copy in memory serves them all without a read per packet. Entries
 * are keyed by real path and checked against size, mtime and inode on every open, because the
 * root may be an NFS export that another host updates.
 */
import type { Stats } from "node:fs";
import { readFile } from "node:fs/promises";

interface Entry {
  bytes: Uint8Array;
  size: number;
  mtimeMs: number;
  ino: number;
}

const sameFile = (e: Entry, s: Stats) => e.size === s.size && e.mtimeMs === s.mtimeMs && e.ino === s.ino;

export class FileCache {
  private entries = new Map<string, Entry>();
  private loading = new Set<string>();
  private used = 0;

  constructor(
    private readonly capacityBytes: number,
    /** Files bigger than this are streamed, so one huge image can't evict every hot file. */
    private readonly maxFileBytes = Math.floor(capacityBytes / 2),
  ) {}

  get bytesUsed(): number {
    return this.used;
  }

  /** The cached contents if still current; refreshes LRU order. */
  get(key: string, stats: Stats): Uint8Array | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (!sameFile(e, stats)) {
      this.used -= e.bytes.length;
      return undefined;
    }
    this.entries.set(key, e);
    return e.bytes;
  }

  cacheable(size: number): boolean {
    return size > 0 && size <= this.maxFileBytes;
  }

  put(key: string, stats: Stats, bytes: Uint8Array): void {
    if (bytes.length > this.maxFileBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.used -= old.bytes.length;
      this.entries.delete(key);
    }
    for (const [k, e] of this.entries) {
      if (this.used + bytes.length <= this.capacityBytes) break;
      this.entries.delete(k);
      this.used -= e.bytes.length;
    }
    this.entries.set(key, { bytes, size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino });
    this.used += bytes.length;
  }

  /**
   * Loads a file in the background so the requests after this one hit memory; the transfer
   * that triggered it streams from disk meanwhile and is never delayed by the load.
   */
  warm(key: string, stats: Stats): void {
    if (!this.cacheable(stats.size) || this.loading.has(key) || this.entries.has(key)) return;
    this.loading.add(key);
    readFile(key)
      .then((buf) => {
        // Only keep it if the file did not change while we read it.
        if (buf.length === stats.size) this.put(key, stats, new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
      })
      .catch(() => {})
      .finally(() => this.loading.delete(key));
  }
}
