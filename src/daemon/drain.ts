/**
 * The stop after the first SIGTERM/SIGINT: requests are no longer taken (the port is free for
 * a new instance at once), running transfers may finish for the drain timeout, the workers and
 * the HTTP side drain alongside, and the metrics endpoint closes last, so a drain's final counts
 * can still be scraped while transfers finish.
 */
import type { RunningProxyDhcp } from "../dhcp/responder.ts";
import type { RunningHttp } from "../http/http-server.ts";
import type { Logger } from "../log.ts";
import type { RunningServer } from "../server/server.ts";
import type { MetricsEndpoint } from "./metrics-endpoint.ts";
import { removePidfile } from "./pidfile.ts";
import { workerLabel } from "./role.ts";
import type { WorkerSet } from "./workers.ts";

export interface Running {
  server: RunningServer;
  workers?: WorkerSet;
  http?: RunningHttp;
  proxyDhcp?: RunningProxyDhcp;
  metricsEndpoint?: MetricsEndpoint;
  /** Written at start (by this process, the primary): removed at the end. */
  pidfile?: string;
}

export async function drain(signal: NodeJS.Signals, running: Running, drainMs: number, log: Logger): Promise<void> {
  const { server, workers, http, proxyDhcp, metricsEndpoint, pidfile } = running;
  log.info("stopping: requests no longer taken, running transfers may finish", {
    signal,
    active: server.activeTransfers,
    queued: server.queuedRequests,
    drainTimeoutS: drainMs / 1000,
    worker: workerLabel,
  });
  proxyDhcp?.close();
  const [summary] = await Promise.all([server.drain(drainMs), workers?.stop(signal === "SIGINT" ? "SIGINT" : "SIGTERM"), http?.stop(drainMs)]);
  log.info("stopped", { finished: summary.finished, cut: summary.cut, worker: workerLabel });
  // After dropping root this fails where the server's user may not write (a root-owned /run);
  // systemd's PIDFile= and start-stop-daemon cope with a stale file.
  const removeError = pidfile ? removePidfile(pidfile) : undefined;
  if (removeError) log.debug("--pidfile left behind", { file: pidfile, error: removeError });
  metricsEndpoint?.stop();
}
