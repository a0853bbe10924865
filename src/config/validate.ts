/**
 * The one validation: every row's merged value parsed by the row's own parser, once, an error
 * restated for where that value came from (settings.ts blame); then the checks across rows.
 * What needs the host (users, files to read) is the caller's, with `at` to blame a key.
 */
import { UsageError } from "../usage-error.ts";
import { blame, type Origin, type Settings } from "./settings.ts";
import { defaultValue, NAMES, ROWS, type Name, type Row, type Typed } from "./schema.ts";
import type { Input } from "./values.ts";

export interface Validated {
  values: Typed;
  /** Where each given value came from; a row without one is at its default. */
  origins: Partial<Record<Name, Origin>>;
}

/** Runs `fn`; a usage error is restated for where `key` was set (as is when at its default). */
export function at<T>(v: Pick<Validated, "origins">, key: Name, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const origin = v.origins[key];
    if (err instanceof UsageError && origin) throw blame(err, key, origin);
    throw err;
  }
}

export function validate(merged: Settings): Validated {
  const values = {} as Record<Name, unknown>;
  const origins: Validated["origins"] = {};
  for (const name of NAMES) {
    const given = merged.get(name);
    if (!given) {
      values[name] = defaultValue(name);
      continue;
    }
    origins[name] = given.origin;
    const row: Row<unknown> = ROWS[name];
    values[name] = at({ origins }, name, () => row.parse(given.value as Input, name));
  }
  for (const key of merged.keys()) if (!(NAMES as string[]).includes(key)) throw new UsageError(`unknown setting '${key}'`);
  const v = { values: values as Typed, origins };
  crossChecks(v);
  return v;
}

/** Checks between rows: each names the flags involved. */
function crossChecks({ values }: Validated): void {
  if (values.ipv4 && values.ipv6) throw new UsageError("--ipv4 and --ipv6 together leave no address family: give one, or neither for both");
  if (!values.create) {
    const given = [values.writable.length > 0 && "--writable", values.overwrite && "--overwrite", values["upload-max-mb"] !== 0 && "--upload-max-mb"].filter(Boolean);
    if (given.length > 0) throw new UsageError(`${given.join(", ")} shape uploads, which are off: add --create to accept them`);
  }
  if (values["proxy-dhcp"] === undefined && (values["proxy-dhcp-known-only"] || values["proxy-dhcp-4011-only"]))
    throw new UsageError(`--proxy-dhcp-${values["proxy-dhcp-known-only"] ? "known-only" : "4011-only"} needs --proxy-dhcp IFACE,… (or --proxy-dhcp all)`);
}
