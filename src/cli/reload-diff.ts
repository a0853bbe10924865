/**
 * What a SIGHUP changed, setting by setting, in the words a user wrote them: every key of the
 * merged settings (flags, config file, defaults file) compared before and after, each change
 * shown as old → new, and sorted into applied or waiting for a restart. Which typed fields the
 * running server could take is decided where they are applied (server.reconfigure, the process
 * settings); this only puts names and values on it, so no change goes unsaid.
 */
import type { Setting, Settings } from "../config/settings.ts";

export interface SettingChange {
  /** As the user writes it: the long flag's name, the TOML key. */
  setting: string;
  /** The value as given (lists comma-joined); undefined: not given (its default), or a file's contents re-read. */
  from?: string;
  to?: string;
}

export interface ReloadReport {
  applied: SettingChange[];
  waiting: SettingChange[];
}

function shown(s: Setting | undefined): string | undefined {
  if (!s) return undefined;
  return Array.isArray(s.value) ? s.value.join(",") : String(s.value);
}

/** Every key whose given value differs, in the order the new settings hold them (removed keys last). */
export function changedSettings(before: Settings, after: Settings): SettingChange[] {
  const out: SettingChange[] = [];
  for (const key of new Set([...after.keys(), ...before.keys()])) {
    const from = shown(before.get(key));
    const to = shown(after.get(key));
    if (from !== to) out.push({ setting: key, from, to });
  }
  return out;
}

/**
 * `given`: the keys whose given values changed. `typedApplied`/`typedWaiting`: the settings whose
 * typed value changed, as applied and as kept until a restart (a name may join two with "/", as
 * verbose/quiet make one log level). A typed change with no given change (a quirks file's
 * contents, a defaults-file variable read the same) is named without values.
 */
export function reloadReport(given: SettingChange[], typedApplied: string[], typedWaiting: string[]): ReloadReport {
  const parts = (name: string) => name.split("/");
  const waitingNames = new Set(typedWaiting.flatMap(parts));
  const report: ReloadReport = { applied: [], waiting: [] };
  for (const c of given) (waitingNames.has(c.setting) ? report.waiting : report.applied).push(c);
  const said = new Set(given.map((c) => c.setting));
  const unsaid = (name: string) => !parts(name).some((p) => said.has(p));
  for (const name of typedWaiting) if (unsaid(name)) report.waiting.push({ setting: name });
  for (const name of typedApplied) if (unsaid(name) && !waitingNames.has(name)) report.applied.push({ setting: name });
  return report;
}

/** Log fields for one group: `changed=a,b` (or `keys=`), then each setting's `old → new`. */
export function reloadFields(label: "changed" | "keys", changes: SettingChange[]): Record<string, string> {
  const fields: Record<string, string> = { [label]: changes.map((c) => c.setting).join(",") || "nothing" };
  for (const c of changes) if (c.from !== undefined || c.to !== undefined) fields[c.setting] = `${c.from ?? "(default)"} → ${c.to ?? "(default)"}`;
  return fields;
}
