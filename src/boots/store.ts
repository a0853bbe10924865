/**
 * Where boot events are kept: one file of JSON lines per host in the state directory, appended
 * to (O_APPEND: lines from several workers, or several servers of a local root, do not
 * interleave), so any server of a shared root and `pxeboot host log` read the same events.
 * Bounded: a host's file is cut to its newest half past HOST_FILE_MAX_BYTES, and past
 * HOSTS_MAX files the least recently written go.
 */
import { appendFileSync, chownSync, closeSync, fstatSync, mkdirSync, openSync, readSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootEvent } from "./types.ts";

export const BOOTS_DIR = ".pxeboot/boots";
/**
 * About 170 events: a dozen or more boots of a pxelinux host with its config search (at least
 * half of it stays when the file is cut). With HOSTS_MAX, at most ~320 MB of disk.
 */
export const HOST_FILE_MAX_BYTES = 32 * 1024;
export const HOSTS_MAX = 10_000;

/** A host's key as a file name: a MAC as aa-bb-cc-dd-ee-ff, an address as written (IPv6 ':' → '_'). */
export function hostFileName(key: string): string {
  return key.toLowerCase().replace(/:/g, key.includes(".") || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(key) ? "_" : "-") + ".jsonl";
}

export function appendEvents(root: string, key: string, events: readonly BootEvent[]): void {
  const dir = join(root, BOOTS_DIR);
  const file = join(dir, hostFileName(key));
  const text = events.map((e) => JSON.stringify(e)).join("\n") + "\n";
  appendFileSync(file, text, { mode: 0o644 });
  const size = statSync(file).size;
  if (size > HOST_FILE_MAX_BYTES) trimToNewestHalf(file);
}

/** Keeps the newest half of the file's lines (whole lines), replacing it by rename. */
function trimToNewestHalf(file: string): void {
  const text = readFileSync(file, "utf8");
  const cut = text.indexOf("\n", Math.floor(text.length / 2));
  if (cut < 0) return;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text.slice(cut + 1), { mode: 0o644 });
  renameSync(tmp, file);
}

/** Removes the least recently written host files past `max`. */
export function pruneHosts(root: string, max = HOSTS_MAX): number {
  const dir = join(root, BOOTS_DIR);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".jsonl"));
  } catch {
    return 0;
  }
  if (names.length <= max) return 0;
  const aged = names.map((n) => ({ n, m: statSync(join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 })).sort((a, b) => a.m - b.m);
  let removed = 0;
  for (const { n } of aged.slice(0, names.length - max)) {
    try {
      unlinkSync(join(dir, n));
      removed++;
    } catch {
      // Another server of the root removed it first.
    }
  }
  return removed;
}

/**
 * Makes the directory; given an owner (the user the server drops to, when it starts as root),
 * hands it to that user, so every process of the server can write records after the drop
 * while the rest of the state directory stays the boot-control owner's.
 */
export function ensureBootsDir(root: string, owner?: { uid: number; gid: number }): string {
  const dir = join(root, BOOTS_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/** A host's events; lines that do not parse (a write cut by a crash) are skipped. */
export function readEvents(root: string, key: string): BootEvent[] {
  let text: string;
  try {
    text = readFileSync(join(root, BOOTS_DIR, hostFileName(key)), "utf8");
  } catch {
    return [];
  }
  return parseEvents(text);
}

function parseEvents(text: string): BootEvent[] {
  const out: BootEvent[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as BootEvent;
      if (typeof e.t === "number" && typeof e.f === "string") out.push(e);
    } catch {
      // skipped
    }
  }
  return out;
}

/**
 * A host's newest events only: the last `bytes` of its file, from the first whole line in them.
 * The farm page needs each host's last boot, not its whole ring.
 */
export function readTailEvents(root: string, key: string, bytes: number): BootEvent[] {
  let fd: number;
  try {
    fd = openSync(join(root, BOOTS_DIR, hostFileName(key)), "r");
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    let text = buf.subarray(0, n).toString("utf8");
    if (start > 0) text = text.slice(text.indexOf("\n") + 1);
    return parseEvents(text);
  } finally {
    closeSync(fd);
  }
}

/** Every host with a record: its key as stored in the file name. */
export function listHostKeys(root: string): string[] {
  try {
    return readdirSync(join(root, BOOTS_DIR))
      .filter((n) => n.endsWith(".jsonl"))
      .map((n) => n.slice(0, -".jsonl".length));
  } catch {
    return [];
  }
}
