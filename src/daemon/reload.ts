/**
 * SIGHUP: re-read what the server was started from (flags, config file, defaults file, map
 * file), as the command that started it reads them. A bad new configuration is logged and the
 * old one stays; running transfers are never touched; what needs a restart is named. Workers get
 * the signal and re-read on their own; every process re-reads, the primary's lines speak for
 * all, and a worker speaks up (labelled) only when it failed, so a reload with --workers is one
 * set of lines, not one per process.
 */
import type { RunningHttp } from "../http/http-server.ts";
import type { Logger } from "../log.ts";
import type { RemapRule } from "../server/requests/remap.ts";
import type { RunningServer } from "../server/server.ts";
import type { ServerConfig } from "../server/types.ts";
import { httpRules } from "./http.ts";
import { workerLabel } from "./role.ts";
import type { ServeSettings } from "./settings.ts";
import { RELOAD_ACK_TIMEOUT_MS, type WorkerSet } from "./workers.ts";

/** A configuration re-read on SIGHUP, validated, as the command read it (cli/serve-reload.ts). */
export interface Reread {
  settings: ServeSettings;
  /** The server's fields it is built around (from the rows): a change to one waits for a restart. */
  restartFields: ReadonlySet<keyof ServerConfig>;
  /**
   * What changed since the last good reading, by the names a user writes (log fields:
   * `changed=…`, and the settings that wait for a restart, if any), given the server's fields
   * as it applied them and as it kept them until a restart. Called once the new settings are
   * applied: this reading is then the last good one.
   */
  describe(applied: string[], needRestart: string[]): { applied: Record<string, string>; waiting?: Record<string, string> };
  /** The remap rules the new settings name (inline, then the map file), read again; throws when they do not parse. */
  remap(): RemapRule[];
}

export interface Reloading {
  log: Logger;
  server: RunningServer;
  http?: RunningHttp;
  /** The primary's workers: each says once it re-read. */
  workers?: WorkerSet;
  /** Re-reads the configuration (throws on a bad one); undefined: nothing to re-read. */
  reread?: () => Reread;
}

/** The SIGHUP handler of a running server. */
export function reloader({ log, server, http, workers, reread }: Reloading): () => void {
  const worker = workerLabel;
  const said: Pick<Logger, "info" | "warn" | "error"> = worker
    ? {
        info: (msg, fields) => log.debug(msg, { ...fields, worker }),
        warn: (msg, fields) => log.debug(msg, { ...fields, worker }),
        error: (msg, fields) => log.error(msg, { ...fields, worker }),
      }
    : log;
  return () => {
    if (workers) {
      // Said after this process's own lines: a request that reaches any worker after this line
      // meets what was re-read.
      void workers.reload().then(({ acked, missing }) => {
        if (missing.length === 0) log.info("SIGHUP: every worker re-read", { workers: acked.join(",") });
        else log.warn("SIGHUP: workers did not say they re-read", { missing: missing.join(","), acked: acked.join(",") || "none", afterMs: RELOAD_ACK_TIMEOUT_MS });
      });
    }
    if (!reread) return said.info("SIGHUP: nothing to re-read");
    let next: Reread;
    try {
      next = reread();
      const { applied, needRestart } = server.reconfigure(next.settings.server, next.restartFields);
      http?.reconfigure(httpRules(next.settings.server));
      const report = next.describe(applied, needRestart);
      said.info("SIGHUP: configuration re-read", report.applied);
      if (report.waiting) said.warn("SIGHUP: these settings change only with a restart (systemctl restart)", report.waiting);
    } catch (err) {
      said.error("SIGHUP: configuration not re-read, the old one stays (remap rules not re-read either)", { error: (err as Error).message });
      return;
    }
    // From what the new configuration names (its remap lines and map file, whichever changed),
    // not from what the server started with.
    try {
      const rules = next.remap();
      server.setRemap(rules);
      said.info("SIGHUP: remap rules re-read", { rules: rules.length });
    } catch (err) {
      said.error("SIGHUP: remap rules not re-read, the old ones stay", { error: (err as Error).message });
    }
  };
}
