/** `pxeboot serve`: the daemon. Runs in the foreground; stops cleanly on SIGTERM/SIGINT. */
import { defineCommand, type ArgsDef } from "citty";
import { createLogger, type Logger } from "../log.ts";
import { blockSizeLimiter } from "../server/offers/path-mtu.ts";
import { learnedQuirks, pickyClients, type LearnedQuirk } from "../server/offers/picky-clients.ts";
import { startServer, type RunningServer } from "../server/server.ts";
import { guardProcessMemory } from "../server/memory-guard.ts";
import type { ServerConfig } from "../server/types.ts";
import type { TransferObserver } from "../records/transfer-record.ts";
import { createBootRecorder } from "../boots/recorder.ts";
import { BOOTS_DIR, ensureBootsDir } from "../boots/store.ts";
import { farmRoute } from "../boots/farm.ts";
import { createBootMetrics } from "../boots/boot-metrics.ts";
import { createInstallOnce, newInstallOnceCounts, type InstallOnceCounts } from "../layout/install-once.ts";
import { createServerMetrics, type ServerMetrics } from "../server/observe/server-metrics.ts";
import { renderSnapshots, type FamilySnapshot } from "../server/observe/metrics.ts";
import { startMetricsEndpoint, type MetricsEndpoint, type MetricsListen } from "./metrics-endpoint.ts";
import type { RemapRule } from "../server/requests/remap.ts";
import { fail } from "./args.ts";
import type { Mode } from "../config/sources/command-line.ts";
import { loadRemapRules } from "./compat-config.ts";
import { removePidfile, writePidfile } from "./pidfile.ts";
import { dropPrivileges, serviceIdentity } from "./privileges.ts";
import { bootControlOwner, probeInstallDirs, type Identity, type UnwritableDir } from "../layout/writable.ts";
import type { HostSwitcher } from "../layout/install-once.ts";
import { switchHost } from "../layout/switch-host.ts";
import { CAP_SETGID, CAP_SETPCAP, CAP_SETUID, dropBoundingSet, dropCapabilities, setNoNewPrivs } from "./lockdown.ts";
import { startSwitchProcess } from "./switch-process.ts";
import { resolveServe } from "./resolve-serve.ts";
import { tftpdHelpArgs } from "../config/sources/tftpd-options.ts";
import { changedSettings, reloadFields, reloadReport } from "./reload-diff.ts";
import type { Settings } from "../config/settings.ts";
import { RESTART_FIELDS, serveArgs, settingNames } from "./serve-config.ts";
import { changedProcessRows } from "../config/reload.ts";
import { logUploadRules } from "./upload-config.ts";
import type { ServeSettings } from "./serve-settings.ts";
import { followPrimary, isWorkerChild, primaryPort, primarySwitcher, RELOAD_ACK_TIMEOUT_MS, reportBound, spawnWorkers, type WorkerSet } from "./workers.ts";
import { openFileLimit } from "../server/admission/limits.ts";
import { POOL_PER_ADDRESS } from "../server/io/transfer-ports.ts";
import { clientFilter } from "../server/admission/client-filter.ts";
import { BOOT_CONTROL_DIRS } from "../files/boot-control.ts";
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { startHttpServer, type HttpListen, type RunningHttp } from "../http/http-server.ts";
import { startProxyDhcp, type RunningProxyDhcp } from "../dhcp/responder.ts";
import { newProxyDhcpCounts, type ProxyDhcpCounts } from "../dhcp/proxy.ts";
import pkg from "../../package.json" with { type: "json" };
import { existsSync } from "node:fs";
import { join } from "node:path";

/** What a worker sends back when the primary asks (a scrape of /metrics or /quirks). */
interface WorkerAnswer {
  metrics: FamilySnapshot[] | null;
  quirks?: LearnedQuirk[];
}

/** A configuration re-read on SIGHUP: validated, and as given. */
export interface Reread {
  settings: ServeSettings;
  given: Settings;
}

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
  /** SIGHUP re-reads the remap rules through this, as tftpd-hpa re-reads its map file. */
  reloadRemap?: (next?: ServeSettings) => RemapRule[];
  /** SIGHUP re-reads the configuration through this (the same flags and files as at start). */
  reloadSettings?: () => Reread;
  /** What the server started with: a reload names every one of these settings that changed. */
  settings?: ServeSettings;
  /** The settings as given at start (key, value, origin), so a reload shows each change old → new. */
  given?: Settings;
  /** After SIGTERM/SIGINT, how long running transfers may finish. */
  drainTimeoutMs?: number;
  /** --metrics: counted by `metrics`, served at `listen` (this process's own port). */
  metrics?: { listen: MetricsListen; metrics: ServerMetrics; allow: string[] };
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

/** The rules the HTTP side shares with TFTP, from the server's configuration. */
const httpRules = (c: ServerConfig) => ({ permissive: !!c.permissive, allow: c.allow ?? [], deny: c.deny ?? [] });

/** Binds --http (before root is dropped, so port 80 works); "::" falls back to IPv4 where IPv6 is off. */
function startHttp(opts: ServeOptions, listen: HttpListen): RunningHttp {
  const start = (l: HttpListen) =>
    startHttpServer({
      root: opts.config.root,
      listen: l,
      rules: httpRules(opts.config),
      reusePort: (opts.workers ?? 1) > 1,
      firstProcess: !isWorkerChild(),
      log: opts.log,
      observers: opts.observers,
      events: opts.metrics?.metrics.events,
    });
  try {
    return start(listen);
  } catch (err) {
    if (listen.address !== "::") throw err;
    opts.log.debug("IPv6 unavailable, HTTP on IPv4 only", { error: String(err) });
    return start({ ...listen, address: "0.0.0.0" });
  }
}

/** Starts the server, logs the start-up line, and resolves when a signal stopped it. */
export async function serveUntilSignal(opts: ServeOptions): Promise<void> {
  const { log } = opts;
  // Handlers go in before the socket is bound: a SIGTERM that arrives during start-up must still
  // stop the server cleanly rather than kill it mid-way.
  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  let running: RunningServer | undefined;
  let workerSet: WorkerSet | undefined;
  let http: RunningHttp | undefined;
  // The first signal drains (the port is freed at once, running transfers may finish); a second
  // one, from an impatient admin or systemd's stop timeout, cuts them now.
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled === undefined) {
      signalled = signal;
      return wake();
    }
    log.warn("second signal: cutting running transfers now", { signal, active: running?.activeTransfers });
    workerSet?.signal(signal);
    void running?.close();
    void http?.stop(0);
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  // A worker answers the primary's scrape with its metrics and what it learned about picky clients.
  const primarySaysGo = followPrimary((): WorkerAnswer => ({ metrics: opts.metrics?.metrics.snapshot() ?? null, quirks: learnedQuirks() }));
  // Requests wait until every process has bound the port (cli/workers.ts).
  let openGate = () => {};
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  // `systemctl reload` of a unit written for tftpd-hpa sends SIGHUP, whose default would kill us.
  let reload = () => log.info("SIGHUP received during start-up: ignored");
  process.on("SIGHUP", () => reload());

  // The MTU cap's notes (capped grants at debug, fragments allowed by --blksize-max once) and
  // picky clients' fallbacks (one line per client) go here.
  blockSizeLimiter.log = log;
  pickyClients.log = log;
  let server: RunningServer;
  try {
    server = await startServer({ ...opts.config, port: primaryPort() ?? opts.config.port }, { log, observers: opts.observers, events: opts.metrics?.metrics.events, gate, firstProcess: !isWorkerChild() });
  } catch (err) {
    if (!opts.dualStackDefault) throw err;
    log.debug("IPv6 unavailable, listening on IPv4 only", { error: String(err) });
    server = await startServer({ ...opts.config, port: primaryPort() ?? opts.config.port, addresses: ["0.0.0.0"] }, { log, observers: opts.observers, events: opts.metrics?.metrics.events, gate, firstProcess: !isWorkerChild() });
  }
  // Before dropping root, like the TFTP port: --metrics may name a port below 1024.
  let metricsEndpoint: MetricsEndpoint | undefined;
  if (opts.metrics) {
    const { metrics, listen } = opts.metrics;
    metrics.attach(() => ({ activeTransfers: server.activeTransfers, queuedRequests: server.queuedRequests, cache: server.cache }));
  }
  // One endpoint for the whole server, the primary's: it asks the workers at scrape time.
  if (opts.metrics && !isWorkerChild()) {
    const { metrics, listen } = opts.metrics;
    const answers = async () => (workerSet ? ((await workerSet.ask()).filter(Boolean) as WorkerAnswer[]) : []);
    const bootMetrics = createBootMetrics(opts.config.root);
    const render = async () => {
      const theirs = (await answers()).map((a) => a.metrics).filter(Boolean) as FamilySnapshot[][];
      return renderSnapshots([metrics.snapshot(), ...theirs]) + bootMetrics.render();
    };
    // Clients are steered to workers by address, so every worker's entries are distinct clients.
    const quirks = async () => JSON.stringify([...learnedQuirks(), ...(await answers()).flatMap((a) => a.quirks ?? [])]);
    try {
      const allow = opts.metrics.allow;
      const filter = allow.length > 0 ? clientFilter(allow, []) : clientFilter(opts.config.allow ?? [], opts.config.deny ?? []);
      // The farm page: the records every process writes, the primary's own counters beside them.
      const serverNow = () => ({ "active transfers (this process)": server.activeTransfers, "queued requests": server.queuedRequests, workers: opts.workers ?? 1, root: opts.config.root });
      metricsEndpoint = startMetricsEndpoint(listen, render, log, { "/quirks": quirks }, filter, (path) => farmRoute(opts.config.root, path, serverNow));
    } catch (err) {
      await server.close();
      throw err;
    }
    log.info("metrics served", { url: metricsEndpoint.url });
  }
  if (opts.http) {
    try {
      http = startHttp(opts, opts.http);
    } catch (err) {
      metricsEndpoint?.stop();
      await server.close();
      throw err;
    }
    if (!isWorkerChild()) log.info("HTTP served", { url: http.url, root: opts.config.root, maxConnections: http.limits.total, perAddress: http.limits.perAddress });
  }
  // Ports 67 and 4011 as root, like the TFTP port; one responder for the whole server.
  let proxyDhcp: RunningProxyDhcp | undefined;
  if (opts.proxyDhcp && !isWorkerChild()) {
    try {
      proxyDhcp = await startProxyDhcp({ root: opts.config.root, ...opts.proxyDhcp, httpPort: http?.port, log });
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
  const workers = (opts.workers ?? 1) > 1 && !isWorkerChild() ? spawnWorkers(opts.workers!, log, server.listening[0]?.port ?? opts.config.port, opts.switcher) : undefined;
  if (opts.beforeDrop && !isWorkerChild()) await opts.beforeDrop();
  running = server;
  workerSet = workers;
  if (isWorkerChild()) {
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
  const pidfile = opts.pidfile && !isWorkerChild() ? opts.pidfile : undefined;
  const pidError = pidfile ? writePidfile(pidfile) : undefined;
  if (pidfile && pidError) log.error("cannot write --pidfile", { file: pidfile, error: pidError });
  // SIGHUP re-reads what the server was started from (flags, config file, defaults file, map
  // file). A bad new configuration is logged and the old one stays; running transfers are never
  // touched; what needs a restart is named. Workers get the signal and re-read on their own.
  // Every process re-reads; the primary's lines speak for all, a worker speaks up (labelled)
  // only when it failed, so a reload with --workers is one set of lines, not one per process.
  const worker = process.env.PXEBOOT_WORKER;
  const said: Pick<Logger, "info" | "warn" | "error"> = worker
    ? {
        info: (msg, fields) => log.debug(msg, { ...fields, worker }),
        warn: (msg, fields) => log.debug(msg, { ...fields, worker }),
        error: (msg, fields) => log.error(msg, { ...fields, worker }),
      }
    : log;
  let given: Settings = opts.given ?? new Map();
  reload = () => {
    if (!isWorkerChild() && workers) {
      // Said after this process's own lines: a request that reaches any worker after this line
      // meets what was re-read.
      void workers.reload().then(({ acked, missing }) => {
        if (missing.length === 0) log.info("SIGHUP: every worker re-read", { workers: acked.join(",") });
        else log.warn("SIGHUP: workers did not say they re-read", { missing: missing.join(","), acked: acked.join(",") || "none", afterMs: RELOAD_ACK_TIMEOUT_MS });
      });
    }
    if (!opts.reloadSettings && !opts.reloadRemap) return said.info("SIGHUP: nothing to re-read");
    let next: ServeSettings | undefined;
    if (opts.reloadSettings) {
      try {
        const reread = opts.reloadSettings();
        next = reread.settings;
        const { applied, needRestart } = server.reconfigure(next.server, RESTART_FIELDS);
        http?.reconfigure(httpRules(next.server));
        const waiting = settingNames(needRestart);
        if (opts.settings) waiting.push(...changedProcessRows(opts.settings.values, next.values));
        // Compared with what is running now: the last good reload, else the start.
        const report = reloadReport(changedSettings(given, reread.given), settingNames(applied), waiting);
        given = reread.given;
        said.info("SIGHUP: configuration re-read", reloadFields("changed", report.applied));
        if (report.waiting.length > 0) said.warn("SIGHUP: these settings change only with a restart (systemctl restart)", reloadFields("keys", report.waiting));
      } catch (err) {
        said.error("SIGHUP: configuration not re-read, the old one stays (remap rules not re-read either)", { error: (err as Error).message });
        return;
      }
    }
    if (opts.reloadRemap) {
      // From what the new configuration names (its remap lines and map file, whichever changed),
      // not from what the server started with.
      try {
        const rules = opts.reloadRemap(next);
        server.setRemap(rules);
        said.info("SIGHUP: remap rules re-read", { rules: rules.length });
      } catch (err) {
        said.error("SIGHUP: remap rules not re-read, the old ones stay", { error: (err as Error).message });
      }
    }
  };
  if (opts.user) {
    // The bounding set goes while we still may (CAP_SETPCAP), no-new-privs once we are the user:
    // nothing this process runs from here on (an --on-install hook) can regain root.
    dropBoundingSet();
    dropPrivileges(opts.user);
    const nnp = setNoNewPrivs();
    if (!isWorkerChild()) log.info("dropped privileges", { user: opts.user.name, uid: opts.user.uid, gid: opts.user.gid, noNewPrivs: nnp });
  } else if (process.getuid?.() !== 0) {
    // Started as a user: capabilities it was given (systemd-unit --as-user) were for binding.
    dropCapabilities();
    setNoNewPrivs();
  }
  const c = opts.config;
  for (const l of server.listening) {
    if (isWorkerChild()) {
      log.debug("worker serving", { worker: process.env.PXEBOOT_WORKER, pid: process.pid, port: l.port, ...transferPool(server, l.address) });
      continue;
    }
    log.info(`pxeboot ${pkg.version} serving ${c.root}`, {
      address: l.address,
      port: l.port,
      maxTransfers: c.maxTransfers,
      queueMax: c.queueMax,
      blksizeMax: c.blockSizeMax,
      windowsizeMax: c.windowSizeMax,
      rollover: c.rollover,
      cacheMb: Math.round(c.cacheBytes / 1048576),
      rcvbuf: l.receiveBufferBytes,
      ...transferPool(server, l.address),
      workers: opts.workers ?? 1,
    });
  }
  if (!isWorkerChild()) {
    const unreadable = rootUnreadable(c.root, opts.user?.name);
    if (unreadable) log.error(unreadable);
  }
  const smallest = Math.min(...server.transferPorts.map((t) => t.ports.length));
  if (!isWorkerChild() && server.transferPoolShortBy) {
    const need = POOL_PER_ADDRESS * server.transferPorts.length * (opts.workers ?? 1);
    log.warn("fewer transfer ports than wanted: a spoofer who saw one port guesses a transfer's more often", {
      by: server.transferPoolShortBy,
      portsPerAddressAndWorker: smallest,
      wanted: POOL_PER_ADDRESS,
      blindGuessHits: `1 in ${smallest}`,
      fix: /range/.test(server.transferPoolShortBy)
        ? `a --port-range of at least ${need} free ports (${POOL_PER_ADDRESS} per address and worker)`
        : `an open-file limit of at least ${4 * POOL_PER_ADDRESS * server.transferPorts.length} per process (ulimit -n, systemd LimitNOFILE=)`,
    });
  }
  if (!isWorkerChild()) logUploadRules(log, c, server.writable);
  const files = openFileLimit();
  const perProcess = Math.ceil(c.maxTransfers / (opts.workers ?? 1));
  // Every process also holds its transfer sockets (POOL_PER_ADDRESS per address) and listeners.
  const sockets = server.transferPorts.reduce((n, t) => n + t.ports.length, 0) + server.listening.length;
  if (files !== undefined && files < perProcess + sockets + 64) {
    log.warn("open-file limit is below --max-transfers plus the transfer sockets: transfers of files not cached yet wait for descriptors past it", {
      nofile: files,
      maxTransfersPerProcess: perProcess,
      socketsPerProcess: sockets,
      fix: "raise it (ulimit -n, systemd LimitNOFILE=) or lower --max-transfers",
    });
  }
  if (!signalled) await new Promise<void>((resolve) => (wake = resolve));
  const drainMs = opts.drainTimeoutMs ?? 30_000;
  log.info("stopping: requests no longer taken, running transfers may finish", {
    signal: signalled,
    active: server.activeTransfers,
    queued: server.queuedRequests,
    drainTimeoutS: drainMs / 1000,
    worker: process.env.PXEBOOT_WORKER,
  });
  proxyDhcp?.close();
  const [summary] = await Promise.all([server.drain(drainMs), workers?.stop(signalled === "SIGINT" ? "SIGINT" : "SIGTERM"), http?.stop(drainMs)]);
  log.info("stopped", { finished: summary.finished, cut: summary.cut, worker: process.env.PXEBOOT_WORKER });
  // After dropping root this fails where the server's user may not write (a root-owned /run);
  // systemd's PIDFile= and start-stop-daemon cope with a stale file.
  const removeError = pidfile && !pidError ? removePidfile(pidfile) : undefined;
  if (removeError) log.debug("--pidfile left behind", { file: pidfile, error: removeError });
  metricsEndpoint?.stop();
}

/** The start-up log's view of an address's transfer sockets: how many, the span of their ports, and how many windowed transfers get their own. */
function transferPool(server: RunningServer, address: string): { transferPorts?: number; transferPortSpan?: string; windowedOwnSockets?: number } {
  const ports = server.transferPorts.find((t) => t.address === address)?.ports;
  if (!ports || ports.length === 0) return {};
  return { transferPorts: ports.length, transferPortSpan: `${Math.min(...ports)}-${Math.max(...ports)}`, windowedOwnSockets: server.ownSocketsMax };
}

/**
 * The boot records' directory, made before the privilege drop and given to the serving user
 * (the records are a view: they decide nothing another host boots). A root the server may not
 * write (a read-only NFS export) serves as before, without records, said once.
 */
function prepareBootRecords(root: string, user: { uid: number; gid: number } | undefined, log: Logger): void {
  try {
    ensureBootsDir(root, user);
  } catch (err) {
    log.debug("boot records directory not made", { dir: BOOTS_DIR, error: (err as Error).message });
  }
}

/** Runs the server as `settings` say until a signal stops it; exits the process. */
async function serve(settings: ServeSettings, given: Settings, reloadSettings?: () => Reread): Promise<never> {
  const config = settings.server;
  if (settings.umask !== undefined) process.umask(settings.umask);
  const log = createLogger({ format: settings.logFormat, level: settings.logLevel });
  guardProcessMemory();
  const identity = serviceIdentity(settings.user, settings.group, process.getuid?.() ?? -1);
  const user = identity.drop;
  if (identity.warning) log.warn(identity.warning);
  const marker = settings.installMarker;
  const installCounts = newInstallOnceCounts();
  // Workers ask the primary; the primary asks its boot-control process once it started one
  // (started as root), else changes the tree itself (started as a user, or --user root).
  let switchTo: HostSwitcher = (address) => switchHost({ root: config.root, log }, address);
  const switcher: HostSwitcher = isWorkerChild() ? primarySwitcher : (address) => switchTo(address);
  const installOnce = settings.installOnce ? createInstallOnce({ root: config.root, marker, onInstallCmd: settings.onInstall, log, counts: installCounts, switcher }) : undefined;
  const separate = installOnce !== undefined && user !== undefined && !isWorkerChild();
  // A tree without the marker has no install-once to break: nothing to say about it.
  const hasMarker = existsSync(join(config.root, marker));
  if (installOnce && !separate && !isWorkerChild() && hasMarker) {
    const bad = probeInstallDirs(config.root);
    if (bad.length > 0) log.warn(cannotSwitch(config.root, process.getuid?.() ?? -1, bad, "start pxeboot as root (it then switches hosts as the owner of pxelinux.cfg/)"));
  }
  const beforeDrop = async () => {
    prepareBootRecords(config.root, user, log);
    if (separate) switchTo = await startBootControl(config.root, settings, log, user!, hasMarker);
  };
  const bootRecords = createBootRecorder({
    root: config.root,
    marker,
    onWriteError: (error) => log.warn("boot records are not written: `pxeboot host log` shows nothing new", { dir: BOOTS_DIR, error, fix: `let the serving user write ${BOOTS_DIR} in the root` }),
  });
  const observers: TransferObserver[] = installOnce ? [installOnce, bootRecords.observe] : [bootRecords.observe];
  const proxyCounts = newProxyDhcpCounts();
  const metrics = settings.metrics ? serveMetrics(settings, installOnce ? installCounts : undefined, settings.proxyDhcp ? proxyCounts : undefined) : undefined;
  if (metrics) observers.push(metrics.metrics.observe);
  await serveUntilSignal({
    config,
    log,
    observers,
    dualStackDefault: settings.dualStackDefault,
    user,
    workers: settings.workers,
    pidfile: settings.pidfile,
    drainTimeoutMs: settings.drainTimeoutMs,
    reloadRemap: (next) => {
      const sources = (next ?? settings).remapSources;
      return loadRemapRules(sources.mapFile, sources.inline);
    },
    reloadSettings,
    settings,
    given,
    metrics,
    http: settings.http,
    switcher,
    beforeDrop,
    proxyDhcp: settings.proxyDhcp ? { ...settings.proxyDhcp, counts: proxyCounts, onOffer: (mac, file) => bootRecords.offered(mac, file) } : undefined,
  });
  await installOnce?.flush();
  bootRecords.stop();
  process.exit(0);
}

/** The one start-up line when install-once cannot switch hosts: which directories, whose, and the fix. */
function cannotSwitch(root: string, uid: number, bad: (UnwritableDir & { error: string })[], fix: string): string {
  const dirs = bad.map((b) => `${b.dir}/`).join(", ");
  return `install-once cannot switch hosts: uid ${uid} cannot write ${dirs} (now ${bad[0]!.now}, ${bad[0]!.error}); hosts that fetch the marker will install again; fix: ${fix} (pxeboot doctor ${root} checks it)`;
}

/**
 * Started as root: boot control goes to a process of its own, running as the owner of
 * pxelinux.cfg/ without capabilities (switch-process.ts), and this one keeps no right to it.
 * Its bounding set is ours at the spawn: emptied now but for what it needs to become that owner.
 */
async function startBootControl(root: string, settings: ServeSettings, log: Logger, user: Identity, hasMarker: boolean): Promise<HostSwitcher> {
  const owner = bootControlOwner(root);
  dropBoundingSet(owner.uid !== 0 ? [CAP_SETUID, CAP_SETGID, CAP_SETPCAP] : []);
  setNoNewPrivs();
  const helper = startSwitchProcess({ root, uid: owner.uid, gid: owner.gid, logFormat: settings.logFormat, logLevel: settings.logLevel }, log);
  const ready = await helper.ready;
  if (!ready) {
    log.error("the boot-control process did not start: hosts that fetch the marker will install again", { fix: "see the error above; pxeboot doctor ROOT" });
    return helper.switcher;
  }
  log.info("boot control: hosts are switched by a separate process, as the owner of the tree's boot entries", { pid: helper.pid, uid: ready.uid, owner: owner.dir });
  const dirs = BOOT_CONTROL_DIRS.map((d) => join(root, d)).join(" ");
  if (ready.problems.length > 0 && hasMarker)
    log.warn(
      cannotSwitch(
        root,
        ready.uid,
        ready.problems,
        `make them writable by the owner of ${owner.dir}/ (chmod u+w), or, on NFS with root_squash, give ${dirs} to a user the NFS server does not squash and that is not ${user.name} (chown -R USER:)`,
      ),
    );
  if (ready.uid === user.uid)
    log.warn(`${owner.dir}/ belongs to ${user.name}, the user serving clients: a fault in client-facing code could change what hosts boot; fix: chown -R root: ${dirs}`);
  return helper.switcher;
}

/** This process's metrics: with --workers, worker N labels its samples (the primary serves them all). */
function serveMetrics(settings: ServeSettings, installCounts: InstallOnceCounts | undefined, proxyCounts: ProxyDhcpCounts | undefined): ServeOptions["metrics"] {
  const worker = settings.workers > 1 ? Number(process.env.PXEBOOT_WORKER ?? "1") : 1;
  const metrics = createServerMetrics({
    version: pkg.version,
    startTimeSeconds: Math.floor((Date.now() - process.uptime() * 1000) / 1000),
    worker: settings.workers > 1 ? String(worker) : undefined,
    installOnce: installCounts,
    proxyDhcp: proxyCounts,
  });
  return { listen: settings.metrics!, metrics, allow: settings.metricsAllow };
}


/** in.tftpd's options as --help lists them, from the one option table; every serve flag is taken too. */
const inTftpdHelp: ArgsDef = {
  directory: { type: "positional", required: false, description: "the tftproot; without -s, requests for /DIRECTORY/FILE are served as FILE" },
  ...tftpdHelpArgs(),
};

/** `serve` and its alias `in.tftpd`: one server, two ways of reading the command line (command-line.ts). */
function serveCommand(mode: Mode) {
  return defineCommand({
    meta:
      mode === "serve"
        ? { name: "serve", description: "Serve a tftproot over TFTP (RFC 1350, 2347-2349, 7440); in.tftpd's short options work too" }
        : { name: "in.tftpd", description: "Serve with tftpd-hpa's in.tftpd command line (ExecStart=/usr/local/sbin/pxeboot in.tftpd -L -s /srv/tftp …); serve's long flags work too" },
    args: mode === "serve" ? serveArgs : inTftpdHelp,
    async run({ rawArgs }) {
      try {
        const resolved = resolveServe(rawArgs, mode);
        if (resolved.version) {
          process.stdout.write(`pxeboot ${pkg.version} (in.tftpd compatible, with remap)\n`);
          process.exit(0);
        }
        await serve(resolved.settings, resolved.merged, () => {
          const again = resolveServe(rawArgs, mode);
          return { settings: again.settings, given: again.merged };
        });
      } catch (err) {
        fail(err);
      }
    },
  });
}

export default serveCommand("serve");
export const inTftpd = serveCommand("in.tftpd");

/**
 * Run after the privilege drop: a root the serving user cannot enter starts fine and then
 * refuses every request, with a reason only per request. Said once at start instead.
 */
function rootUnreadable(root: string, user: string | undefined): string | undefined {
  try {
    accessSync(root, fsConstants.R_OK | fsConstants.X_OK);
    return undefined;
  } catch {
    const who = user ?? `uid ${process.getuid?.()}`;
    let what = "";
    try {
      const st = statSync(root);
      what = ` (mode ${(st.mode & 0o777).toString(8)}, owner uid ${st.uid})`;
    } catch {
      // Not even stat-able: the path alone says enough.
    }
    return `${root}${what} cannot be read by ${who}, the user serving clients: every request will be refused; fix: chmod o+rx ${root} (and its parents), or serve as a user that can read it`;
  }
}
