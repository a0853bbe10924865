/**
 * Turns the server's transfer records into boot events and writes them, batched, off the
 * transfer path: the observer only queues; a timer appends each host's new lines twice a second.
 * A host is keyed by its MAC where the neighbour table or a `host add --ip` binding knows it (as
 * install-once finds it; never from what a client sends), else by its address.
 */
import type { TransferRecord } from "../records/transfer-record.ts";
import { lookupMac } from "../layout/macs.ts";
import { closeSync, readSync, realpathSync } from "node:fs";
import { O_RDONLY, openBeneath, rootFd } from "../files/beneath.ts";
import { classify } from "./classify.ts";
import { configBootsLocally } from "./config-intent.ts";
import { appendEvents, ensureBootsDir, pruneHosts } from "./store.ts";
import type { BootEvent } from "./types.ts";

const FLUSH_MS = 500;
/** Configs are small; a bigger file is not read to judge it. */
const CONFIG_READ_MAX = 64 * 1024;

/**
 * Read here, in the batch, not on the transfer path, beneath the root by descriptor as the
 * server reads (a link swapped meanwhile cannot point it outside); a file that went away, or a
 * kernel without openat2, judges nothing.
 */
function bootsLocally(root: string, file: string): boolean {
  try {
    const fd = openBeneath(rootFd(realpathSync(root)), file, O_RDONLY);
    if (fd === null) return false;
    try {
      const buf = Buffer.alloc(CONFIG_READ_MAX);
      const n = readSync(fd, buf, 0, CONFIG_READ_MAX, 0);
      return configBootsLocally(file, buf.subarray(0, n).toString("latin1"));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}
/** A neighbour-table answer is reused this long (one read of /proc/net/arp per host and boot step, not per file). */
const MAC_CACHE_MS = 60_000;
const PRUNE_EVERY_MS = 60_000;

export interface BootRecorderOptions {
  root: string;
  marker: string;
  /** Told once when events cannot be written (the state directory is not writable, say). */
  onWriteError?: (error: string) => void;
  /** For tests: the neighbour table to read. */
  neighbourTable?: string;
  now?: () => number;
}

export interface BootRecorder {
  observe(record: TransferRecord): void;
  /** The proxy DHCP offered (or acknowledged on 4011) `file` to `mac`. */
  offered(mac: string, file: string): void;
  flush(): void;
  stop(): void;
}

export function eventOf(record: TransferRecord, marker: string, at: number): BootEvent {
  const http = record.mode === "http";
  const file = record.file || record.requested;
  const e: BootEvent = {
    t: at,
    a: record.clientAddress,
    f: file,
    k: classify(file, marker),
    via: http ? "http" : "tftp",
    o: record.outcome,
    b: record.bytes,
    s: record.size,
    d: Math.round(record.durationMs),
  };
  const code = http ? Number(record.options.status) : record.errorCode;
  if (code !== undefined && !Number.isNaN(code)) e.c = code;
  if (record.retransmits) e.r = record.retransmits;
  if (!http) e.bs = Number(record.options.blksize ?? 512) || 512;
  if (record.outcome !== "ok" && record.reason) e.why = record.reason.slice(0, 160);
  return e;
}

export function createBootRecorder(opts: BootRecorderOptions): BootRecorder {
  const now = opts.now ?? Date.now;
  const pending = new Map<string, BootEvent[]>();
  const macs = new Map<string, { key: string; at: number }>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let broken = false;
  let lastPrune = 0;

  const keyOf = (address: string): string => {
    const hit = macs.get(address);
    const t = now();
    if (hit && t - hit.at < MAC_CACHE_MS) return hit.key;
    const found = lookupMac(opts.root, address, opts.neighbourTable);
    const key = found?.mac ?? address;
    macs.set(address, { key, at: t });
    if (macs.size > 50_000) macs.clear();
    return key;
  };

  const flush = () => {
    timer = undefined;
    if (pending.size === 0 || broken) return;
    const batch = [...pending];
    pending.clear();
    try {
      ensureBootsDir(opts.root);
      for (const [, events] of batch) for (const e of events) if (e.k === "config" && e.o === "ok" && bootsLocally(opts.root, e.f)) e.lb = true;
      for (const [key, events] of batch) appendEvents(opts.root, key, events);
      if (now() - lastPrune > PRUNE_EVERY_MS) {
        lastPrune = now();
        pruneHosts(opts.root);
      }
    } catch (err) {
      broken = true;
      opts.onWriteError?.((err as Error).message);
    }
  };

  return {
    observe(record) {
      if (broken || record.direction !== "read") return;
      const key = keyOf(record.clientAddress);
      const list = pending.get(key) ?? [];
      list.push(eventOf(record, opts.marker, now()));
      pending.set(key, list);
      timer ??= setTimeout(flush, FLUSH_MS);
      (timer as { unref?: () => void }).unref?.();
    },
    offered(mac, file) {
      if (broken) return;
      const key = mac.toLowerCase();
      const list = pending.get(key) ?? [];
      list.push({ t: now(), a: "", f: file, k: "offer", via: "dhcp", o: "ok", b: 0, s: -1, d: 0 });
      pending.set(key, list);
      timer ??= setTimeout(flush, FLUSH_MS);
      (timer as { unref?: () => void }).unref?.();
    },
    flush() {
      if (timer) clearTimeout(timer);
      flush();
    },
    stop() {
      if (timer) clearTimeout(timer);
      flush();
    },
  };
}
