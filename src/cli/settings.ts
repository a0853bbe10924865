/**
 * Serve settings before validation: each key (a long flag's name) with its raw value and where it
 * came from: a flag, the TOML config file, or tftpd-hpa's defaults file. Sources merge key by key
 * (flags over the defaults file over the config file); the merged set becomes the flag-shaped
 * arguments serveConfig validates once. The origin is what lets a bad value be reported as
 * "/etc/pxeboot.toml line 3: port must be …" rather than as a flag nobody typed.
 */
import { UsageError } from "./args.ts";
import { REPEATABLE, serveArgs, serveDefaults, type ServeArgs } from "./serve-config.ts";

export type Value = string | boolean | string[];

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

export type Kind = "boolean" | "string" | "list";

/** What a key holds: lists for the repeatable flags, else as the flag is typed. */
export function kindOf(key: string): Kind | undefined {
  const def = (serveArgs as Record<string, { type: string }>)[key];
  if (!def || def.type === "positional") return undefined;
  if (REPEATABLE.includes(key)) return "list";
  return def.type === "boolean" ? "boolean" : "string";
}

/** Later layers win, key by key (a list is replaced, not extended). */
export function merge(...layers: Settings[]): Settings {
  const out: Settings = new Map();
  for (const layer of layers) for (const [k, v] of layer) out.set(k, v);
  return out;
}

/** The flag-shaped arguments serveConfig takes: defaults, scalars over them, lists as repeated flags. */
export function toArgs(settings: Settings): { args: ServeArgs; rawArgs: string[] } {
  const args: Record<string, unknown> = { ...serveDefaults() };
  const rawArgs: string[] = [];
  for (const [key, { value }] of settings) {
    if (Array.isArray(value)) for (const v of value) rawArgs.push(`--${key}`, v);
    else args[key] = value;
  }
  return { args: args as unknown as ServeArgs, rawArgs };
}

export function describeOrigin(o: Origin): string {
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

/**
 * Runs `validate` on the merged settings; on a usage error, finds the key whose value alone
 * fails the same way and reports it with its origin. An error no single key causes (two keys
 * that contradict each other) is reported as it is.
 */
export function validateWithBlame<T>(merged: Settings, validate: (s: Settings) => T): T {
  try {
    return validate(merged);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    for (const [key, setting] of merged) {
      try {
        validate(new Map([[key, setting]]));
      } catch (alone) {
        if (alone instanceof UsageError && alone.message === err.message) throw blame(alone, key, setting.origin);
      }
    }
    throw err;
  }
}
