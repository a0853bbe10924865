/**
 * What SIGHUP re-reads, for the daemon (daemon/reload.ts): the same command line and files as at
 * start, resolved again, and the changes named as a user wrote them (reload-diff.ts), old → new,
 * sorted into applied and waiting for a restart.
 */
import type { Reread } from "../daemon/reload.ts";
import type { ServeSettings } from "../daemon/settings.ts";
import { changedProcessRows } from "../config/reload.ts";
import type { Settings } from "../config/settings.ts";
import type { Mode } from "../config/sources/command-line.ts";
import { loadRemapRules } from "./compat-config.ts";
import { changedSettings, reloadFields, reloadReport } from "./reload-diff.ts";
import { resolveServe } from "./resolve-serve.ts";
import { RESTART_FIELDS, settingNames } from "./serve-config.ts";

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
      restartFields: RESTART_FIELDS,
      describe(applied, needRestart) {
        const waiting = settingNames(needRestart);
        waiting.push(...changedProcessRows(start.values, next.values));
        const report = reloadReport(changedSettings(last, again.merged), settingNames(applied), waiting);
        last = again.merged;
        return { applied: reloadFields("changed", report.applied), waiting: report.waiting.length > 0 ? reloadFields("keys", report.waiting) : undefined };
      },
      remap: () => loadRemapRules(next.remapSources.mapFile, next.remapSources.inline),
    };
  };
}
