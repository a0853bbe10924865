/**
 * Install-once, as a transfer observer: when a client has read the marker file to the end, its
 * per-host entries are taken away so its next boot falls through to "default" (local disk).
 *
 * The observer runs in the processes that face clients; the change to the tree is the
 * switcher's (switch-host.ts), which a server started as root runs in a separate process that
 * alone may write boot control (daemon/switch-process.ts). The log line, the counts and the
 * `--on-install` hook stay here, with the unprivileged server.
 */
import type { Logger } from "../log.ts";
import type { Mac } from "./hexip.ts";
import type { InstallRecord } from "./hosts.ts";
import { normalizeRelative } from "./paths.ts";
import { switchHost, type SwitchResult } from "./switch-host.ts";

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
  /** Who changes the tree; default: this process (switch-host.ts). */
  switcher?: HostSwitcher;
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

/** Switches a host to local boot: in this process, or in the privileged one (daemon/switch-process.ts). */
export type HostSwitcher = (address: string) => Promise<SwitchResult>;

export function createInstallOnce(opts: InstallOnceOptions): InstallOnce {
  const marker = normalizeRelative(opts.marker);
  const switcher = opts.switcher ?? ((address: string) => switchHost({ root: opts.root, log: opts.log, neighbourTable: opts.neighbourTable }, address));
  const inFlight = new Set<Promise<void>>();

  const observe = (record: FinishedTransfer) => {
    if (record.direction === "write") return;
    const file = normalizeRelative(record.file || record.requested);
    if (file !== marker) return;
    // Only the whole marker counts: an HTTP range of it is no proof the install finished.
    const partial = record.size !== undefined && record.size >= 0 && record.bytes < record.size;
    if (record.outcome !== "ok" || partial) return reportFailedFetch(opts, record);
    const done = switcher(record.clientAddress)
      .catch((err: unknown): SwitchResult => ({ outcome: "failed", error: err instanceof Error ? err.message : String(err) }))
      .then((result) => report(opts, record.clientAddress, result));
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
  return Object.assign(observe, { flush: async () => void (await Promise.all(inFlight)) });
}

/** Says what became of the host, counts it, and runs the hook: here, as the unprivileged server. */
function report(opts: InstallOnceOptions, host: string, r: SwitchResult): void {
  if (r.outcome === "failed") {
    if (opts.counts) opts.counts.removeFailures++;
    opts.log.error("install-once failed to remove the host's netboot entries: it will install again at its next boot", {
      host,
      error: r.error,
      fix: "pxeboot doctor ROOT says which directory is not writable and by whom",
    });
    return;
  }
  if (r.outcome === "busy") return opts.log.warn("install-once gave up: another server kept this host's lock", { host, lock: r.lock });
  if (r.outcome === "nothing") return reportNothingToRemove(opts, host, r);
  if (opts.counts) opts.counts.installed++;
  opts.log.info("installed: netboot entries removed, next boot is local", {
    host,
    profile: r.profile,
    time: r.time,
    ...(r.mac ? { mac: r.mac, macFrom: r.macFrom } : {}),
    removed: r.removed.join(","),
  });
  if (opts.onInstallCmd) runHook(opts, { host, file: r.key, profile: r.profile, time: r.time }, r.mac, r.removed);
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

/**
 * Nothing to remove is normal for a host that was never registered, or that another server
 * already switched. It is the silent reinstall loop when the host is registered by MAC and its
 * MAC is unknown here: say so at warning level whenever MAC entries exist that we could not match.
 */
function reportNothingToRemove(opts: InstallOnceOptions, host: string, r: Extract<SwitchResult, { outcome: "nothing" }>): void {
  if (r.macEntries === 0) return opts.log.debug("install marker fetched, no netboot entries left for this host", { host, mac: r.mac });
  if (opts.counts) opts.counts.unknownMac++;
  opts.log.warn("install marker fetched, but this host's MAC is unknown: if it is registered by MAC it will install again", {
    host,
    macEntries: r.macEntries,
    fix: "bind it: pxeboot host add MAC PROFILE --ip IP (a host on this segment is found in the neighbour table by itself)",
  });
}

/**
 * What an --on-install command finds in its environment, besides the server's own (PATH, HOME,
 * …): the names and what they hold, as `serve --help` and the README show them.
 */
export const HOOK_ENVIRONMENT = {
  PXEBOOT_HOST: "the host's IP address, as it fetched the install marker",
  PXEBOOT_MAC: "its MAC address (aa:bb:cc:dd:ee:ff), when known; unset otherwise",
  PXEBOOT_PROFILE: "the profile it installed",
  PXEBOOT_TIME: "when, ISO 8601 UTC",
  PXEBOOT_REMOVED: "the netboot entries removed, relative to the root, separated by spaces",
  PXEBOOT_FILE: "the install marker it fetched, relative to the root",
  PXEBOOT_ROOT: "the tftp root",
} as const;

/** `serve --help`'s note on the hook's environment. */
export const hookEnvironmentHelp = (): string =>
  "--on-install CMD runs under /bin/sh -c with:\n" +
  Object.entries(HOOK_ENVIRONMENT)
    .map(([name, what]) => `  ${name.padEnd(16)} ${what}`)
    .join("\n") +
  "\n";

function runHook(opts: InstallOnceOptions, rec: InstallRecord, mac: Mac | undefined, removed: string[]): void {
  const own: Record<keyof typeof HOOK_ENVIRONMENT, string | undefined> = {
    PXEBOOT_HOST: rec.host,
    PXEBOOT_MAC: mac,
    PXEBOOT_PROFILE: rec.profile,
    PXEBOOT_TIME: rec.time,
    PXEBOOT_REMOVED: removed.join(" "),
    PXEBOOT_FILE: normalizeRelative(opts.marker),
    PXEBOOT_ROOT: opts.root,
  };
  // PXEBOOT_* is the hook's namespace: the server's internal ones (a worker's number and its
  // primary's port, the boot-control role) are not the hook's business and not a stable interface.
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith("PXEBOOT_")) env[name] = value;
  for (const [name, value] of Object.entries(own)) if (value !== undefined) env[name] = value;
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
