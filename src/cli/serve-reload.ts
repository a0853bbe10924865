/**
 * What SIGHUP re-reads, for the daemon (daemon/reload.ts): the same command line and files as at
 * start, resolved again, and the changes named as a user wrote them (reload-diff.ts), old → new,
 * sorted into applied and waiting for a restart.
 */
import type { Reread } from "../daemon/reload.ts";
import type { ServeSettings } from "../daemon/settings.ts";
import type { Mode } from "./command-line.ts";
import { loadRemapRules } from "./compat-config.ts";
import { changedSettings, reloadFields, reloadReport } from "./reload-diff.ts";
import { resolveServe } from "./resolve-serve.ts";
import { settingNames } from "./serve-config.ts";
import type { Settings } from "./settings.ts";

/**
 * Settings of the process rather than the server (who it runs as, how it logs, install-once,
 * metrics): built in at start, so a reload that changes one names it as waiting for a restart
 * rather than saying nothing changed. By the names a user writes them.
 */
const PROCESS_SETTINGS: [keyof ServeSettings, string][] = [
  ["logLevel", "verbose/quiet"],
  ["logFormat", "log-format"],
  ["user", "user"],
  ["group", "group"],
  ["workers", "workers"],
  ["pidfile", "pidfile"],
  ["umask", "umask"],
  ["drainTimeoutMs", "drain-timeout"],
  ["installOnce", "install-once"],
  ["installMarker", "install-marker"],
  ["onInstall", "on-install"],
  ["metrics", "metrics"],
  ["metricsAllow", "metrics-allow"],
  // One typed setting from three flags: any of them changed waits for the restart.
  ["proxyDhcp", "proxy-dhcp/proxy-dhcp-known-only/proxy-dhcp-4011-only"],
];

function changedProcessSettings(before: ServeSettings, after: ServeSettings): string[] {
  return PROCESS_SETTINGS.filter(([key]) => JSON.stringify(before[key]) !== JSON.stringify(after[key])).map(([, name]) => name);
}

/**
 * SIGHUP's re-reading of a server started with `rawArgs` in `mode`, from `start` (the settings
 * it runs with) and `given` (as given at start: key, value, origin).
 */
export function rereadServe(rawArgs: string[], mode: Mode, start: ServeSettings, given: Settings): () => Reread {
  // Compared with what is running now: the last good reload, else the start.
  let last = given;
  return () => {
    const again = resolveServe(rawArgs, mode);
    const next = again.settings;
    return {
      settings: next,
      describe(applied, needRestart) {
        const waiting = settingNames(needRestart);
        if (JSON.stringify(next.http) !== JSON.stringify(start.http)) waiting.push("http");
        waiting.push(...changedProcessSettings(start, next));
        const report = reloadReport(changedSettings(last, again.merged), settingNames(applied), waiting);
        last = again.merged;
        return { applied: reloadFields("changed", report.applied), waiting: report.waiting.length > 0 ? reloadFields("keys", report.waiting) : undefined };
      },
      remap: () => loadRemapRules(next.remapSources.mapFile, next.remapSources.inline),
    };
  };
}
