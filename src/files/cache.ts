/**
 * Shared LRU of whole-file contents, bounded in bytes. In a boot storm a thousand clients want the
 * same kernel and initrd: one copy in memory serves them all without a read per packet. Entries
 * are keyed by real path and checked against size, mtime and inode on every open, because the
 * root may be an NFS export that another host updates. Contents are read from the descriptor the
 * request was confined to, never by name.
 */
import { closeSync, read, type Stats } from "node:fs";
import { dupFd } from "./beneath.ts";

interface Entry {
  bytes: Uint8Array;
  size: number;
  mtimeMs: number;
  ino: number;
}

/** A background load in progress: `bytes` is set once the whole file is in memory. */
export interface PendingLoad {
  readonly size: number;
  readonly mtimeMs: number;
  bytes?: Uint8Array;
}

/** How many once-requested files are remembered for the second-use rule. */
const SEEN_MAX = 4096;

const sameFile = (e: Entry, s: Stats) => e.size === s.size && e.mtimeMs === s.mtimeMs && e.ino === s.ino;

export class FileCache {
  private entries = new Map<string, Entry>();
  private loading = new Map<string, PendingLoad>();
  /** Files requested once (key → size:mtime:inode), oldest first, bounded. */
  private seen = new Map<string, string>();
  private used = 0;
  /** Opens served from memory and not (metrics); counted per file open, not per block. */
  hits = 0;
  misses = 0;

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
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.entries.delete(key);
    if (!sameFile(e, stats)) {
      this.used -= e.bytes.length;
      this.misses++;
      return undefined;
    }
    this.entries.set(key, e);
    this.hits++;
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
   * Loads a file in the background so later reads hit memory; transfers that started before the
   * load finished stream from disk meanwhile and switch over when `bytes` appears (in a boot storm
   * every client arrives before the first load is done). Returns undefined for files not cached.
   * `fd` is the confined file, open: read through a descriptor of its own, the caller keeps it.
   */
  warm(key: string, stats: Stats, fd: number): PendingLoad | undefined {
    if (!this.cacheable(stats.size)) return undefined;
    // Cache on second use: a file one client reads once (a host's own config, a one-off image)
    // is streamed without also being read whole in the background, which doubled the disk work
    // of a lone transfer. In a storm the second request arrives at once and starts the load.
    const version = `${stats.size}:${stats.mtimeMs}:${stats.ino}`;
    if (this.seen.get(key) !== version) {
      this.seen.delete(key);
      this.seen.set(key, version);
      if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.keys().next().value!);
      return undefined;
    }
    const pending = this.loading.get(key);
    if (pending && pending.mtimeMs === stats.mtimeMs && pending.size === stats.size) return pending;
    const own = dupFd(fd);
    if (own < 0) return undefined; // out of descriptors (or no libc): streamed, not cached
    const load: PendingLoad = { size: stats.size, mtimeMs: stats.mtimeMs };
    this.loading.set(key, load);
    readWhole(own, stats.size)
      .then((bytes) => {
        // Only keep it if the file did not change while we read it.
        if (!bytes) return;
        load.bytes = bytes;
        this.put(key, stats, bytes);
      })
      .catch(() => {})
      .finally(() => {
        closeSync(own);
        if (this.loading.get(key) === load) this.loading.delete(key);
      });
    return load;
  }
}

/** The file's `size` bytes, read off the event loop; undefined when it is not that size any more. */
async function readWhole(fd: number, size: number): Promise<Uint8Array | undefined> {
  // One byte more than expected: a file that grew is seen, like one that shrank.
  const buf = new Uint8Array(size + 1);
  let done = 0;
  for (;;) {
    const n = await new Promise<number>((resolve, reject) => read(fd, buf, done, buf.length - done, done, (err, got) => (err ? reject(err) : resolve(got))));
    if (n === 0) break;
    done += n;
    if (done > size) return undefined;
  }
  return done === size ? buf.subarray(0, size) : undefined;
}
