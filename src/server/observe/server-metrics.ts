/**
 * pxeboot's metrics: which names exist and what feeds them. Transfers are counted once, when
 * they end (the TransferRecord has bytes, retransmits and outcome), requests once per refusal,
 * drop or denial; the rest is read from the running server at scrape time.
 */
import { displayName } from "../../files/bytes-path.ts";
import { isPerHostName } from "../../files/boot-control.ts";
import { RecentCounter, Registry, type Labels, type FamilySnapshot } from "./metrics.ts";
import type { RequestEvents, TransferRecord } from "../../records/transfer-record.ts";

/** What is read from the live server at scrape time. */
export interface LiveState {
  activeTransfers: number;
  queuedRequests: number;
  cache: { hits: number; misses: number; bytesHeld: number };
}

/** Install-once's own counts (layout keeps them; declared here so server imports no layout). */
export interface InstallOnceTotals {
  installed: number;
  failedMarkerFetches: number;
  unknownMac: number;
  removeFailures: number;
}

/** serve --proxy-dhcp's counts, a plain object (dhcp/proxy.ts keeps them; declared here so server imports no dhcp). */
export interface ProxyDhcpTotals {
  offers: number;
  acks: number;
  /** Not a PXE request, or a PXE client we do not netboot (installed, unknown, no boot file). */
  ignored: number;
  /** Packets that are not DHCP at all (too short, options past the end). */
  malformed: number;
  duplicates: number;
  /** Over the per-MAC rate. */
  limited: number;
}

export interface ServerMetricsOptions {
  version: string;
  /** Unix seconds. */
  startTimeSeconds: number;
  /** With --workers: each process labels its samples with its number. */
  worker?: string;
  installOnce?: InstallOnceTotals;
  proxyDhcp?: ProxyDhcpTotals;
  /** Milliseconds since the epoch; tests pass their own to move time without waiting. */
  now?: () => number;
}

/** Seconds: a small config file takes milliseconds, a 1 GB image over a slow link minutes. */
export const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * Distinct `file` label values before the rest share OTHER_FILE. A file keeps its series once it
 * has one: evicting a rarer file for a newer one would make its counter vanish and restart from
 * zero, which Prometheus reads as a reset. PXE clients ask for the same few files from the
 * start, so the first ones seen are in practice the ones that matter.
 */
export const MAX_FILE_LABELS = 50;
export const OTHER_FILE = "(other)";
/**
 * Per-host config names (pxelinux.cfg/C0A8000B, grub.cfg-01-…) share one series per directory,
 * `pxelinux.cfg/(per-host)`: a farm has a name per host, and they would take the whole cap.
 */
export const PER_HOST_FILE = "(per-host)";

export interface ServerMetrics {
  /** A TransferObserver: counts a finished transfer. */
  observe(record: TransferRecord): void;
  events: RequestEvents;
  /** Where the gauges read from; set once the server runs. */
  attach(live: () => LiveState): void;
  render(): string;
  /** The samples now as plain data: a worker's answer to its primary's scrape. */
  snapshot(): FamilySnapshot[];
}

export function createServerMetrics(opts: ServerMetricsOptions): ServerMetrics {
  const reg = new Registry(opts.worker ? { worker: opts.worker } : {});
  let live: (() => LiveState) | undefined;
  const state = () => live?.() ?? { activeTransfers: 0, queuedRequests: 0, cache: { hits: 0, misses: 0, bytesHeld: 0 } };

  reg.gauge("pxeboot_build_info", "pxeboot version running (always 1)", () => [{ labels: { version: opts.version }, value: 1 }]);
  reg.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds", () => opts.startTimeSeconds);
  reg.gauge("pxeboot_transfers_active", "Transfers running now", () => state().activeTransfers);
  reg.gauge("pxeboot_transfers_queued", "Requests waiting for a transfer slot (--max-transfers)", () => state().queuedRequests);
  const transfers = reg.counter("pxeboot_transfers_total", "Transfers finished, by direction (read: RRQ, write: WRQ) and outcome");
  for (const direction of ["read", "write"]) for (const outcome of ["ok", "probe", "error", "timeout"]) transfers.inc({ direction, outcome }, 0);
  const errors = reg.counter("pxeboot_errors_total", "TFTP ERROR packets that ended a transfer or answered a request, by error code");
  const sent = reg.counter("pxeboot_sent_bytes_total", "File bytes sent and acknowledged (reads)");
  const received = reg.counter("pxeboot_received_bytes_total", "File bytes received (uploads)");
  const retransmits = reg.counter("pxeboot_retransmits_total", "Packets sent again after a timeout (DATA for reads, ACK for uploads)");
  const duration = reg.histogram("pxeboot_transfer_duration_seconds", "Time from request to the end of a transfer, every outcome", DURATION_BUCKETS);
  const refused = reg.counter("pxeboot_requests_refused_total", "Requests answered with an ERROR before a transfer began");
  const dropped = reg.counter("pxeboot_requests_dropped_total", "Requests dropped because the admission queue was full (--queue-max)");
  const denied = reg.counter("pxeboot_requests_denied_total", "Requests from addresses --allow/--deny keep out, not answered");
  const limited = reg.counter("pxeboot_requests_limited_total", "Requests not answered because their address had --per-client-max transfers or was over --per-client-rate");
  for (const c of [sent, received, retransmits, refused, dropped, denied, limited]) c.inc({}, 0);
  reg.counterFrom("pxeboot_cache_hits_total", "File opens served from the memory cache", () => state().cache.hits);
  reg.counterFrom("pxeboot_cache_misses_total", "File opens not in the memory cache", () => state().cache.misses);
  reg.gauge("pxeboot_cache_bytes", "File contents held in the memory cache (--cache-mb)", () => state().cache.bytesHeld);
  const fileTransfers = reg.counter(
    "pxeboot_file_transfers_total",
    `Reads of files served (tsize probes, misses and refusals not counted), by file as requested, per-host config names as DIR/${PER_HOST_FILE}; the first ${MAX_FILE_LABELS} distinct files get their own series, later ones count under file="${OTHER_FILE}"`,
  );
  const fileSent = reg.counter(
    "pxeboot_file_sent_bytes_total",
    `File bytes sent and acknowledged, by file; the same ${MAX_FILE_LABELS} files as pxeboot_file_transfers_total, the rest under file="${OTHER_FILE}"`,
  );
  const fileLabels = new Set<string>();
  const fileLabel = (byteName: string): Labels => {
    const shown = displayName(byteName);
    const slash = shown.lastIndexOf("/");
    const name = isPerHostName(shown.slice(slash + 1)) ? shown.slice(0, slash + 1) + PER_HOST_FILE : shown;
    if (fileLabels.has(name)) return { file: name };
    if (fileLabels.size < MAX_FILE_LABELS) {
      fileLabels.add(name);
      return { file: name };
    }
    return { file: OTHER_FILE };
  };
  const clock = opts.now ?? Date.now;
  const second = () => Math.floor(clock() / 1000);
  const recentErrors = new RecentCounter(60);
  reg.gauge("pxeboot_errors_last_minute", "Transfers that ended in error or timeout during the last 60 seconds", () => recentErrors.sum(second()));
  const io = opts.installOnce;
  if (io) {
    reg.counterFrom("pxeboot_install_once_installed_total", "Hosts switched to local boot after fetching the install marker", () => io.installed);
    reg.counterFrom("pxeboot_install_once_failures_total", "Install-once events after which a host will install again, by reason", () => [
      { labels: { reason: "marker_fetch_failed" }, value: io.failedMarkerFetches },
      { labels: { reason: "unknown_mac" }, value: io.unknownMac },
      { labels: { reason: "remove_failed" }, value: io.removeFailures },
    ]);
  }

  const pd = opts.proxyDhcp;
  if (pd) {
    reg.counterFrom("pxeboot_proxy_dhcp_answers_total", "Proxy DHCP answers to PXE clients: offers on port 67, acks on port 4011", () => [
      { labels: { type: "offer" }, value: pd.offers },
      { labels: { type: "ack" }, value: pd.acks },
    ]);
    reg.counterFrom("pxeboot_proxy_dhcp_ignored_total", "Proxy DHCP requests not answered, by reason", () => [
      { labels: { reason: "not_pxe_or_no_netboot" }, value: pd.ignored },
      { labels: { reason: "malformed" }, value: pd.malformed },
      { labels: { reason: "rate_limited" }, value: pd.limited },
    ]);
    reg.counterFrom("pxeboot_proxy_dhcp_duplicates_total", "Copies of a request already answered (same MAC, xid and type within a moment)", () => pd.duplicates);
  }

  const code = (c: number): Labels => ({ code: String(c) });
  return {
    observe(r) {
      transfers.inc({ direction: r.direction, outcome: r.outcome });
      if (r.outcome === "error" && r.errorCode !== undefined) errors.inc(code(r.errorCode));
      (r.direction === "read" ? sent : received).inc({}, r.bytes);
      if (r.retransmits) retransmits.inc({}, r.retransmits);
      duration.observe(r.durationMs / 1000);
      if (r.outcome === "error" || r.outcome === "timeout") recentErrors.add(second());
      // Only files served: a refusal or a miss (file "") is not a file, and pxelinux's search
      // for its config (a dozen misses per boot) would otherwise top every list.
      if (r.direction === "read" && r.outcome !== "probe" && r.file !== "") {
        const labels = fileLabel(r.file || r.requested);
        fileTransfers.inc(labels);
        fileSent.inc(labels, r.bytes);
      }
    },
    events: {
      refused: () => refused.inc(),
      dropped: () => dropped.inc(),
      denied: () => denied.inc(),
      limited: () => limited.inc(),
      answered: (c) => errors.inc(code(c)),
    },
    attach(fn) {
      live = fn;
    },
    render: () => reg.render(),
    snapshot: () => reg.snapshot(),
  };
}
