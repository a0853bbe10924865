/**
 * Install-once, as a transfer observer: when a client has read the marker file to the end, its
 * per-host entries are taken away so its next boot falls through to "default" (local disk).
 *
 * Several servers may share one root over NFS and all see the same client. A per-host lock file
 * (exclusive create) picks one of them to remove the entries, write the record, log and run the
 * hook; the others come back once the lock is released and find nothing left to do (or only
 * the entries the winner could not know about, such as a MAC name only they saw requested).
 * Each removal is a rename-claim, so a client never sees a half-removed state, and a missing
 * entry simply counts as done.
 */
import { lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import type { TransferObserver, TransferRecord } from "../server/types.ts";
import { claimLink, tryLock, writeFileAtomic } from "./atomic.ts";
import { hexIpName, macName, parseIPv4, type Mac } from "./hexip.ts";
import type { InstallRecord } from "./hosts.ts";
import {
  ipEntryNames,
  lockFile,
  macEntryNames,
  macFromRequest,
  normalizeRelative,
  profileFromTarget,
  REMOVED_DIR,
  stateFile,
  type HostEntryName,
} from "./paths.ts";

export interface InstallOnceOptions {
  root: string;
  /** The marker's path relative to the root, e.g. "Kickstart_end". */
  marker: string;
  /** Shell command run (not awaited) after a host's entries were removed. */
  onInstallCmd?: string;
  log: Logger;
}

/** MACs remembered per client address; a boot storm of this many hosts still fits. */
const MAC_MEMORY = 16384;
/** A lock held this long belongs to a server that died mid-way: break it. */
const LOCK_STALE_MS = 30_000;
/** While another server holds a host's lock, look again this often, this many times. */
const RETRY_MS = 50;
const RETRIES = 100;

export function createInstallOnce(opts: InstallOnceOptions): TransferObserver {
  const marker = normalizeRelative(opts.marker);
  const macs = new Map<string, Mac>();

  const attempt = (record: TransferRecord, mac: Mac | undefined, retriesLeft: number): void => {
    let outcome: "done" | "busy";
    try {
      outcome = finishInstall(opts, record, mac);
    } catch (err) {
      opts.log.error("install-once failed to remove the host's netboot entries", {
        host: record.clientAddress,
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    if (outcome === "done") return;
    if (retriesLeft <= 0) {
      opts.log.warn("install-once gave up: another server kept this host's lock", {
        host: record.clientAddress,
        lock: lockFile(hostKey(record.clientAddress, mac)!),
      });
      return;
    }
    setTimeout(() => attempt(record, mac, retriesLeft - 1), RETRY_MS).unref?.();
  };

  return (record: TransferRecord) => {
    const file = normalizeRelative(record.file || record.requested);
    // pxelinux asks for 01-<mac> first and it usually does not exist: any outcome teaches the MAC.
    const mac = macFromRequest(file);
    if (mac) remember(macs, record.clientAddress, mac);
    if (record.outcome !== "ok" || file !== marker) return;
    const known = macs.get(record.clientAddress);
    macs.delete(record.clientAddress);
    attempt(record, known, RETRIES);
  };
}

function remember(macs: Map<string, Mac>, address: string, mac: Mac): void {
  // Re-inserting moves the address to the back, so the map evicts the least recently seen.
  macs.delete(address);
  macs.set(address, mac);
  if (macs.size > MAC_MEMORY) macs.delete(macs.keys().next().value!);
}

/** The key of a host's lock and record: its hex IP name, else its 01-MAC name. */
function hostKey(address: string, mac: Mac | undefined): string | undefined {
  const ip = parseIPv4(address);
  if (ip !== undefined) return hexIpName(ip);
  return mac ? macName(mac) : undefined;
}

function present(root: string, names: HostEntryName[]): HostEntryName[] {
  return names.filter((n) => {
    try {
      lstatSync(join(root, n.path));
      return true;
    } catch {
      return false;
    }
  });
}

/** The profile the host was set to; the pxelinux link is the authority, the others confirm it. */
function readProfile(root: string, names: HostEntryName[]): string | undefined {
  const ordered = [...names.filter((n) => n.loader === "pxelinux"), ...names.filter((n) => n.loader !== "pxelinux")];
  for (const n of ordered) {
    try {
      const p = profileFromTarget(readlinkSync(join(root, n.path)));
      if (p) return p;
    } catch {
      // gone or not a link: try the next one
    }
  }
  return undefined;
}

function finishInstall(opts: InstallOnceOptions, record: TransferRecord, mac: Mac | undefined): "done" | "busy" {
  const host = record.clientAddress;
  const ip = parseIPv4(host);
  const key = hostKey(host, mac);
  const names: HostEntryName[] = [...(ip !== undefined ? ipEntryNames(ip) : []), ...(mac ? macEntryNames(mac) : [])];
  const existing = present(opts.root, names);
  if (!key || existing.length === 0) {
    opts.log.debug("install marker fetched, no netboot entries left for this host", { host, mac });
    return "done";
  }
  // Read before locking: once we hold the lock nobody else removes these names under us.
  const profile = readProfile(opts.root, existing) ?? "unknown";
  let release: (() => void) | undefined;
  try {
    release = tryLock(join(opts.root, lockFile(key)), LOCK_STALE_MS);
    if (!release) return "busy";
  } catch (err) {
    // No lock directory (read-only .pxeboot, say): switching the host matters more than the lock.
    opts.log.warn("install-once could not take the host lock, going ahead without it", {
      host,
      error: err instanceof Error ? err.message : String(err),
    });
    release = () => {};
  }
  const removed: string[] = [];
  let time: string;
  try {
    const keep = join(opts.root, REMOVED_DIR);
    for (const n of names) if (claimLink(join(opts.root, n.path), keep) !== undefined) removed.push(n.path);
    time = new Date().toISOString();
    if (removed.length > 0) writeRecord(opts, { host, file: key, profile, time });
  } finally {
    release();
  }
  if (removed.length === 0) return "done"; // another server finished between our look and our lock
  opts.log.info("installed: netboot entries removed, next boot is local", {
    host,
    profile,
    time,
    ...(mac ? { mac } : {}),
    removed: removed.join(","),
  });
  if (opts.onInstallCmd) runHook(opts, { host, file: key, profile, time }, mac, removed);
  return "done";
}

function writeRecord(opts: InstallOnceOptions, rec: InstallRecord): void {
  try {
    writeFileAtomic(join(opts.root, stateFile(rec.file)), JSON.stringify(rec) + "\n", 0o644);
  } catch (err) {
    // The host is switched already; only `host list` misses it, so say so and carry on.
    opts.log.warn("install-once could not write its record", {
      host: rec.host,
      file: stateFile(rec.file),
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

function runHook(opts: InstallOnceOptions, rec: InstallRecord, mac: Mac | undefined, removed: string[]): void {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PXEBOOT_HOST: rec.host,
    PXEBOOT_PROFILE: rec.profile,
    PXEBOOT_FILE: normalizeRelative(opts.marker),
    PXEBOOT_ROOT: opts.root,
    PXEBOOT_TIME: rec.time,
    PXEBOOT_REMOVED: removed.join(" "),
    ...(mac ? { PXEBOOT_MAC: mac } : {}),
  };
  try {
    const proc = Bun.spawn(["/bin/sh", "-c", opts.onInstallCmd!], {
      env,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "inherit",
    });
    proc.exited.then(
      (code) => {
        if (code !== 0) opts.log.warn("--on-install command failed", { host: rec.host, exitCode: code });
      },
      (err: unknown) => opts.log.warn("--on-install command failed", { host: rec.host, error: String(err) }),
    );
  } catch (err) {
    opts.log.warn("--on-install command could not start", {
      host: rec.host,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
