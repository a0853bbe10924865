/**
 * The one typed configuration of `pxeboot serve`: the server's own ServerConfig (serveConfig)
 * plus what the command does around the server (logging, the user it runs as, install-once,
 * workers, the pid file, the umask). Built from the validated rows (config/validate.ts),
 * whatever their source (flags, config file, tftpd-hpa defaults file: see resolve-serve.ts);
 * what needs this host (users, files) is checked here, named by where it was set.
 */
import type { ServeSettings } from "../daemon/settings.ts";
import { lookupGroup, lookupUser } from "../daemon/privileges.ts";
import { serveConfig } from "./serve-config.ts";
import { at, type Validated } from "../config/validate.ts";

// The typed settings are what the daemon runs from: declared there (daemon/settings.ts), built here.
export type { ServeSettings };

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
