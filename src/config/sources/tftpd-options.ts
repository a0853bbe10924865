/**
 * in.tftpd's options (tftp-hpa 5.2, as in /etc/default/tftpd-hpa, plus the long names later
 * versions added) and what each means to pxeboot: the serve settings it sets, or a one-line
 * refusal that says what to use instead. Pure: the caller parses the words (getopt.ts) and
 * gathers the effects.
 */
import { isIP } from "node:net";
import { UsageError } from "../../usage-error.ts";
import { NAMES, ROWS, type Name, type Row } from "../schema.ts";
import type { Value } from "../settings.ts";
import { REFUSABLE } from "../values.ts";

interface TftpdOption {
  takesValue: boolean;
  long: string[];
  /** What `in.tftpd --help` says; none: the option is refused, with the reason, and not listed. */
  help?: string;
  valueHint?: string;
  /** The name --help lists it under, where it has no long name of in.tftpd's own. */
  helpName?: string;
  /** The setting row it sets as it is (-B: blksize-max); none: its effect is tftpdEffect's own. */
  row?: Name;
}

/** in.tftpd's options that are not one setting as it is: standalone mode, -a, -s, -c, -T, … */
const OWN: Record<string, TftpdOption> = {
  l: { takesValue: false, long: ["listen"], help: "standalone (required, or -L or -a; pxeboot stays in the foreground: Type=simple)" },
  L: { takesValue: false, long: ["foreground"], help: "standalone, in the foreground" },
  a: { takesValue: true, long: ["address"], valueHint: "[ADDR][:PORT]", help: "listen here (IPv6 in brackets: [::1]:69); repeatable" },
  s: { takesValue: false, long: ["secure", "chroot"], help: "the directory is the root (pxeboot always confines to it)" },
  c: { takesValue: false, long: ["create"], help: "accept uploads, new files and over existing ones, as in.tftpd does (--create --overwrite)" },
  t: { takesValue: true, long: ["timeout"], valueHint: "SEC", help: "inetd idle time: ignored, as by a standalone in.tftpd" },
  T: { takesValue: true, long: ["retransmit"], valueHint: "USEC", help: "initial retransmission timeout in µs (--timeout in seconds)" },
  "reject-all": { takesValue: false, long: ["reject-all"], help: "grant no option at all (--refuse each)" },
  verbosity: { takesValue: true, long: ["verbosity"], valueHint: "N", help: "above 0: debug logging (--verbose)" },
  stderr: { takesValue: false, long: ["stderr"], help: "accepted: pxeboot always logs to stdout/stderr" },
  V: { takesValue: false, long: ["version"], help: "print the version" },
  systemd: { takesValue: false, long: ["systemd"] },
  "map-steps": { takesValue: true, long: ["map-steps"] },
  "map-test": { takesValue: true, long: ["map-test"] },
  "window-bytes": { takesValue: true, long: ["window-bytes"] },
};

/**
 * By short letter, or by long name for the long-only ones: in.tftpd's own options, and the rows'
 * `tftpd` aliases (-B for --blksize-max). The one table: parsing and --help read it.
 */
export const TFTPD_OPTIONS: Record<string, TftpdOption> = { ...OWN };
for (const name of NAMES) {
  const t = (ROWS[name] as Row<unknown>).tftpd;
  if (!t) continue;
  const id = t.short ?? t.long[0]!;
  TFTPD_OPTIONS[id] = {
    takesValue: ROWS[name].kind !== "boolean",
    long: t.long,
    help: `${t.help} (--${name})`,
    valueHint: t.hint,
    helpName: t.long.length === 0 ? name : undefined,
    row: name,
  };
}

/** The options that work, as citty lists them for `in.tftpd --help` (every serve flag is taken too). */
export function tftpdHelpArgs(): Record<string, { type: "string" | "boolean"; alias?: string[]; valueHint?: string; description: string }> {
  const out: ReturnType<typeof tftpdHelpArgs> = {};
  for (const [id, o] of Object.entries(TFTPD_OPTIONS)) {
    if (o.help === undefined) continue;
    const name = o.helpName ?? o.long[0] ?? id;
    out[name] = { type: o.takesValue ? "string" : "boolean", alias: name === id ? undefined : [id], valueHint: o.valueHint, description: o.help };
  }
  return out;
}

/** Long name → option id. */
export const TFTPD_LONG: Record<string, string> = Object.fromEntries(
  Object.entries(TFTPD_OPTIONS).flatMap(([id, o]) => o.long.map((name) => [name, id])),
);

export const isTftpdShort = (letter: string) => letter.length === 1 && letter in TFTPD_OPTIONS;

/** What one option does; the caller gathers effects in command-line order. */
export interface Effect {
  set?: Record<string, Value>;
  /** Appended to list settings. */
  add?: Record<string, string[]>;
  /** -a: one listening address ("" for all) and, if given, its port. */
  listen?: { host: string; port?: string };
  secure?: true;
  standalone?: true;
  version?: true;
}

/** "[addr]:port", "addr:port", ":port", "*:port", "addr" (tftpd-hpa's -a), with IP addresses only. */
export function parseListen(text: string): { host: string; port?: string } {
  const fail = (why: string): never => {
    throw new UsageError(`-a ${text}: ${why}`);
  };
  if (isIP(text) === 6) fail(`write an IPv6 address in brackets: -a [${text}] or -a [${text}]:69`);
  let host: string;
  let rest: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) fail("no closing ]");
    host = text.slice(1, end);
    rest = text.slice(end + 1);
  } else if (text.startsWith("*") || text.startsWith(":")) {
    host = "";
    rest = text.startsWith("*") ? text.slice(1) : text;
  } else {
    const colon = text.indexOf(":");
    host = colon < 0 ? text : text.slice(0, colon);
    rest = colon < 0 ? "" : text.slice(colon);
  }
  if (rest !== "" && !rest.startsWith(":")) fail("expected [ADDRESS][:PORT]");
  const service = rest.slice(1);
  if (host !== "" && !isIP(host)) fail(`'${host}' is not an IP address (pxeboot does not look host names up: give the address)`);
  return { host, port: service === "" ? undefined : portOf(service, `-a ${text}`) };
}

/** A port number, or the service name "tftp". */
function portOf(service: string, what: string): string {
  if (service === "tftp") return "69";
  if (/^\d{1,5}$/.test(service) && Number(service) <= 65535) return String(Number(service));
  throw new UsageError(`${what}: '${service}' is not a port number (or 'tftp')`);
}

function wholeNumber(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${what} needs a whole number from ${min} to ${max}, got '${text}'`);
  return Number(text);
}

export function tftpdEffect(id: string, value = ""): Effect {
  switch (id) {
    case "c":
      // in.tftpd's -c creates files, and an upload over an existing file it may write replaces
      // it; a nightly same-name upload set up for tftpd-hpa keeps working (serve's --create alone does not replace).
      return { set: { create: true, overwrite: true } };
    case "s":
      return { secure: true };
    case "verbosity":
      return { set: { verbose: wholeNumber(value, "--verbosity", 0, 1000) > 0 } };
    case "V":
      return { version: true };
    case "l":
    case "L":
      // pxeboot never detaches: under systemd that is Type=simple, the default.
      return { standalone: true };
    case "a":
      return { standalone: true, listen: parseListen(value) };
    case "U":
      if (!/^[0-7]{1,4}$/.test(value)) throw new UsageError(`-U needs an octal umask (e.g. 022), got '${value}'`);
      return { set: { umask: value } };
    case "reject-all":
      return { add: { refuse: REFUSABLE } };
    case "t":
      // inetd's idle timeout; in.tftpd ignores it when standalone, and pxeboot always is.
      wholeNumber(value, "-t", 0, 2 ** 31);
      return {};
    case "T": {
      const us = wholeNumber(value, "-T (microseconds)", 10_000, 255_000_000);
      return { set: { timeout: String(Math.round(us / 1000) / 1000) } };
    }
    case "S":
      return { set: { port: portOf(value, "--port") } };
    case "stderr":
      return {}; // pxeboot always logs to stdout/stderr
    case "systemd":
      throw new UsageError("--systemd (socket activation) is not supported: disable tftpd-hpa.socket and run pxeboot in.tftpd -L, which binds the port itself");
    case "map-steps":
      throw new UsageError(`--map-steps is not supported: pxeboot stops remapping after a fixed 4096 steps`);
    case "map-test":
      throw new UsageError("--map-test is not supported: pxeboot config check validates a --map-file's rules");
    case "window-bytes":
      throw new UsageError("--window-bytes is not supported: pxeboot caps a window at 96 KiB itself (see --windowsize-max)");
  }
  const row = TFTPD_OPTIONS[id]?.row;
  if (row === undefined) throw new UsageError(`unknown in.tftpd option ${id}`);
  // As the row's own flag: a switch sets it, a list gains the value, else the value is its word.
  const kind = ROWS[row].kind;
  if (kind === "boolean") return { set: { [row]: true } };
  if (kind === "list") return { add: { [row]: [value] } };
  return { set: { [row]: value } };
}
