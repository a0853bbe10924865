/**
 * The TOML configuration file (/etc/pxeboot.toml) as a source: keys are the rows' names (serve's
 * long flags), values typed as TOML (`max-transfers = 10000`, `permissive = true`,
 * `allow = ["10.0.0.0/8"]`) and kept so: a number stays a number for its row's parser, and a
 * number in quotes for a numeric row is a mistake named with its line. Every problem is one
 * UsageError naming the file, the key and the line.
 */
import { UsageError } from "../../usage-error.ts";
import { NOT_IN_FILE, rowOf } from "../schema.ts";
import type { Settings, Value } from "../settings.ts";
import { lineOfKey, parseToml } from "../toml.ts";

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date";
  if (v === null) return "null";
  return typeof v === "object" ? "a table" : `a ${typeof v}`;
}

/** The TOML value checked against its row's kind, as given (no number becomes text here). */
function typed(key: string, raw: unknown, fail: (why: string) => never): Value {
  const row = rowOf(key)!;
  if (row.kind === "boolean") {
    if (typeof raw !== "boolean") fail(`expected true or false, got ${typeName(raw)}`);
    return raw as boolean;
  }
  if ((row.kind === "int" || row.kind === "seconds") && typeof raw === "string")
    fail(`expected a number, got a string: write ${key} = ${raw.trim() || 0}, without quotes`);
  const scalar = (v: unknown): string | number => {
    if (typeof v === "string") return v;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    return fail(`expected ${row.kind === "list" ? "a string or an array of strings" : "a string or a number"}, got ${typeName(v)}`);
  };
  // A list's items are words (a CIDR block, a directory): a number there is written as one.
  if (row.kind === "list") return Array.isArray(raw) ? raw.map((v) => String(scalar(v))) : [String(scalar(raw))];
  if (Array.isArray(raw) && row.commaList) return raw.map((v) => String(scalar(v)));
  return scalar(raw);
}

/** The settings a config file holds, each with its file and line. */
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
    if (!rowOf(key)) {
      const dashed = key.replace(/_/g, "-");
      const hint = dashed !== key && rowOf(dashed) ? `did you mean ${dashed}?` : "keys are serve's long flags, e.g. max-transfers (see pxeboot serve --help)";
      throw new UsageError(`${where}: unknown key '${key}' (${hint})`);
    }
    settings.set(key, { value: typed(key, raw, fail), origin: { kind: "file", file, line } });
  }
  return settings;
}
