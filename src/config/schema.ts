/**
 * Every setting of `pxeboot serve`, one row each: its name (the long flag, and the TOML key), its
 * kind, its default (written here and nowhere else), its help text, which sources may set it (a
 * flag always; the TOML file unless `notInFile`; in.tftpd's option `tftpd`, which the tftpd-hpa
 * defaults file reaches too), its parser and range, whether a SIGHUP applies it or it waits for a
 * restart, and whether it is the server's or the process's. citty's --help table, in.tftpd's
 * options, the TOML keys, `config show`, the reload's restart lists and the typed settings
 * (`Typed`) are all derived from these rows.
 */
import type { ArgsDef } from "citty";
import { availableParallelism } from "node:os";
import { UsageError } from "../usage-error.ts";
import { MAX_BLOCK_SIZE, MAX_WINDOW_SIZE, MIN_BLOCK_SIZE } from "../protocol/types.ts";
import { DEFAULT_MARKER } from "../layout/paths.ts";
import { DEFAULT_QUIRK_MEMORY_SEC } from "../server/offers/picky-clients.ts";
import {
  cidrs,
  intArg,
  parseAddressList,
  parseHttpListen,
  parseInterfaces,
  parseMetricsListen,
  parsePortRange,
  parseUmask,
  refusedOptions,
  remapLines,
  secondsArg,
  type Input,
  type Listen,
} from "./values.ts";

export type Kind = "string" | "int" | "seconds" | "boolean" | "enum" | "list";

/** The in.tftpd option that sets a row directly (-B for blksize-max); others are tftpd-options.ts's own. */
export interface TftpdAlias {
  /** The short letter, if in.tftpd has one. */
  short?: string;
  /** in.tftpd's long names (none: the short letter is the only spelling). */
  long: string[];
  hint?: string;
  /** What `in.tftpd --help` says before `(--name)`. */
  help: string;
}

export interface Row<T> {
  kind: Kind;
  help: string;
  hint?: string;
  /** serve's own short flags (-v). */
  alias?: string[];
  negativeHelp?: string;
  /** enum: the accepted words. */
  options?: readonly string[];
  /** The value when no source gives one. Absent: the row must say `optional: true`. */
  default?: T;
  optional?: true;
  /** A SIGHUP applies a change ("live"), or names it as waiting for a restart. */
  applies: "live" | "restart";
  /** The server's (ServerConfig) or the process's around it (logging, user, metrics, …). */
  scope: "server" | "process";
  /** Set: the TOML file may not hold it, for this reason. */
  notInFile?: string;
  /** A string list a flag writes comma-separated and TOML as an array (kept as one setting). */
  commaList?: true;
  tftpd?: TftpdAlias;
  /** The value as a source gave it, typed; a UsageError names the flag (`--port must be …`). */
  parse(value: Input, name: string): T;
}

const scalar = (name: string, v: Input, what: string): string => {
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  throw new UsageError(`--${name} needs ${what}, got '${String(v)}'`);
};
const list = (v: Input): string[] => (Array.isArray(v) ? v : [String(v)]);

const int = (min: number, max: number) => ({ kind: "int" as const, parse: (v: Input, name: string) => intArg(name, v, min, max) });
const seconds = (min: number, max: number) => ({ kind: "seconds" as const, parse: (v: Input, name: string) => secondsArg(name, v, min, max) });
const flag = { kind: "boolean" as const, parse: (v: Input, name: string): boolean => {
  if (typeof v !== "boolean") throw new UsageError(`--${name} is true or false, got '${String(v)}'`);
  return v;
} };
/** A non-empty text (a file, a command, a name). */
const text = (what: string) => ({ kind: "string" as const, parse: (v: Input, name: string): string => {
  const s = scalar(name, v, what);
  if (s.trim() === "") throw new UsageError(`--${name} needs ${what}`);
  return s;
} });
const parsed = <T>(parse: (v: Input, name: string) => T) => ({ kind: "string" as const, parse });
const strings = <T>(parse: (l: string[], name: string) => T) => ({ kind: "list" as const, parse: (v: Input, name: string) => parse(list(v), name) });

/** The tftproot when none is named (every command's). */
export const DEFAULT_ROOT = "/tftp";

/** `--workers auto`: one per core this process may run on, up to this many (memory grows per worker). */
export const AUTO_WORKERS_MAX = 8;

export const ROWS = {
  root: { ...text("a directory (e.g. /srv/tftp)"), hint: "DIR", help: "tftproot to serve (same as DIR)", default: DEFAULT_ROOT, applies: "restart", scope: "server" },
  address: {
    kind: "string",
    parse: (v: Input) => parseAddressList(v),
    commaList: true,
    hint: "ADDR",
    help: "address(es) to listen on, comma-separated (default: all, IPv4 and IPv6)",
    default: [] as string[],
    applies: "restart",
    scope: "server",
  },
  port: { ...int(0, 65535), hint: "PORT", help: "UDP port", default: 69, applies: "restart", scope: "server", tftpd: { short: "S", long: ["port", "service"], hint: "PORT", help: "UDP port, or tftp for 69" } },
  "max-transfers": { ...int(1, 1_000_000), hint: "N", help: "transfers at once; more requests wait in a queue", default: 10000, applies: "restart", scope: "server" },
  "per-client-max": { ...int(0, 1_000_000), hint: "N", help: "transfers one client address may have at once; more get no answer (0: no limit)", default: 64, applies: "live", scope: "server" },
  "per-client-rate": {
    ...int(0, 10_000_000),
    hint: "N",
    help: "new requests one client address may make per second (bursts of twice that); more get no answer (0: no limit)",
    default: 200,
    applies: "live",
    scope: "server",
  },
  "queue-max": { ...int(0, 10_000_000), hint: "N", help: "requests that may wait for a transfer slot", default: 50000, applies: "restart", scope: "server" },
  // Fractions too: tftpd-hpa's -T gives the retransmission timeout in microseconds.
  timeout: { ...seconds(0.01, 255), hint: "SEC", help: "initial retransmission timeout in seconds, 0.01-255 (learned per client after)", default: 1, applies: "live", scope: "server" },
  retries: { ...int(1, 100), hint: "N", help: "retransmissions without progress before a transfer is abandoned", default: 6, applies: "live", scope: "server" },
  "blksize-max": {
    ...int(MIN_BLOCK_SIZE, MAX_BLOCK_SIZE),
    hint: "BYTES",
    help: `largest blksize granted (${MIN_BLOCK_SIZE}-${MAX_BLOCK_SIZE}); not given: ${MAX_BLOCK_SIZE}, capped to what fits the MTU towards each client, given: it stands even where DATA must be fragmented`,
    optional: true,
    applies: "live",
    scope: "server",
    tftpd: { short: "B", long: ["blocksize"], hint: "BYTES", help: "largest blksize" },
  },
  quirks: {
    ...text("a file name"),
    hint: "FILE",
    help: "TOML rules per client CIDR block: blksize-max, windowsize-max, no-options, extra-timeout (re-read on SIGHUP)",
    optional: true,
    applies: "live",
    scope: "server",
  },
  "quirk-memory": {
    ...int(0, 30 * 86_400),
    hint: "SEC",
    help: "how long a client that needed a more conservative offer (picky firmware) is remembered, so its next file starts there (0: not at all)",
    default: DEFAULT_QUIRK_MEMORY_SEC,
    applies: "live",
    scope: "server",
  },
  "windowsize-max": {
    ...int(1, MAX_WINDOW_SIZE),
    hint: "BLOCKS",
    help: `largest windowsize granted (1-${MAX_WINDOW_SIZE})`,
    default: 64,
    applies: "live",
    scope: "server",
    tftpd: { short: "W", long: ["windowsize"], hint: "BLOCKS", help: "largest windowsize" },
  },
  rollover: { kind: "int", parse: (v: Input, name: string) => intArg(name, v, 0, 1) as 0 | 1, hint: "0|1", help: "block number after 65535: 0 or 1", default: 0 as 0 | 1, applies: "live", scope: "server" },
  "cache-mb": { ...int(0, 1_048_576), hint: "MIB", help: "memory for cached file contents, MiB (0 disables)", default: 512, applies: "restart", scope: "server" },
  "rcvbuf-mb": { ...int(1, 2048), hint: "MIB", help: "receive buffer of the request socket, MiB", default: 16, applies: "restart", scope: "server" },
  "log-format": {
    kind: "enum",
    options: ["pretty", "json"] as const,
    parse: (v: Input, name: string): "pretty" | "json" => {
      if (v !== "pretty" && v !== "json") throw new UsageError(`--${name} must be pretty or json, got '${String(v)}'`);
      return v;
    },
    help: "log format",
    default: "pretty" as "pretty" | "json",
    applies: "restart",
    scope: "process",
  },
  verbose: { ...flag, alias: ["v"], help: "log debug details (every miss of the pxelinux config search)", default: false, applies: "restart", scope: "process", tftpd: { short: "v", long: ["verbose"], help: "debug logging" } },
  quiet: { ...flag, alias: ["q"], help: "log only warnings and errors", default: false, applies: "restart", scope: "process", tftpd: { short: "q", long: [], help: "warnings only" } },
  "install-marker": { ...text(`a file name (default ${DEFAULT_MARKER})`), hint: "FILE", help: "file whose complete fetch switches a host back to local boot", default: DEFAULT_MARKER, applies: "restart", scope: "process" },
  "install-once": {
    ...flag,
    help: "remove a host's boot entry after it fetches the install marker",
    negativeHelp: "keep per-host entries when the marker is fetched",
    default: true,
    applies: "restart",
    scope: "process",
  },
  "on-install": { kind: "string", parse: (v: Input, name: string) => scalar(name, v, "a command"), hint: "CMD", help: "command run (not waited for) after a host finished installing", optional: true, applies: "restart", scope: "process" },
  workers: {
    kind: "string",
    parse: (v: Input, name: string): number => {
      if (v === "auto") return Math.max(1, Math.min(AUTO_WORKERS_MAX, availableParallelism()));
      return intArg(name, v, 1, 64);
    },
    hint: "N|auto",
    help: `server processes sharing the port, each client's requests on one of them (auto: one per core, at most ${AUTO_WORKERS_MAX})`,
    default: "auto" as number | "auto",
    applies: "restart",
    scope: "server",
  },
  user: {
    ...text("a user name"),
    hint: "NAME",
    help: "started as root, run as this user once the ports are bound (default: tftp, else nobody; root stays root)",
    optional: true,
    applies: "restart",
    scope: "process",
    tftpd: { short: "u", long: ["user"], hint: "USER", help: "run as this user once bound" },
  },
  group: { ...text("a group name"), hint: "NAME", help: "…and this group (default: the user's primary group)", optional: true, applies: "restart", scope: "process" },
  allow: { ...strings((l, name) => cidrs(name, l)), hint: "CIDR", help: "answer only clients in this address or CIDR block (repeatable)", default: [] as string[], applies: "live", scope: "server" },
  deny: { ...strings((l, name) => cidrs(name, l)), hint: "CIDR", help: "never answer clients in this block (repeatable; wins over --allow)", default: [] as string[], applies: "live", scope: "server" },
  permissive: {
    ...flag,
    help: "also serve files that are not readable by everyone (tftpd-hpa -p)",
    default: false,
    applies: "live",
    scope: "server",
    tftpd: { short: "p", long: ["permissive"], help: "also serve files not readable by everyone" },
  },
  create: { ...flag, help: "accept uploads (WRQ) of new files (tftpd-hpa -c); off, every upload gets ERROR 2", default: false, applies: "restart", scope: "server" },
  writable: {
    ...strings((l) => l.flatMap((d) => d.split(",")).filter(Boolean)),
    hint: "DIR",
    help: "uploads only into this directory of the root, subdirectories too (repeatable; default: anywhere); naming pxelinux.cfg, grub or ipxe opens that boot-control directory to uploads",
    default: [] as string[],
    applies: "restart",
    scope: "server",
  },
  overwrite: { ...flag, help: "uploads may replace existing files (otherwise ERROR 6)", default: false, applies: "restart", scope: "server" },
  "upload-max-mb": { ...int(0, 1_048_576), hint: "MIB", help: "largest upload, MiB (0: no cap)", default: 0, applies: "restart", scope: "server" },
  "port-range": {
    ...parsed((v) => parsePortRange(v)),
    hint: "LOW:HIGH",
    help: "transfer ports from this range, for firewalls (tftpd-hpa -R); each worker takes its share, up to 256 per address, one at random per transfer",
    optional: true,
    applies: "restart",
    scope: "server",
    tftpd: { short: "R", long: ["port-range", "ports"], hint: "LOW:HIGH", help: "transfer ports" },
  },
  "map-file": {
    ...text("a file name"),
    hint: "FILE",
    help: "remap requested names with tftpd-hpa -m rules (re-read on SIGHUP)",
    optional: true,
    applies: "live",
    scope: "server",
    tftpd: { short: "m", long: ["map-file"], hint: "FILE", help: "remap rules" },
  },
  remap: { ...strings((l) => remapLines(l)), hint: "RULE", help: "a remap rule in -m syntax, run before the --map-file rules (repeatable)", default: [] as string[], applies: "live", scope: "server" },
  "strip-prefix": {
    ...parsed((v, name) => {
      const s = scalar(name, v, "an absolute directory");
      if (!s.startsWith("/")) throw new UsageError(`--strip-prefix needs an absolute directory (e.g. /srv/tftp), got '${s}'`);
      return s;
    }),
    hint: "DIR",
    help: "serve '/DIR/FILE' as FILE (clients of an in.tftpd run without -s)",
    optional: true,
    applies: "live",
    scope: "server",
  },
  refuse: {
    ...strings((l) => refusedOptions(l)),
    hint: "OPTION",
    help: "never grant this option: blksize, tsize, timeout, windowsize, rollover (repeatable; tftpd-hpa -r)",
    default: [] as string[],
    applies: "live",
    scope: "server",
    tftpd: { short: "r", long: ["refuse"], hint: "OPTION", help: "never grant this option, repeatable" },
  },
  ipv4: { ...flag, help: "IPv4 only (tftpd-hpa -4)", default: false, applies: "live", scope: "server", tftpd: { short: "4", long: ["ipv4"], help: "IPv4 only" } },
  ipv6: { ...flag, help: "IPv6 only (tftpd-hpa -6)", default: false, applies: "live", scope: "server", tftpd: { short: "6", long: ["ipv6"], help: "IPv6 only" } },
  "drain-timeout": {
    ...int(0, 86_400),
    hint: "SEC",
    help: "on SIGTERM/SIGINT, how long running transfers may finish before they are cut (a second signal cuts at once)",
    default: 30,
    applies: "restart",
    scope: "process",
  },
  pidfile: {
    ...text("a file name (e.g. /run/pxeboot.pid)"),
    hint: "FILE",
    help: "write the process ID here once listening, removed on exit (tftpd-hpa -P)",
    optional: true,
    applies: "restart",
    scope: "process",
    tftpd: { short: "P", long: ["pidfile"], hint: "FILE", help: "write the process ID here" },
  },
  umask: {
    ...parsed((v) => parseUmask(v)),
    hint: "OCTAL",
    help: "umask for the files the server creates (tftpd-hpa -U)",
    optional: true,
    applies: "restart",
    scope: "process",
    tftpd: { short: "U", long: ["umask"], hint: "OCTAL", help: "umask for created files" },
  },
  "defaults-file": {
    ...text("a file name"),
    hint: "FILE",
    help: "read TFTP_USERNAME, TFTP_DIRECTORY, TFTP_ADDRESS, TFTP_OPTIONS from tftpd-hpa's /etc/default/tftpd-hpa",
    optional: true,
    // A source, not a value: a SIGHUP re-reads whichever file the settings name then.
    applies: "live",
    scope: "process",
  },
  metrics: {
    ...parsed((v): Listen => parseMetricsListen(v)),
    hint: "[ADDR:]PORT",
    help: "serve Prometheus metrics at http://ADDR:PORT/metrics (PORT alone: loopback only; 0.0.0.0:9169 exposes it); off by default",
    optional: true,
    applies: "restart",
    scope: "process",
  },
  "metrics-allow": {
    ...strings((l, name) => cidrs(name, l)),
    hint: "CIDR",
    help: "who may read --metrics (repeatable; default: the clients --allow/--deny admit)",
    default: [] as string[],
    applies: "restart",
    scope: "process",
  },
  http: {
    ...parsed((v): Listen => parseHttpListen(v)),
    hint: "[ADDR:]PORT",
    help: "also serve the root over HTTP/1.1 (iPXE, UEFI HTTP Boot) with the same rules, e.g. 8080 (PORT alone: every address); off by default",
    optional: true,
    applies: "restart",
    scope: "process",
  },
  "proxy-dhcp": {
    ...parsed((v) => parseInterfaces(v)),
    hint: "IFACE,…|all",
    help: "answer PXE clients' DHCP on these interfaces with the boot file only (no address: the site's DHCP server keeps giving those), on ports 67 and 4011; all: every IPv4 interface",
    optional: true,
    applies: "restart",
    scope: "process",
  },
  "proxy-dhcp-known-only": { ...flag, help: "with --proxy-dhcp: answer only hosts `pxeboot host add` named by MAC", default: false, applies: "restart", scope: "process" },
  "proxy-dhcp-4011-only": {
    ...flag,
    help: "with --proxy-dhcp: leave port 67 to the site's DHCP server (which then sends option 60 PXEClient) and answer on 4011 only",
    default: false,
    applies: "restart",
    scope: "process",
  },
  config: {
    ...text("a file name"),
    hint: "FILE",
    help: "TOML configuration file (default /etc/pxeboot.toml when it exists); flags override it",
    optional: true,
    notInFile: "a config file cannot name another one",
    applies: "live",
    scope: "process",
  },
} satisfies Record<string, Row<unknown>>;

export type Name = keyof typeof ROWS;
type ValueOf<R> = R extends { parse(v: Input, name: string): infer T } ? (R extends { default: unknown } ? T : T | undefined) : never;
/** The settings, typed: one field per row, as its parser returns it (undefined: an optional row not given). */
export type Typed = { -readonly [K in Name]: ValueOf<(typeof ROWS)[K]> };

export const NAMES = Object.keys(ROWS) as Name[];

export const rowOf = (name: string): Row<unknown> | undefined => (Object.hasOwn(ROWS, name) ? (ROWS as Record<string, Row<unknown>>)[name] : undefined);

/** The repeatable flags (lists in the TOML file, appended to on a command line). */
export const REPEATABLE = NAMES.filter((n) => ROWS[n].kind === "list");

/** Rows the TOML file may not hold, with the reason. */
export const NOT_IN_FILE: Record<string, string> = Object.fromEntries(NAMES.flatMap((n) => { const r: Row<unknown> = ROWS[n]; return r.notInFile ? [[n, r.notInFile]] : []; }));

/** The keys a TOML file may hold. */
export const TOML_KEYS = NAMES.filter((n) => !(n in NOT_IN_FILE));

/** Rows a SIGHUP cannot apply: a change is named as waiting for a restart. */
export const RESTART = new Set<Name>(NAMES.filter((n) => ROWS[n].applies === "restart"));

/** The default of a row, typed (a parser turns "auto" into the worker count). */
export function defaultValue<K extends Name>(name: K): Typed[K] {
  const row: Row<unknown> = ROWS[name];
  return (row.default === undefined ? undefined : row.parse(row.default as Input, name)) as Typed[K];
}

/** Every row at its default. */
export function defaults(): Typed {
  return Object.fromEntries(NAMES.map((n) => [n, defaultValue(n)])) as Typed;
}

/** A default as --help and `config show` write it; undefined where the help text says it. */
export function shownDefault(name: Name): string | undefined {
  const d: unknown = (ROWS[name] as Row<unknown>).default;
  if (d === undefined || d === false || (Array.isArray(d) && d.length === 0)) return undefined;
  return String(d);
}

/** citty's table for `pxeboot serve --help` (and its rejection of unknown flags): DIR, then the rows. */
export function cittyArgs(): ArgsDef {
  const out: ArgsDef = { dir: { type: "positional", description: `tftproot to serve (default ${ROWS.root.default})`, required: false } };
  for (const n of NAMES) {
    const r: Row<unknown> = ROWS[n];
    const def = shownDefault(n);
    const common = { description: r.help, ...(r.hint ? { valueHint: r.hint } : {}) };
    if (r.kind === "boolean")
      out[n] = { type: "boolean", ...common, ...(r.alias ? { alias: r.alias } : {}), ...(r.negativeHelp ? { negativeDescription: r.negativeHelp } : {}), ...(def ? { default: true } : {}) };
    // An enum as a string with its words for a hint: the words are checked by the row's parser
    // (citty's own enum check would exit on its own).
    else if (r.kind === "enum") out[n] = { type: "string", description: r.help, valueHint: r.options!.join("|"), ...(def ? { default: def } : {}) };
    else out[n] = { type: "string", ...common, ...(def ? { default: def } : {}) };
  }
  return out;
}
