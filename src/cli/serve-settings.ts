/**
 * The one typed configuration of `pxeboot serve`: the server's own ServerConfig (serveConfig)
 * plus what the command does around the server (logging, the user it runs as, install-once,
 * workers, the pid file, the umask). Built from flag-shaped arguments, whatever their source
 * (flags, config file, tftpd-hpa defaults file: see resolve-serve.ts), and validated here once.
 */
import { intArg, repeatedFlag, UsageError } from "./args.ts";
import { parseMetricsListen } from "./metrics-listen.ts";
import { parseHttpListen } from "./http-listen.ts";
import type { ServeSettings } from "../daemon/settings.ts";
import { lookupGroup, lookupUser } from "../daemon/privileges.ts";
import { cidrList, defaultOf, serveConfig, workerCount, type ServeArgs } from "./serve-config.ts";
import { DEFAULT_MARKER } from "../layout/paths.ts";

// The typed settings are what the daemon runs from: declared there (daemon/settings.ts), built here.
export type { ServeSettings };

/** The serve flags beyond those ServerConfig is made of. */
export interface CommandArgs {
  "log-format"?: string;
  verbose?: boolean;
  quiet?: boolean;
  user?: string;
  group?: string;
  "install-marker"?: string;
  "install-once"?: boolean;
  "on-install"?: string;
  pidfile?: string;
  umask?: string;
  "drain-timeout"?: string;
  metrics?: string;
  "metrics-allow"?: string;
  http?: string;
  "proxy-dhcp"?: string;
  "proxy-dhcp-known-only"?: boolean;
  "proxy-dhcp-4011-only"?: boolean;
}

/** "eth0,eth1" or "all" (every IPv4 interface); the names are checked against the host at start. */
function parseProxyDhcp(args: CommandArgs): ServeSettings["proxyDhcp"] {
  const knownOnly = args["proxy-dhcp-known-only"] === true;
  const binlOnly = args["proxy-dhcp-4011-only"] === true;
  if (args["proxy-dhcp"] === undefined) {
    if (knownOnly || binlOnly) throw new UsageError(`--proxy-dhcp-${knownOnly ? "known-only" : "4011-only"} needs --proxy-dhcp IFACE,… (or --proxy-dhcp all)`);
    return undefined;
  }
  const text = args["proxy-dhcp"].trim();
  const names = text === "all" ? [] : text.split(",").map((n) => n.trim());
  if (text === "" || names.some((n) => !/^[A-Za-z0-9_.:@-]{1,15}$/.test(n)))
    throw new UsageError(`--proxy-dhcp needs interface names, comma-separated, or all (e.g. eth0 or eth0,eth1), got '${args["proxy-dhcp"]}'`);
  return { interfaces: names, knownOnly, binlOnly };
}

function parseUmask(text: string): number {
  if (!/^[0-7]{1,4}$/.test(text) || parseInt(text, 8) > 0o777) throw new UsageError(`--umask needs an octal mask from 000 to 777 (e.g. 022), got '${text}'`);
  return parseInt(text, 8);
}

export function serveSettings(args: ServeArgs & CommandArgs, rawArgs: string[] = []): ServeSettings {
  const server = serveConfig(args, rawArgs);
  const format = args["log-format"] ?? "pretty";
  if (format !== "pretty" && format !== "json") throw new UsageError(`--log-format must be pretty or json, got '${format}'`);
  // Named users must exist on this host: a typo fails `config check`, not the start at boot.
  if (args.user !== undefined && args.user !== "root" && args.user !== "0") lookupUser(args.user);
  if (args.group !== undefined) lookupGroup(args.group, "--group");
  const marker = args["install-marker"] ?? DEFAULT_MARKER;
  if (marker.trim() === "") throw new UsageError(`--install-marker needs a file name (default ${DEFAULT_MARKER})`);
  const metrics = args.metrics === undefined ? undefined : parseMetricsListen(args.metrics);
  if (args.pidfile === "") throw new UsageError("--pidfile needs a file name (e.g. /run/pxeboot.pid)");
  return {
    server,
    logFormat: format,
    logLevel: args.verbose ? "debug" : args.quiet ? "warn" : "info",
    user: args.user,
    group: args.group,
    installMarker: marker,
    installOnce: args["install-once"] !== false,
    onInstall: args["on-install"] || undefined,
    workers: workerCount(args),
    pidfile: args.pidfile,
    drainTimeoutMs: intArg("drain-timeout", args["drain-timeout"] ?? defaultOf("drain-timeout"), 0, 86_400) * 1000,
    umask: args.umask === undefined ? undefined : parseUmask(args.umask),
    remapSources: { mapFile: args["map-file"], inline: repeatedFlag(rawArgs, ["remap"], "RULE", false) },
    dualStackDefault: !args.address && !args.ipv4 && !args.ipv6,
    metrics,
    metricsAllow: cidrList(rawArgs, "metrics-allow"),
    http: args.http === undefined ? undefined : parseHttpListen(args.http),
    proxyDhcp: parseProxyDhcp(args),
  };
}
