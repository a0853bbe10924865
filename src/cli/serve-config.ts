/**
 * Turns `pxeboot serve` flags into a validated ServerConfig, once, so nothing downstream
 * re-parses strings. Every bad value becomes a UsageError naming the flag and the range.
 */
import type { ArgsDef } from "citty";
import { availableParallelism } from "node:os";
import { intArg, repeatedFlag, secondsArg, UsageError } from "./args.ts";
import { readQuirksFile } from "./quirks-file.ts";
import { uploadConfig } from "./upload-config.ts";
import { compatConfig, familyDeny, listenAddresses } from "./compat-config.ts";
import { parseCidr } from "../server/admission/client-filter.ts";
import type { ServerConfig } from "../server/types.ts";
import { MAX_BLOCK_SIZE, MAX_WINDOW_SIZE, MIN_BLOCK_SIZE } from "../protocol/types.ts";
import { DEFAULT_MARKER } from "../layout/paths.ts";

export const serveArgs = {
  dir: { type: "positional", description: "tftproot to serve (default /tftp)", required: false },
  root: { type: "string", description: "tftproot to serve (same as DIR)", valueHint: "DIR" },
  address: {
    type: "string",
    description: "address(es) to listen on, comma-separated (default: all, IPv4 and IPv6)",
    valueHint: "ADDR",
  },
  port: { type: "string", valueHint: "PORT", description: "UDP port", default: "69" },
  "max-transfers": { type: "string", valueHint: "N", description: "transfers at once; more requests wait in a queue", default: "10000" },
  "per-client-max": {
    type: "string",
    valueHint: "N",
    description: "transfers one client address may have at once; more get no answer (0: no limit)",
    default: "64",
  },
  "per-client-rate": {
    type: "string",
    valueHint: "N",
    description: "new requests one client address may make per second (bursts of twice that); more get no answer (0: no limit)",
    default: "200",
  },
  "queue-max": { type: "string", valueHint: "N", description: "requests that may wait for a transfer slot", default: "50000" },
  timeout: { type: "string", valueHint: "SEC", description: "initial retransmission timeout in seconds, 0.01-255 (learned per client after)", default: "1" },
  retries: { type: "string", valueHint: "N", description: "retransmissions without progress before a transfer is abandoned", default: "6" },
  "blksize-max": {
    type: "string",
    valueHint: "BYTES",
    description: `largest blksize granted (${MIN_BLOCK_SIZE}-${MAX_BLOCK_SIZE}); not given: ${MAX_BLOCK_SIZE}, capped to what fits the MTU towards each client, given: it stands even where DATA must be fragmented`,
  },
  quirks: {
    type: "string",
    valueHint: "FILE",
    description: "TOML rules per client CIDR block: blksize-max, windowsize-max, no-options, extra-timeout (re-read on SIGHUP)",
  },
  "quirk-memory": {
    type: "string",
    valueHint: "SEC",
    description: "how long a client that needed a more conservative offer (picky firmware) is remembered, so its next file starts there (0: not at all)",
    default: "3600",
  },
  "windowsize-max": { type: "string", valueHint: "BLOCKS", description: `largest windowsize granted (1-${MAX_WINDOW_SIZE})`, default: "64" },
  rollover: { type: "string", valueHint: "0|1", description: "block number after 65535: 0 or 1", default: "0" },
  "cache-mb": { type: "string", valueHint: "MIB", description: "memory for cached file contents, MiB (0 disables)", default: "512" },
  "rcvbuf-mb": { type: "string", valueHint: "MIB", description: "receive buffer of the request socket, MiB", default: "16" },
  "log-format": { type: "enum", options: ["pretty", "json"], description: "log format", default: "pretty" },
  verbose: { type: "boolean", alias: ["v"], description: "log debug details (every miss of the pxelinux config search)" },
  quiet: { type: "boolean", alias: ["q"], description: "log only warnings and errors" },
  "install-marker": { type: "string", valueHint: "FILE", description: "file whose complete fetch switches a host back to local boot", default: DEFAULT_MARKER },
  "install-once": { type: "boolean", description: "remove a host's boot entry after it fetches the install marker", default: true, negativeDescription: "keep per-host entries when the marker is fetched" },
  "on-install": { type: "string", description: "command run (not waited for) after a host finished installing", valueHint: "CMD" },
  workers: { type: "string", valueHint: "N|auto", description: "server processes sharing the port, each client's requests on one of them (auto: one per core, at most 8)", default: "auto" },
  user: {
    type: "string",
    description: "started as root, run as this user once the ports are bound (default: tftp, else nobody; root stays root)",
    valueHint: "NAME",
  },
  group: { type: "string", description: "…and this group (default: the user's primary group)", valueHint: "NAME" },
  allow: { type: "string", description: "answer only clients in this address or CIDR block (repeatable)", valueHint: "CIDR" },
  deny: { type: "string", description: "never answer clients in this block (repeatable; wins over --allow)", valueHint: "CIDR" },
  permissive: { type: "boolean", description: "also serve files that are not readable by everyone (tftpd-hpa -p)" },
  create: { type: "boolean", description: "accept uploads (WRQ) of new files (tftpd-hpa -c); off, every upload gets ERROR 2" },
  writable: { type: "string", valueHint: "DIR", description: "uploads only into this directory of the root, subdirectories too (repeatable; default: anywhere); naming pxelinux.cfg, grub or ipxe opens that boot-control directory to uploads" },
  overwrite: { type: "boolean", description: "uploads may replace existing files (otherwise ERROR 6)" },
  "upload-max-mb": { type: "string", valueHint: "MIB", description: "largest upload, MiB (0: no cap)" },
  "port-range": { type: "string", valueHint: "LOW:HIGH", description: "transfer ports from this range, for firewalls (tftpd-hpa -R); each worker takes its share, up to 256 per address, one at random per transfer" },
  "map-file": { type: "string", valueHint: "FILE", description: "remap requested names with tftpd-hpa -m rules (re-read on SIGHUP)" },
  remap: { type: "string", valueHint: "RULE", description: "a remap rule in -m syntax, run before the --map-file rules (repeatable)" },
  "strip-prefix": { type: "string", valueHint: "DIR", description: "serve '/DIR/FILE' as FILE (clients of an in.tftpd run without -s)" },
  refuse: { type: "string", valueHint: "OPTION", description: "never grant this option: blksize, tsize, timeout, windowsize, rollover (repeatable; tftpd-hpa -r)" },
  ipv4: { type: "boolean", description: "IPv4 only (tftpd-hpa -4)" },
  ipv6: { type: "boolean", description: "IPv6 only (tftpd-hpa -6)" },
  "drain-timeout": {
    type: "string",
    valueHint: "SEC",
    description: "on SIGTERM/SIGINT, how long running transfers may finish before they are cut (a second signal cuts at once)",
    default: "30",
  },
  pidfile: { type: "string", valueHint: "FILE", description: "write the process ID here once listening, removed on exit (tftpd-hpa -P)" },
  umask: { type: "string", valueHint: "OCTAL", description: "umask for the files the server creates (tftpd-hpa -U)" },
  "defaults-file": { type: "string", valueHint: "FILE", description: "read TFTP_USERNAME, TFTP_DIRECTORY, TFTP_ADDRESS, TFTP_OPTIONS from tftpd-hpa's /etc/default/tftpd-hpa" },
  metrics: {
    type: "string",
    valueHint: "[ADDR:]PORT",
    description: "serve Prometheus metrics at http://ADDR:PORT/metrics (PORT alone: loopback only; 0.0.0.0:9169 exposes it); off by default",
  },
  "metrics-allow": {
    type: "string",
    valueHint: "CIDR",
    description: "who may read --metrics (repeatable; default: the clients --allow/--deny admit)",
  },
  http: {
    type: "string",
    valueHint: "[ADDR:]PORT",
    description: "also serve the root over HTTP/1.1 (iPXE, UEFI HTTP Boot) with the same rules, e.g. 8080 (PORT alone: every address); off by default",
  },
  "proxy-dhcp": {
    type: "string",
    valueHint: "IFACE,…|all",
    description: "answer PXE clients' DHCP on these interfaces with the boot file only (no address: the site's DHCP server keeps giving those), on ports 67 and 4011; all: every IPv4 interface",
  },
  "proxy-dhcp-known-only": { type: "boolean", description: "with --proxy-dhcp: answer only hosts `pxeboot host add` named by MAC" },
  "proxy-dhcp-4011-only": {
    type: "boolean",
    description: "with --proxy-dhcp: leave port 67 to the site's DHCP server (which then sends option 60 PXEClient) and answer on 4011 only",
  },
  config: { type: "string", valueHint: "FILE", description: "TOML configuration file (default /etc/pxeboot.toml when it exists); flags override it" },
} satisfies ArgsDef;

/** Flags read as a comma-separated list, so a file may write them as a string or an array. */
export const COMMA_LISTS = ["address"];

/** Flags that may be given more than once (lists in the config file); citty would keep only the last. */
export const REPEATABLE = ["allow", "deny", "writable", "refuse", "remap", "metrics-allow"];

export interface ServeArgs {
  dir?: string;
  root?: string;
  address?: string;
  port: string;
  "max-transfers": string;
  "per-client-max"?: string;
  "per-client-rate"?: string;
  "queue-max": string;
  timeout: string;
  retries: string;
  "blksize-max"?: string;
  "windowsize-max": string;
  "quirk-memory"?: string;
  quirks?: string;
  rollover: string;
  "cache-mb": string;
  "rcvbuf-mb": string;
  workers?: string;
  permissive?: boolean;
  create?: boolean;
  writable?: string;
  overwrite?: boolean;
  "upload-max-mb"?: string;
  "port-range"?: string;
  "map-file"?: string;
  "strip-prefix"?: string;
  ipv4?: boolean;
  ipv6?: boolean;
}

/** `--workers auto`: one per core this process may run on, up to this many (memory grows per worker). */
export const AUTO_WORKERS_MAX = 8;

export function workerCount(args: ServeArgs): number {
  const w = args.workers ?? "auto";
  if (w === "auto") return Math.max(1, Math.min(AUTO_WORKERS_MAX, availableParallelism()));
  return intArg("workers", w, 1, 64);
}

/** A flag's default, as written in its row: the one place a default is written. */
export function defaultOf(name: keyof typeof serveArgs): string {
  const def = serveArgs[name] as { default?: unknown };
  return String(def.default);
}

/** The flag defaults as a ServeArgs, for callers (demo, tests) that start from them. */
export function serveDefaults(): ServeArgs {
  const out: Record<string, string> = {};
  for (const [name, def] of Object.entries(serveArgs)) if ("default" in def && typeof def.default === "string") out[name] = def.default;
  return out as unknown as ServeArgs;
}

/** --allow/--deny (--metrics-allow) blocks, checked here so a typo is a usage error, not a start-up crash. */
export function cidrList(rawArgs: string[], flag: "allow" | "deny" | "metrics-allow"): string[] {
  const list = repeatedFlag(rawArgs, [flag], "192.168.0.0/24");
  for (const c of list) {
    try {
      parseCidr(c, `--${flag}`);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return list;
}

/**
 * The setting each field of ServerConfig comes from, as a user writes it (flag and TOML key), so
 * a reload says `changed=blksize-max`, not the field's name. Typed over every field: a new field
 * without a name here does not compile.
 */
export const SETTING_OF: Record<keyof ServerConfig, string> = {
  root: "root",
  // --ipv4/--ipv6 choose the addresses too when none is given: a change of either waits with them.
  addresses: "address/ipv4/ipv6",
  port: "port",
  maxTransfers: "max-transfers",
  queueMax: "queue-max",
  timeoutMs: "timeout",
  timeoutMaxMs: "timeout",
  rtoMinMs: "timeout",
  retries: "retries",
  blockSizeMax: "blksize-max",
  blockSizeMaxExplicit: "blksize-max",
  windowSizeMax: "windowsize-max",
  rollover: "rollover",
  quirkMemorySec: "quirk-memory",
  quirks: "quirks",
  cacheBytes: "cache-mb",
  receiveBufferBytes: "rcvbuf-mb",
  perClientMax: "per-client-max",
  perClientRate: "per-client-rate",
  allow: "allow",
  deny: "deny",
  permissive: "permissive",
  create: "create",
  writable: "writable",
  overwrite: "overwrite",
  uploadMaxBytes: "upload-max-mb",
  reusePort: "workers",
  portRange: "port-range",
  processes: "workers",
  remap: "remap",
  stripPrefix: "strip-prefix",
  refuse: "refuse",
};

/** Field names as settings, each once, in the order given. */
export const settingNames = (fields: string[]): string[] => [...new Set(fields.map((f) => SETTING_OF[f as keyof ServerConfig] ?? f))];

/** `rawArgs`: the command line as given, for the repeatable flags citty would keep only once. */
export function serveConfig(args: ServeArgs, rawArgs: string[] = []): ServerConfig {
  if (args.dir && args.root && args.dir !== args.root)
    throw new UsageError(`two roots given ('${args.dir}' and --root '${args.root}'); pass one`);
  // Fractions too: tftpd-hpa's -T gives the retransmission timeout in microseconds.
  const timeoutSec = secondsArg("timeout", args.timeout, 0.01, 255);
  return {
    root: args.root ?? args.dir ?? "/tftp",
    addresses: listenAddresses(args),
    port: intArg("port", args.port, 0, 65535),
    maxTransfers: intArg("max-transfers", args["max-transfers"], 1, 1_000_000),
    perClientMax: intArg("per-client-max", args["per-client-max"] ?? defaultOf("per-client-max"), 0, 1_000_000),
    perClientRate: intArg("per-client-rate", args["per-client-rate"] ?? defaultOf("per-client-rate"), 0, 10_000_000),
    queueMax: intArg("queue-max", args["queue-max"], 0, 10_000_000),
    timeoutMs: Math.round(timeoutSec * 1000),
    timeoutMaxMs: Math.max(5000, Math.round(timeoutSec * 1000)),
    // Linux TCP's RTO_MIN: a PXE ROM or a loaded host can take tens of ms to answer a block, and
    // a floor of 20 ms resent to them (atftp's 200-client test: 3-21 needless resends a run at
    // 20 ms, none at 200); a 2 % loss storm still ends in 0.18× tftpd-hpa's time (RESULTS.md).
    rtoMinMs: 200,
    retries: intArg("retries", args.retries, 1, 100),
    blockSizeMax: intArg("blksize-max", args["blksize-max"] ?? String(MAX_BLOCK_SIZE), MIN_BLOCK_SIZE, MAX_BLOCK_SIZE),
    blockSizeMaxExplicit: args["blksize-max"] !== undefined,
    windowSizeMax: intArg("windowsize-max", args["windowsize-max"], 1, MAX_WINDOW_SIZE),
    quirks: args.quirks ? readQuirksFile(args.quirks) : undefined,
    quirkMemorySec: intArg("quirk-memory", args["quirk-memory"] ?? defaultOf("quirk-memory"), 0, 30 * 86_400),
    rollover: intArg("rollover", args.rollover, 0, 1) as 0 | 1,
    cacheBytes: intArg("cache-mb", args["cache-mb"], 0, 1_048_576) * 1024 * 1024,
    receiveBufferBytes: intArg("rcvbuf-mb", args["rcvbuf-mb"], 1, 2048) * 1024 * 1024,
    reusePort: workerCount(args) > 1,
    processes: workerCount(args),
    permissive: !!args.permissive,
    allow: cidrList(rawArgs, "allow"),
    deny: [...cidrList(rawArgs, "deny"), ...familyDeny(args)],
    ...compatConfig(args, rawArgs),
    ...uploadConfig(args, rawArgs, args.root ?? args.dir ?? "/tftp"),
  };
}
