/**
 * `pxeboot serve` as a process: from settings already resolved to a stopped server. Decides who
 * the server runs as, assembles what watches its transfers (install-once, the boot records, the
 * metrics), runs it until a signal, and exits.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createBootRecorder } from "../boots/recorder.ts";
import { BOOTS_DIR, ensureBootsDir } from "../boots/store.ts";
import { newProxyDhcpCounts } from "../dhcp/proxy.ts";
import { createInstallOnce, newInstallOnceCounts, type HostSwitcher } from "../layout/install-once.ts";
import { switchHost } from "../layout/switch-host.ts";
import { probeInstallDirs } from "../layout/writable.ts";
import { createLogger, type Logger } from "../log.ts";
import type { TransferObserver } from "../records/transfer-record.ts";
import { guardProcessMemory } from "../server/memory-guard.ts";
import { cannotSwitch, startBootControl } from "./boot-control.ts";
import { serveUntilSignal } from "./lifecycle.ts";
import { processMetrics } from "./metrics.ts";
import { serviceIdentity } from "./privileges.ts";
import type { Reread } from "./reload.ts";
import { isWorker } from "./role.ts";
import type { ServeSettings } from "./settings.ts";
import { primarySwitcher } from "./workers.ts";

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

/** Runs the server as `settings` say until a signal stops it; exits the process. `reread`: what SIGHUP re-reads. */
export async function runDaemon(settings: ServeSettings, reread?: () => Reread): Promise<never> {
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
  const switcher: HostSwitcher = isWorker ? primarySwitcher : (address) => switchTo(address);
  const installOnce = settings.installOnce ? createInstallOnce({ root: config.root, marker, onInstallCmd: settings.onInstall, log, counts: installCounts, switcher }) : undefined;
  const separate = installOnce !== undefined && user !== undefined && !isWorker;
  // A tree without the marker has no install-once to break: nothing to say about it.
  const hasMarker = existsSync(join(config.root, marker));
  if (installOnce && !separate && !isWorker && hasMarker) {
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
  const metrics = settings.metrics ? processMetrics(settings, installOnce ? installCounts : undefined, settings.proxyDhcp ? proxyCounts : undefined) : undefined;
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
    reread,
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
