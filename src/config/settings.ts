/**
 * Serve settings as the sources give them, before validation: each key (a row's name) with its
 * value as written (a flag's word, a TOML number or string, a list) and where it came from: a
 * flag, the TOML config file, or tftpd-hpa's defaults file. Sources merge key by key (flags over
 * the defaults file over the config file); validate.ts then parses each row once. The origin is
 * what lets a bad value be reported as "/etc/pxeboot.toml line 3: port must be …" rather than as
 * a flag nobody typed.
 */
import { UsageError } from "../usage-error.ts";
import type { Input } from "./values.ts";

export type Value = Input;

export type Origin =
  /** `flag` as spelled on the command line ("--port", "-B"). */
  | { kind: "flag"; flag: string }
  | { kind: "file"; file: string; line?: number }
  /** A tftpd-hpa defaults file: the variable, and the in.tftpd option in it. */
  | { kind: "defaults-file"; file: string; variable: string; option?: string };

export interface Setting {
  value: Value;
  origin: Origin;
}

export type Settings = Map<string, Setting>;

/** Values given as flags would give them (`{ port: 69 }` as `--port`), for callers that build settings in code. */
export function asFlags(values: Record<string, Value | undefined>): Settings {
  const out: Settings = new Map();
  for (const [key, value] of Object.entries(values)) if (value !== undefined) out.set(key, { value, origin: { kind: "flag", flag: `--${key}` } });
  return out;
}

/** Later layers win, key by key (a list is replaced, not extended). */
export function merge(...layers: Settings[]): Settings {
  const out: Settings = new Map();
  for (const layer of layers) for (const [k, v] of layer) out.set(k, v);
  return out;
}

export function describeOrigin(o: Origin | undefined): string {
  if (!o) return "default";
  if (o.kind === "flag") return o.flag;
  if (o.kind === "file") return o.line ? `${o.file} line ${o.line}` : o.file;
  return `${o.file} ${o.variable}${o.option ? ` ${o.option}` : ""}`;
}

/**
 * A validation error about `key`, restated for where its value came from. A flag's message
 * already names the flag; a file's names the key as written there.
 */
export function blame(err: Error, key: string, origin: Origin): UsageError {
  const msg = err.message;
  if (origin.kind === "flag") return new UsageError(origin.flag === `--${key}` || msg.includes(origin.flag) ? msg : `${origin.flag}: ${msg}`);
  const flag = `--${key}`;
  const text = origin.kind === "file" ? (msg.includes(flag) ? msg.split(flag).join(key) : `${key}: ${msg}`) : msg;
  return new UsageError(`${describeOrigin(origin)}: ${text}`);
}
