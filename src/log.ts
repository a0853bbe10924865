/**
 * One logger for the whole program. Pretty lines go through consola for people at a terminal;
 * json writes one object per line for log shippers. Fields are structured in both, so a line like
 * a finished transfer can be grepped as text or queried as data.
 */
import { createConsola, type ConsolaInstance } from "consola/basic";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFormat = "pretty" | "json";
export type LogFields = Record<string, string | number | boolean | undefined | null | object>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  readonly level: LogLevel;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };
const CONSOLA_LEVEL: Record<LogLevel, number> = { debug: 4, info: 3, warn: 1, error: 0, silent: -999 };

function formatValue(v: unknown): string {
  if (typeof v === "object" && v !== null) return JSON.stringify(v);
  const s = String(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

export function formatFields(fields?: LogFields): string {
  if (!fields) return "";
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) parts.push(`${k}=${formatValue(v)}`);
  return parts.length ? " " + parts.join(" ") : "";
}

export function createLogger(opts: { format?: LogFormat; level?: LogLevel } = {}): Logger {
  const level = opts.level ?? "info";
  const min = RANK[level];
  if (opts.format === "json") {
    const write = (lvl: Exclude<LogLevel, "silent">) => (msg: string, fields?: LogFields) => {
      if (RANK[lvl] < min) return;
      process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }) + "\n");
    };
    return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error"), level };
  }
  const c: ConsolaInstance = createConsola({ level: CONSOLA_LEVEL[level], formatOptions: { date: true } });
  const write = (lvl: Exclude<LogLevel, "silent">) => (msg: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
    c[lvl](msg + formatFields(fields));
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error"), level };
}

/** For library code and tests that need a logger but must print nothing. */
export const silentLogger: Logger = createLogger({ level: "silent" });
