/**
 * The one change install-once makes to a tree: a host finished installing, so its per-host
 * entries go and its next boot falls through to "default" (local disk). This is all the
 * privileged boot-control process does for the client-facing ones (daemon/switch-process.ts), so it
 * takes nothing but a client address: the names it removes are computed here from that address
 * and the MAC the kernel or the sysadmin tied to it (macs.ts), never a path a client chose.
 *
 * Several servers may share one root over NFS and all see the same client. A per-host lock file
 * (exclusive create) picks one of them to remove the entries and write the record; the others
 * come back once the lock is released and find nothing left to do. Each removal is a
 * rename-claim, so a client never sees a half-removed state, and a missing entry counts as done.
 */
import { isIP } from "node:net";
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { claimLink, tryLock, writeFileAtomic } from "./atomic.ts";
import { decodeMacName, hexIpName, macName, parseIPv4, type Mac } from "./hexip.ts";
import { linkedProfile, type InstallRecord } from "./hosts.ts";
import { lookupMac, unbindAddress, type MacSource } from "./macs.ts";
import { ipEntryNames, lockFile, macEntryNames, PXELINUX_DIR, REMOVED_DIR, stateFile, type HostEntryName } from "./paths.ts";

export interface SwitchOptions {
  root: string;
  log: Logger;
  /** Where the kernel's neighbour table is read (tests use a file of their own). */
  neighbourTable?: string;
}

/** What became of one host; plain data, so it crosses the IPC channel as it is. */
export type SwitchResult =
  | { outcome: "installed"; key: string; profile: string; time: string; removed: string[]; mac?: Mac; macFrom?: MacSource }
  /** No entries left: never registered, or another server switched it. `macEntries`: MAC entries we could not match. */
  | { outcome: "nothing"; mac?: Mac; macEntries: number }
  /** Another server holds the host's lock (past every retry, when switchHost returns it). */
  | { outcome: "busy"; lock: string }
  | { outcome: "failed"; error: string };

/** A lock held this long belongs to a server that died mid-way: break it. */
const LOCK_STALE_MS = 30_000;
/** While another server holds a host's lock, look again this often, this many times. */
const RETRY_MS = 50;
const RETRIES = 100;

/**
 * Switches the host at `address` to local boot. The work is done at once when the lock is free
 * (the promise then only carries the result); a held lock is retried without blocking.
 */
export async function switchHost(opts: SwitchOptions, address: string): Promise<SwitchResult> {
  if (typeof address !== "string" || isIP(address) === 0) return { outcome: "failed", error: `not a client address: ${String(address)}` };
  for (let retry = 0; ; retry++) {
    let result: SwitchResult;
    try {
      result = finishInstall(opts, address);
    } catch (err) {
      return { outcome: "failed", error: err instanceof Error ? err.message : String(err) };
    }
    // Used up: a reinstall is bound again by `host add … --ip`.
    if (result.outcome === "installed") unbindQuietly(opts.root, address);
    if (result.outcome !== "busy" || retry >= RETRIES) return result;
    await Bun.sleep(RETRY_MS);
  }
}

function unbindQuietly(root: string, address: string): void {
  try {
    unbindAddress(root, address);
  } catch {
    // a binding left behind is used by nobody until that address fetches the marker again
  }
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

function finishInstall(opts: SwitchOptions, host: string): SwitchResult {
  const found = lookupMac(opts.root, host, opts.neighbourTable);
  const mac = found?.mac;
  const ip = parseIPv4(host);
  const key = hostKey(host, mac);
  const names: HostEntryName[] = [...(ip !== undefined ? ipEntryNames(ip) : []), ...(mac ? macEntryNames(mac) : [])];
  const existing = present(opts.root, names);
  if (!key || existing.length === 0) return { outcome: "nothing", mac, macEntries: found ? 0 : macEntryCount(opts.root) };
  // Read before locking: once we hold the lock nobody else removes these names under us.
  const profile = linkedProfile(opts.root, existing) ?? "unknown";
  let release: (() => void) | undefined;
  try {
    release = tryLock(join(opts.root, lockFile(key)), LOCK_STALE_MS);
    if (!release) return { outcome: "busy", lock: lockFile(key) };
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
    // The MAC goes in the record: a proxy DHCP sees only the MAC at the host's next DISCOVER.
    if (removed.length > 0) writeRecord(opts, { host, file: key, profile, time, ...(mac ? { mac } : {}) });
  } finally {
    release();
  }
  // Another server finished between our look and our lock.
  if (removed.length === 0) return { outcome: "nothing", mac, macEntries: 0 };
  return { outcome: "installed", key, profile, time, removed, ...(found ? { mac: found.mac, macFrom: found.source } : {}) };
}

/** MAC entries in pxelinux.cfg/: with the host's MAC unknown, the sign of a silent reinstall loop. */
function macEntryCount(root: string): number {
  try {
    return readdirSync(join(root, PXELINUX_DIR)).filter((n) => decodeMacName(n) !== undefined).length;
  } catch {
    return 0;
  }
}

function writeRecord(opts: SwitchOptions, rec: InstallRecord): void {
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
