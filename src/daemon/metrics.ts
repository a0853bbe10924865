/**
 * `serve --metrics`: this process's counters, and the one endpoint of the whole server. Every
 * process counts; the primary serves, asking its workers for their numbers at scrape time
 * (workers.ts), so one scrape shows the server, and beside /metrics the farm page and /quirks.
 */
import pkg from "../../package.json" with { type: "json" };
import { createBootMetrics } from "../boots/boot-metrics.ts";
import { farmRoute } from "../boots/farm.ts";
import type { ProxyDhcpCounts } from "../dhcp/proxy.ts";
import type { InstallOnceCounts } from "../layout/install-once.ts";
import type { Logger } from "../log.ts";
import { clientFilter } from "../server/admission/client-filter.ts";
import { renderSnapshots, type FamilySnapshot } from "../server/observe/metrics.ts";
import { learnedQuirks, type LearnedQuirk } from "../server/offers/picky-clients.ts";
import type { RunningServer } from "../server/server.ts";
import { createServerMetrics, type ServerMetrics } from "../server/observe/server-metrics.ts";
import type { ServerConfig } from "../server/types.ts";
import { startMetricsEndpoint, type MetricsEndpoint, type MetricsListen } from "./metrics-endpoint.ts";
import { role } from "./role.ts";
import type { ServeSettings } from "./settings.ts";
import type { WorkerSet } from "./workers.ts";

/** This process's metrics, and where the primary serves them. */
export interface ProcessMetrics {
  listen: MetricsListen;
  metrics: ServerMetrics;
  /** --metrics-allow; empty: whom the server's --allow/--deny admit. */
  allow: string[];
}

/** What a worker sends back when the primary asks (a scrape of /metrics or /quirks). */
export interface WorkerAnswer {
  metrics: FamilySnapshot[] | null;
  quirks?: LearnedQuirk[];
}

/** A worker's answer: its metrics and what it learned about picky clients. */
export const workerAnswer = (metrics: ProcessMetrics | undefined): WorkerAnswer => ({ metrics: metrics?.metrics.snapshot() ?? null, quirks: learnedQuirks() });

/** This process's metrics: with --workers, worker N labels its samples (the primary serves them all). */
export function processMetrics(settings: ServeSettings, installCounts: InstallOnceCounts | undefined, proxyCounts: ProxyDhcpCounts | undefined): ProcessMetrics {
  const worker = settings.workers > 1 && role.kind === "worker" ? role.number : 1;
  const metrics = createServerMetrics({
    version: pkg.version,
    startTimeSeconds: Math.floor((Date.now() - process.uptime() * 1000) / 1000),
    worker: settings.workers > 1 ? String(worker) : undefined,
    installOnce: installCounts,
    proxyDhcp: proxyCounts,
  });
  return { listen: settings.metrics!, metrics, allow: settings.metricsAllow };
}

export interface MetricsServing {
  metrics: ProcessMetrics;
  server: RunningServer;
  config: ServerConfig;
  /** Server processes (--workers), as the farm page says. */
  workers: number;
  /** The workers to ask at scrape time, once they are started. */
  workerSet: () => WorkerSet | undefined;
  log: Logger;
}

/**
 * The primary's endpoint for the whole server, bound before root is dropped (--metrics may
 * name a port below 1024). Throws when it cannot bind.
 */
export function serveMetricsEndpoint(opts: MetricsServing): MetricsEndpoint {
  const { metrics, listen, allow } = opts.metrics;
  const { server, config } = opts;
  const answers = async () => {
    const workers = opts.workerSet();
    return workers ? ((await workers.ask()).filter(Boolean) as WorkerAnswer[]) : [];
  };
  const bootMetrics = createBootMetrics(config.root);
  const render = async () => {
    const theirs = (await answers()).map((a) => a.metrics).filter(Boolean) as FamilySnapshot[][];
    return renderSnapshots([metrics.snapshot(), ...theirs]) + bootMetrics.render();
  };
  // Clients are steered to workers by address, so every worker's entries are distinct clients.
  const quirks = async () => JSON.stringify([...learnedQuirks(), ...(await answers()).flatMap((a) => a.quirks ?? [])]);
  const filter = allow.length > 0 ? clientFilter(allow, []) : clientFilter(config.allow ?? [], config.deny ?? []);
  // The farm page: the records every process writes, the primary's own counters beside them.
  const serverNow = () => ({ "active transfers (this process)": server.activeTransfers, "queued requests": server.queuedRequests, workers: opts.workers, root: config.root });
  return startMetricsEndpoint(listen, render, opts.log, { "/quirks": quirks }, filter, (path) => farmRoute(config.root, path, serverNow));
}
