/**
 * A server's life, in order: signals caught, the port bound (the request gate still shut), the
 * metrics, HTTP and proxy DHCP listeners bound, the workers started, the pid file written, root
 * dropped; then requests are answered until a signal, and the server drains. Each listener is
 * bound as root (a port below 1024 works) and a failure to bind one closes those bound before.
 */
import { startProxyDhcp, type RunningProxyDhcp } from "../dhcp/responder.ts";
import type { ProxyDhcpCounts } from "../dhcp/proxy.ts";
import type { HttpListen, RunningHttp } from "../http/http-server.ts";
import type { HostSwitcher } from "../layout/install-once.ts";
import type { Identity } from "../layout/writable.ts";
import type { Logger } from "../log.ts";
import { blockSizeLimiter } from "../server/offers/path-mtu.ts";
import { pickyClients } from "../server/offers/picky-clients.ts";
import { startServer, type RunningServer } from "../server/server.ts";
import type { TransferObserver } from "../records/transfer-record.ts";
import type { ServerConfig } from "../server/types.ts";
import { drain } from "./drain.ts";
import { startHttp } from "./http.ts";
import type { MetricsEndpoint } from "./metrics-endpoint.ts";
import { serveMetricsEndpoint, workerAnswer, type ProcessMetrics } from "./metrics.ts";
import { writePidfile } from "./pidfile.ts";
import { dropToServingUser } from "./privileges.ts";
import type { Reread } from "./reload.ts";
import { reloader } from "./reload.ts";
import { isWorker, primaryPort } from "./role.ts";
import { logServing } from "./serving-log.ts";
import type { ServeSettings } from "./settings.ts";
import { catchSignals } from "./signals.ts";
import { followPrimary, reportBound, spawnWorkers, type WorkerSet } from "./workers.ts";

export interface ServeOptions {
  config: ServerConfig;
  log: Logger;
  observers: TransferObserver[];
  /** Default address list: fall back to IPv4 only on hosts with IPv6 switched off. */
  dualStackDefault: boolean;
  /** Drop root to this identity once every socket is bound. */
  user?: Identity;
  /** Total server processes; the primary starts the others once its own port is bound. */
  workers?: number;
  /** Written once the port is bound, removed on a clean stop. */
  pidfile?: string;
  /** SIGHUP re-reads the configuration through this (the same flags and files as at start). */
  reread?: () => Reread;
  /** After SIGTERM/SIGINT, how long running transfers may finish. */
  drainTimeoutMs?: number;
  /** --metrics: counted by `metrics`, served at `listen` (this process's own port). */
  metrics?: ProcessMetrics;
  /** --http: the root over HTTP too, with the same rules, log line and observers. */
  http?: HttpListen;
  /** The primary's install-once switcher, which workers ask through it. */
  switcher?: HostSwitcher;
  /** --proxy-dhcp: the primary answers PXE clients' DHCP (workers never do). */
  proxyDhcp?: NonNullable<ServeSettings["proxyDhcp"]> & { counts: ProxyDhcpCounts; onOffer?: (mac: string, file: string) => void };
  /**
   * The primary, still root, every socket bound and the workers started: the last step before
   * requests are answered and root is dropped (the boot-control process starts here).
   */
  beforeDrop?: () => Promise<void>;
}

/**
 * The server's two per-process policies are module singletons of server/ (the path-MTU block
 * size limiter, picky-client tracking): their notes (capped grants at debug, fragments allowed
 * by --blksize-max once, one line per picky client's fallback) go to this process's log. Set
 * here, once, before the server starts.
 */
function logServerPoliciesTo(log: Logger): void {
  blockSizeLimiter.log = log;
  pickyClients.log = log;
}

/** Starts the server, logs the start-up lines, and resolves when a signal stopped it and it drained. */
export async function serveUntilSignal(opts: ServeOptions): Promise<void> {
  const { log, config } = opts;
  const processes = opts.workers ?? 1;
  let running: RunningServer | undefined;
  let workerSet: WorkerSet | undefined;
  let http: RunningHttp | undefined;
  const signals = catchSignals(log, (signal) => {
    log.warn("second signal: cutting running transfers now", { signal, active: running?.activeTransfers });
    workerSet?.signal(signal);
    void running?.close();
    void http?.stop(0);
  });
  // A worker answers the primary's scrape with its metrics and what it learned about picky clients.
  const primarySaysGo = followPrimary(() => workerAnswer(opts.metrics));
  // Requests wait until every process has bound the port (workers.ts).
  let openGate = () => {};
  const gate = new Promise<void>((resolve) => (openGate = resolve));

  logServerPoliciesTo(log);
  const server = await bind(opts, gate);
  // Before dropping root, like the TFTP port: --metrics may name a port below 1024.
  let metricsEndpoint: MetricsEndpoint | undefined;
  if (opts.metrics) opts.metrics.metrics.attach(() => ({ activeTransfers: server.activeTransfers, queuedRequests: server.queuedRequests, cache: server.cache }));
  // One endpoint for the whole server, the primary's: it asks the workers at scrape time.
  if (opts.metrics && !isWorker) {
    try {
      metricsEndpoint = serveMetricsEndpoint({ metrics: opts.metrics, server, config, workers: processes, workerSet: () => workerSet, log });
    } catch (err) {
      await server.close();
      throw err;
    }
    log.info("metrics served", { url: metricsEndpoint.url });
  }
  if (opts.http) {
    try {
      http = startHttp({ config, listen: opts.http, workers: processes, log, observers: opts.observers, events: opts.metrics?.metrics.events });
    } catch (err) {
      metricsEndpoint?.stop();
      await server.close();
      throw err;
    }
    if (!isWorker) log.info("HTTP served", { url: http.url, root: config.root, maxConnections: http.limits.total, perAddress: http.limits.perAddress });
  }
  // Ports 67 and 4011 as root, like the TFTP port; one responder for the whole server.
  let proxyDhcp: RunningProxyDhcp | undefined;
  if (opts.proxyDhcp && !isWorker) {
    try {
      proxyDhcp = await startProxyDhcp({ root: config.root, ...opts.proxyDhcp, httpPort: http?.port, log });
    } catch (err) {
      void http?.stop(0);
      metricsEndpoint?.stop();
      await server.close();
      throw err;
    }
    for (const i of proxyDhcp.served)
      log.info("proxy DHCP serving", { interface: i.name, address: i.address, ports: opts.proxyDhcp.binlOnly ? "4011" : "67,4011", knownOnly: opts.proxyDhcp.knownOnly });
  }
  // Workers start after the primary bound the port (so a busy port or a bad root fails once,
  // here) and before it drops root: each binds as root too (SO_REUSEPORT groups only sockets of
  // one owner), then drops on its own.
  const workers = processes > 1 && !isWorker ? spawnWorkers(processes, log, server.listening[0]?.port ?? config.port, opts.switcher) : undefined;
  if (opts.beforeDrop && !isWorker) await opts.beforeDrop();
  running = server;
  workerSet = workers;
  if (isWorker) {
    reportBound();
    void primarySaysGo.then(openGate);
  } else if (workers) {
    const since = performance.now();
    void workers.allBound.then(() => {
      workers.go();
      openGate();
      log.debug("every worker bound the port: requests answered from now on", { workers: opts.workers, ms: Math.round(performance.now() - since) });
    });
  } else openGate();
  // Before dropping root: /run is root's.
  const pidfile = opts.pidfile && !isWorker ? opts.pidfile : undefined;
  const pidError = pidfile ? writePidfile(pidfile) : undefined;
  if (pidfile && pidError) log.error("cannot write --pidfile", { file: pidfile, error: pidError });
  signals.onReload(reloader({ log, server, http, workers, reread: opts.reread }));
  dropToServingUser(opts.user, log);
  logServing(server, { config, workers: processes, user: opts.user, log });
  const signal = await signals.stop;
  await drain(signal, { server, workers, http, proxyDhcp, metricsEndpoint, pidfile: pidError ? undefined : pidfile }, opts.drainTimeoutMs ?? 30_000, log);
}

/** The request port, as a worker the one its primary bound; "::" by default falls back to IPv4 where IPv6 is off. */
async function bind(opts: ServeOptions, gate: Promise<void>): Promise<RunningServer> {
  const { log } = opts;
  const start = (config: ServerConfig) => startServer(config, { log, observers: opts.observers, events: opts.metrics?.metrics.events, gate, firstProcess: !isWorker });
  try {
    return await start({ ...opts.config, port: primaryPort ?? opts.config.port });
  } catch (err) {
    if (!opts.dualStackDefault) throw err;
    log.debug("IPv6 unavailable, listening on IPv4 only", { error: String(err) });
    return await start({ ...opts.config, port: primaryPort ?? opts.config.port, addresses: ["0.0.0.0"] });
  }
}
