/**
 * One logger for the whole program. Pretty lines go through consola for people at a terminal;
 * json writes one object per line for log shippers. Fields are structured in both, so a line like
 * a finished transfer can be grepped as text or queried as data.
 */
import { fstatSync } from "node:fs";
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

/**
 * Control characters a client chose (in a file name, a mode, an error message) must never reach
 * a terminal or a log file raw: ESC and BEL retitle or repaint the terminal of whoever tails the
 * log, and C1 codes (0x80–0x9f, CSI among them) do the same on many terminals. C0, DEL and C1
 * are written as \xNN in pretty lines and as \u00NN in JSON.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

export function escapeControls(s: string): string {
  return s.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** JSON.stringify escapes C0 already; DEL and C1 it leaves as they are. */
function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(/[\x7f-\x9f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

function formatValue(v: unknown): string {
  if (typeof v === "object" && v !== null) return jsonLine(v);
  const s = escapeControls(String(v));
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

export function formatFields(fields?: LogFields): string {
  if (!fields) return "";
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) parts.push(`${k}=${formatValue(v)}`);
  return parts.length ? " " + parts.join(" ") : "";
}

/**
 * Whether stdout is journald's stream: systemd puts its `DEV:INODE` in JOURNAL_STREAM, and a
 * child whose stdout was redirected elsewhere (a pipe in a test, `| tee`) inherits the variable
 * but not the stream, so the variable alone is not enough (systemd.exec(5)).
 */
export function stdoutIsJournal(env: string | undefined = process.env.JOURNAL_STREAM): boolean {
  if (!env) return false;
  try {
    const st = fstatSync(1);
    return env === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** syslog priorities, as journald reads them from a `<N>` at the start of a stream line. */
const SYSLOG_PRIORITY: Record<Exclude<LogLevel, "silent">, number> = { debug: 7, info: 6, warn: 4, error: 3 };

export function createLogger(
  opts: { format?: LogFormat; level?: LogLevel; timestamps?: boolean; journal?: boolean } = {},
): Logger {
  const level = opts.level ?? "info";
  const min = RANK[level];
  // systemd sets JOURNAL_STREAM when stdout/stderr go to journald, which stamps every line and
  // takes its priority from a `<N>` prefix (without one every line is info, and
  // `journalctl -p warning` finds nothing). A line is one line: controls are escaped.
  const journal = opts.journal ?? stdoutIsJournal();
  if (opts.format === "json" || journal) {
    const json = opts.format === "json";
    const stamp = opts.timestamps ?? !journal;
    const write = (lvl: Exclude<LogLevel, "silent">) => (msg: string, fields?: LogFields) => {
      if (RANK[lvl] < min) return;
      const text = json
        ? jsonLine({ time: new Date().toISOString(), level: lvl, msg, ...fields })
        : (stamp ? `${new Date().toISOString()} ` : "") + escapeControls(msg) + formatFields(fields);
      process.stdout.write((journal ? `<${SYSLOG_PRIORITY[lvl]}>` : "") + text + "\n");
    };
    return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error"), level };
  }
  const c: ConsolaInstance = createConsola({ level: CONSOLA_LEVEL[level] });
  // Elsewhere than under journald a line without a time is useless.
  const stamp = opts.timestamps ?? true;
  const write = (lvl: Exclude<LogLevel, "silent">) => (msg: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
    c[lvl]((stamp ? `${new Date().toISOString()} ` : "") + escapeControls(msg) + formatFields(fields));
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error"), level };
}

/** For library code and tests that need a logger but must print nothing. */
export const silentLogger: Logger = createLogger({ level: "silent" });
