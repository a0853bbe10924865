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
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { claimLink, tryLock, writeFileAtomic } from "./atomic.ts";
import { decodeMacName, hexIpName, macName, parseIPv4, type Mac } from "./hexip.ts";
import { MacRegistry, type MacLookup } from "./macs.ts";
import { linkedProfile, type InstallRecord } from "./hosts.ts";
import {
  ipEntryNames,
  lockFile,
  macEntryNames,
  macFromRequest,
  MAC_DIR,
  normalizeRelative,
  PXELINUX_DIR,
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
  /** Where the kernel's neighbour table is read (tests use a file of their own). */
  neighbourTable?: string;
  /** Bumped as events happen, for whoever reports them (the metrics endpoint). */
  counts?: InstallOnceCounts;
}

/** Running totals of what install-once did; a plain object so layout depends on no server code. */
export interface InstallOnceCounts {
  /** Hosts whose entries were removed by this server. */
  installed: number;
  /** Marker fetches that did not complete (the host will install again). */
  failedMarkerFetches: number;
  /** Marker fetched, MAC entries exist, but this host's MAC is unknown. */
  unknownMac: number;
  /** Entries that could not be removed. */
  removeFailures: number;
}

export const newInstallOnceCounts = (): InstallOnceCounts => ({ installed: 0, failedMarkerFetches: 0, unknownMac: 0, removeFailures: 0 });

/**
 * What install-once needs to know of a finished transfer; the server's transfer record has it.
 * Declared here so the layout code depends on no server module.
 */
export interface FinishedTransfer {
  /** "write" is an upload: a host sending the marker (or any name) tells nothing about installs. */
  direction?: "read" | "write";
  /** Plain IPv4 or IPv6 literal. */
  clientAddress: string;
  /** The file as the client named it. */
  requested: string;
  /** The path relative to the root after confinement ("" when refused before that). */
  file: string;
  outcome: "ok" | "probe" | "error" | "timeout";
  reason?: string;
  errorCode?: number;
  bytes: number;
  /** The file's size (-1 or absent when unknown): fewer bytes than that is a partial fetch (an HTTP range). */
  size?: number;
}

/** The observer, plus a way to wait until what it learned is on disk (awaited on shutdown). */
export type InstallOnce = ((record: FinishedTransfer) => void) & { flush(): Promise<void> };

/** A lock held this long belongs to a server that died mid-way: break it. */
const LOCK_STALE_MS = 30_000;
/** While another server holds a host's lock, look again this often, this many times. */
const RETRY_MS = 50;
const RETRIES = 100;

export function createInstallOnce(opts: InstallOnceOptions): InstallOnce {
  const marker = normalizeRelative(opts.marker);
  const macs = new MacRegistry({
    root: opts.root,
    neighbourTable: opts.neighbourTable,
    onError: (what, err) =>
      opts.log.warn(`install-once ${what}: a host registered by MAC may install again after a restart`, {
        error: err instanceof Error ? err.message : String(err),
        fix: `make ${MAC_DIR} writable by the server's user (pxeboot init ROOT --owner USER)`,
      }),
  });

  const attempt = (record: FinishedTransfer, mac: MacLookup | undefined, retriesLeft: number): void => {
    let outcome: "done" | "busy";
    try {
      outcome = finishInstall(opts, record, mac);
    } catch (err) {
      if (opts.counts) opts.counts.removeFailures++;
      opts.log.error("install-once failed to remove the host's netboot entries: it will install again at its next boot", {
        host: record.clientAddress,
        error: err instanceof Error ? err.message : String(err),
        fix: "make pxelinux.cfg/, grub/, ipxe/ and .pxeboot/ writable by the server's user (pxeboot doctor --user USER)",
      });
      return;
    }
    if (outcome === "done") {
      // Used up: a later reinstall PXE boots again and is learned afresh.
      void macs.forget(record.clientAddress);
      return;
    }
    if (retriesLeft <= 0) {
      opts.log.warn("install-once gave up: another server kept this host's lock", {
        host: record.clientAddress,
        lock: lockFile(hostKey(record.clientAddress, mac?.mac)!),
      });
      return;
    }
    setTimeout(() => attempt(record, mac, retriesLeft - 1), RETRY_MS).unref?.();
  };

  const observe = (record: FinishedTransfer) => {
    if (record.direction === "write") return;
    const file = normalizeRelative(record.file || record.requested);
    // pxelinux asks for 01-<mac> first and it usually does not exist: any outcome teaches the MAC.
    const mac = macFromRequest(file);
    if (mac) macs.learn(record.clientAddress, mac);
    if (file !== marker) return;
    // Only the whole marker counts: an HTTP range of it is no proof the install finished.
    const partial = record.size !== undefined && record.size >= 0 && record.bytes < record.size;
    if (record.outcome !== "ok" || partial) return reportFailedFetch(opts, record);
    const known = macs.lookup(record.clientAddress);
    attempt(record, known, RETRIES);
  };
  return Object.assign(observe, { flush: () => macs.flush() });
}

/**
 * A marker fetch that did not complete leaves the host's entries, so it will reinstall at its
 * next boot: worth a warning the same day. A size probe is part of a normal fetch by some clients.
 */
function reportFailedFetch({ log, counts }: InstallOnceOptions, record: FinishedTransfer): void {
  if (record.outcome === "probe") return log.debug("install marker size probe", { host: record.clientAddress });
  if (counts) counts.failedMarkerFetches++;
  log.warn("install marker fetch did not complete: the host keeps its netboot entries and will install again", {
    host: record.clientAddress,
    outcome: record.outcome,
    reason: record.reason,
    errorCode: record.errorCode,
    bytes: record.bytes,
  });
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

function finishInstall(opts: InstallOnceOptions, record: FinishedTransfer, found: MacLookup | undefined): "done" | "busy" {
  const host = record.clientAddress;
  const mac = found?.mac;
  const ip = parseIPv4(host);
  const key = hostKey(host, mac);
  const names: HostEntryName[] = [...(ip !== undefined ? ipEntryNames(ip) : []), ...(mac ? macEntryNames(mac) : [])];
  const existing = present(opts.root, names);
  if (!key || existing.length === 0) {
    reportNothingToRemove(opts, host, found);
    return "done";
  }
  // Read before locking: once we hold the lock nobody else removes these names under us.
  const profile = linkedProfile(opts.root, existing) ?? "unknown";
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
  if (opts.counts) opts.counts.installed++;
  opts.log.info("installed: netboot entries removed, next boot is local", {
    host,
    profile,
    time,
    ...(found ? { mac: found.mac, macFrom: found.source } : {}),
    removed: removed.join(","),
  });
  if (opts.onInstallCmd) runHook(opts, { host, file: key, profile, time }, mac, removed);
  return "done";
}

/**
 * Nothing to remove is normal for a host that was never registered, or that another server
 * already switched. It is the silent reinstall loop when the host is registered by MAC and its
 * MAC is unknown here: say so at warning level whenever MAC entries exist that we could not match.
 */
function reportNothingToRemove(opts: InstallOnceOptions, host: string, found: MacLookup | undefined): void {
  const macEntries = found ? [] : readdirQuiet(join(opts.root, PXELINUX_DIR)).filter((n) => decodeMacName(n) !== undefined);
  if (macEntries.length === 0) return opts.log.debug("install marker fetched, no netboot entries left for this host", { host, mac: found?.mac });
  if (opts.counts) opts.counts.unknownMac++;
  opts.log.warn("install marker fetched, but this host's MAC is unknown: if it is registered by MAC it will install again", {
    host,
    macEntries: macEntries.length,
    fix: "register it by IP (pxeboot host add IP PROFILE), or let it PXE boot through this server so its MAC is learned",
  });
}

function readdirQuiet(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
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
