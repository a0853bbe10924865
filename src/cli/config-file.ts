/**
 * The TOML configuration file (/etc/pxeboot.toml): keys named like serve's long flags, values
 * typed as TOML (`max-transfers = 10000`, `permissive = true`, `allow = ["10.0.0.0/8"]`).
 * Parsed by toml.ts; every problem is one UsageError naming the file, the key and the line.
 */
import { UsageError } from "./args.ts";
import { COMMA_LISTS, serveArgs } from "./serve-config.ts";
import { kindOf, type Settings, type Value } from "./settings.ts";
import { lineOfKey, parseToml } from "./toml.ts";

/** Keys that only make sense on a command line. */
const NOT_IN_FILE: Record<string, string> = {
  config: "a config file cannot name another one",
};


/**
 * Value hints of flags that take a number: in the file such a key takes a TOML number, so
 * `port = "69"` is a mistake named with its line, not a string read as a number.
 */
const NUMBER_HINTS = new Set(["PORT", "N", "SEC", "BYTES", "BLOCKS", "MIB", "0|1"]);

function takesNumber(key: string): boolean {
  const def = (serveArgs as Record<string, { valueHint?: string }>)[key];
  return def?.valueHint !== undefined && NUMBER_HINTS.has(def.valueHint);
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date";
  if (v === null) return "null";
  return typeof v === "object" ? "a table" : `a ${typeof v}`;
}

function coerce(key: string, raw: unknown, fail: (why: string) => never): Value {
  const kind = kindOf(key);
  if (kind === "boolean") {
    if (typeof raw !== "boolean") fail(`expected true or false, got ${typeName(raw)}`);
    return raw as boolean;
  }
  if (takesNumber(key) && typeof raw === "string") fail(`expected a number, got a string: write ${key} = ${raw.trim() || 0}, without quotes`);
  const scalar = (v: unknown): string => {
    if (typeof v === "string") return v;
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
    return fail(`expected ${kind === "list" ? "a string or an array of strings" : "a string or a number"}, got ${typeName(v)}`);
  };
  if (kind === "list") return Array.isArray(raw) ? raw.map(scalar) : [scalar(raw)];
  if (Array.isArray(raw) && COMMA_LISTS.includes(key)) return raw.map(scalar).join(",");
  return scalar(raw);
}

/** The settings a config file holds. */
export function configFileSettings(text: string, file: string): Settings {
  const parsed = parseToml(text, file);
  const settings: Settings = new Map();
  for (const [key, raw] of Object.entries(parsed)) {
    const line = lineOfKey(text, key);
    const where = `${file}${line ? ` line ${line}` : ""}`;
    const fail = (why: string): never => {
      throw new UsageError(`${where}: ${key}: ${why}`);
    };
    if (key in NOT_IN_FILE) fail(NOT_IN_FILE[key]!);
    if (!kindOf(key)) {
      const dashed = key.replace(/_/g, "-");
      const hint = dashed !== key && kindOf(dashed) ? `did you mean ${dashed}?` : "keys are serve's long flags, e.g. max-transfers (see pxeboot serve --help)";
      throw new UsageError(`${where}: unknown key '${key}' (${hint})`);
    }
    settings.set(key, { value: coerce(key, raw, fail), origin: { kind: "file", file, line } });
  }
  return settings;
}
