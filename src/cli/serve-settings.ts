/**
 * The one typed configuration of `pxeboot serve`: the server's own ServerConfig (serveConfig)
 * plus what the command does around the server (logging, the user it runs as, install-once,
 * workers, the pid file, the umask). Built from the validated rows (config/validate.ts),
 * whatever their source (flags, config file, tftpd-hpa defaults file: see resolve-serve.ts);
 * what needs this host (users, files) is checked here, named by where it was set.
 */
import type { LogFormat, LogLevel } from "../log.ts";
import type { ServerConfig } from "../server/types.ts";
import type { MetricsListen } from "./metrics-endpoint.ts";
import type { HttpListen } from "../http/http-server.ts";
import { lookupGroup, lookupUser } from "./privileges.ts";
import { serveConfig } from "./serve-config.ts";
import type { Typed } from "../config/schema.ts";
import { at, type Validated } from "../config/validate.ts";

export interface ServeSettings {
  server: ServerConfig;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** As named (checked to exist); who the server runs as is decided at start-up (privileges.ts). */
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

export function serveSettings(v: Validated): ServeSettings {
  const { values } = v;
  const server = serveConfig(v);
  // Named users must exist on this host: a typo fails `config check`, not the start at boot.
  const user = values.user;
  if (user !== undefined && user !== "root" && user !== "0") at(v, "user", () => lookupUser(user));
  if (values.group !== undefined) at(v, "group", () => lookupGroup(values.group!, "--group"));
  return {
    server,
    logFormat: values["log-format"],
    logLevel: values.verbose ? "debug" : values.quiet ? "warn" : "info",
    user,
    group: values.group,
    installMarker: values["install-marker"],
    installOnce: values["install-once"],
    onInstall: values["on-install"] || undefined,
    workers: values.workers,
    pidfile: values.pidfile,
    drainTimeoutMs: values["drain-timeout"] * 1000,
    umask: values.umask,
    remapSources: { mapFile: values["map-file"], inline: values.remap },
    dualStackDefault: values.address.length === 0 && !values.ipv4 && !values.ipv6,
    metrics: values.metrics,
    metricsAllow: values["metrics-allow"],
    http: values.http,
    proxyDhcp:
      values["proxy-dhcp"] === undefined
        ? undefined
        : { interfaces: values["proxy-dhcp"], knownOnly: values["proxy-dhcp-known-only"], binlOnly: values["proxy-dhcp-4011-only"] },
    values,
  };
}
