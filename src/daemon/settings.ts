/**
 * What the daemon runs from: the server's own ServerConfig plus what the process does around the
 * server (logging, the user it runs as, install-once, workers, the pid file, the umask, the
 * metrics and HTTP listeners). Typed and validated already (config/ holds the rows): the
 * commands build it from their sources (cli/serve-settings.ts); nothing here reads a flag or a file.
 */
import type { HttpListen } from "../http/http-server.ts";
import type { LogFormat, LogLevel } from "../log.ts";
import type { ServerConfig } from "../server/types.ts";
import type { Typed } from "../config/schema.ts";
import type { MetricsListen } from "./metrics-endpoint.ts";

export interface ServeSettings {
  server: ServerConfig;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** As named (checked to exist); who the server runs as is decided at start-up (daemon/privileges.ts). */
  user?: string;
  group?: string;
  installMarker: string;
  installOnce: boolean;
  onInstall?: string;
  workers: number;
  pidfile?: string;
  /** SIGTERM/SIGINT: running transfers get this long to finish. */
  drainTimeoutMs: number;
  umask?: number;
  /** What SIGHUP re-reads: the map file, after the inline rules. */
  remapSources: { mapFile?: string; inline: string[] };
  /** No address family was asked for: fall back to IPv4 only on hosts with IPv6 switched off. */
  dualStackDefault: boolean;
  /** --metrics: where the Prometheus endpoint listens (the primary's; workers add their number). */
  metrics?: MetricsListen;
  /** --metrics-allow: who may read it; empty: whom --allow/--deny admit. */
  metricsAllow: string[];
  /** --http: where the HTTP side listens (built around: changing it takes a restart). */
  http?: HttpListen;
  /** --proxy-dhcp: interfaces (empty: all) and who is answered. */
  proxyDhcp?: { interfaces: string[]; knownOnly: boolean; binlOnly: boolean };
  /** Every row's value, as validated: what a reload compares row by row. */
  values: Typed;
}

