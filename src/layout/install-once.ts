/**
 * Install-once, as a transfer observer: when a client has read the marker file to the end, its
 * per-host entries are taken away so its next boot falls through to "default" (local disk).
 *
 * Several servers may share one root over NFS and all see the same client. Each entry is claimed
 * by renaming it (exactly one rename wins), so the state never goes half-way and only the winner
 * logs, records and runs the hook. Everything is idempotent: a missing entry is simply done.
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import type { TransferObserver, TransferRecord } from "../server/types.ts";
import { claimLink, writeFileAtomic } from "./atomic.ts";
import { hexIpName, macName, parseIPv4, type Mac } from "./hexip.ts";
import type { InstallRecord } from "./hosts.ts";
import {
  ipEntryNames,
  macEntryNames,
  macFromRequest,
  normalizeRelative,
  profileFromTarget,
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

export function createInstallOnce(opts: InstallOnceOptions): TransferObserver {
  const marker = normalizeRelative(opts.marker);
  const macs = new Map<string, Mac>();

  return (record: TransferRecord) => {
    const file = normalizeRelative(record.file || record.requested);
    // pxelinux asks for 01-<mac> first and it usually does not exist: any outcome teaches the MAC.
    const mac = macFromRequest(file);
    if (mac) remember(macs, record.clientAddress, mac);
    if (record.outcome !== "ok" || file !== marker) return;
    try {
      finishInstall(opts, record, macs.get(record.clientAddress));
      macs.delete(record.clientAddress);
    } catch (err) {
      opts.log.error("install-once failed to remove the host's netboot entries", {
        host: record.clientAddress,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  };
}

function remember(macs: Map<string, Mac>, address: string, mac: Mac): void {
  // Re-inserting moves the address to the back, so the map evicts the least recently seen.
  macs.delete(address);
  macs.set(address, mac);
  if (macs.size > MAC_MEMORY) macs.delete(macs.keys().next().value!);
}

function finishInstall(opts: InstallOnceOptions, record: TransferRecord, mac: Mac | undefined): void {
  const host = record.clientAddress;
  const ip = parseIPv4(host);
  const names: HostEntryName[] = [...(ip !== undefined ? ipEntryNames(ip) : []), ...(mac ? macEntryNames(mac) : [])];
  const removed: string[] = [];
  let profile: string | undefined;
  for (const n of names) {
    const target = claimLink(join(opts.root, n.path));
    if (target === undefined) continue;
    removed.push(n.path);
    // The pxelinux link names the profile; the other loaders' links only confirm it.
    if (profile === undefined || n.loader === "pxelinux") profile = profileFromTarget(target) ?? profile;
  }
  if (removed.length === 0) {
    opts.log.debug("install marker fetched, no netboot entries left for this host", { host, mac });
    return;
  }
  const time = new Date().toISOString();
  const key = ip !== undefined ? hexIpName(ip) : macName(mac!);
  const rec: InstallRecord = { host, file: key, profile: profile ?? "unknown", time };
  try {
    writeFileAtomic(join(opts.root, stateFile(key)), JSON.stringify(rec) + "\n", 0o644);
  } catch (err) {
    // The host is switched already; only `host list` misses it, so say so and carry on.
    opts.log.warn("install-once could not write its record", {
      host,
      file: stateFile(key),
      error: err instanceof Error ? err.message : String(err),
    });
  }
  opts.log.info("installed: netboot entries removed, next boot is local", {
    host,
    profile: rec.profile,
    time,
    ...(mac ? { mac } : {}),
    removed: removed.join(","),
  });
  if (opts.onInstallCmd) runHook(opts, rec, mac, removed);
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
