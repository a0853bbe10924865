/**
 * The value parsers the setting rows use: each takes a value as a source gave it (a flag's
 * text, a TOML number or string) and returns it typed, or throws a UsageError naming the flag
 * (`--port must be …`); the caller restates it for where the value came from (settings.ts blame).
 * A TOML number arrives as a number and is checked as one, never printed and read back.
 */
import { isIP } from "node:net";
import { UsageError } from "../usage-error.ts";
import { parseCidr } from "../server/admission/client-filter.ts";
import { parseRemapRules, RemapSyntaxError, type RemapRule } from "../server/requests/remap.ts";

/** A value as a source gives it: a flag's word, a TOML scalar, a list of words. */
export type Input = string | number | boolean | string[];

const text = (v: Input): string => (Array.isArray(v) ? v.join(",") : String(v)).trim();

/** A whole number within bounds, or the accepted range. */
export function intArg(flag: string, value: unknown, min: number, max: number): number {
  let n: number;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new UsageError(`--${flag} needs a whole number from ${min} to ${max}, got '${value}'`);
    n = value;
  } else {
    const s = String(value ?? "").trim();
    if (!/^-?[0-9]+$/.test(s)) throw new UsageError(`--${flag} needs a whole number from ${min} to ${max}, got '${s}'`);
    n = Number(s);
  }
  if (n < min || n > max) throw new UsageError(`--${flag} must be from ${min} to ${max}, got ${n}`);
  return n;
}

/** Seconds with up to millisecond precision ("1", "0.5", or a TOML 0.5), within bounds. */
export function secondsArg(flag: string, value: unknown, min: number, max: number): number {
  const s = String(value ?? "").trim();
  const exact = typeof value === "number" ? Number.isFinite(value) && Math.round(value * 1000) === value * 1000 : /^[0-9]+(\.[0-9]{1,3})?$/.test(s);
  if (!exact || Number(s) < 0) throw new UsageError(`--${flag} needs seconds from ${min} to ${max} (e.g. 1 or 0.5), got '${s}'`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`--${flag} must be from ${min} to ${max} seconds, got ${n}`);
  return n;
}

export function parsePortRange(value: Input): { low: number; high: number } {
  const t = text(value);
  const m = /^\s*(\d{1,5})\s*:\s*(\d{1,5})\s*$/.exec(t);
  const low = Number(m?.[1]);
  const high = Number(m?.[2]);
  if (!m || low < 1 || high > 65535 || low > high)
    throw new UsageError(`--port-range needs LOW:HIGH with 1 <= LOW <= HIGH <= 65535 (e.g. 50000:50999), got '${t}'`);
  return { low, high };
}

/** "a,b" or a list (brackets allowed around IPv6); empty: none given (every address). */
export function parseAddressList(value: Input): string[] {
  const words = Array.isArray(value) ? value : String(value).split(",");
  const list = words.map((a) => a.trim().replace(/^\[(.*)\]$/, "$1")).filter(Boolean);
  for (const a of list) if (!isIP(a)) throw new UsageError(`--address needs IP addresses (e.g. 0.0.0.0, ::, 192.168.0.1), got '${a}'`);
  return list;
}

/** The options tftpd-hpa's -r accepts. blksize2 and utimeout pxeboot never grants anyway. */
export const REFUSABLE = ["blksize", "blksize2", "tsize", "timeout", "utimeout", "rollover", "windowsize"];

export function refusedOptions(list: string[]): string[] {
  const out = list.flatMap((o) => o.split(",")).map((o) => o.trim().toLowerCase()).filter(Boolean);
  for (const o of out) if (!REFUSABLE.includes(o)) throw new UsageError(`--refuse: unknown option '${o}' (one of ${REFUSABLE.join(", ")})`);
  return [...new Set(out)];
}

/** --allow/--deny/--metrics-allow blocks ("a,b" on a flag splits), each checked. */
export function cidrs(flag: string, list: string[]): string[] {
  const out = list.flatMap((c) => c.split(",")).filter(Boolean);
  for (const c of out) {
    try {
      parseCidr(c, `--${flag}`);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return out;
}

/** Inline remap rules (--remap, in order), parsed; an error names the rule as written. */
export function parseInlineRemap(list: string[]): RemapRule[] {
  return list.flatMap((rule, i) => {
    try {
      return parseRemapRules(rule, i + 1);
    } catch (err) {
      if (err instanceof RemapSyntaxError) throw new UsageError(`--remap '${rule}': ${err.message.replace(/^line \d+: /, "")}`);
      throw err;
    }
  });
}

/** The --remap row: the rules as written, each checked. */
export function remapLines(list: string[]): string[] {
  parseInlineRemap(list);
  return list;
}

export function parseUmask(value: Input): number {
  const t = text(value);
  if (!/^[0-7]{1,4}$/.test(t) || parseInt(t, 8) > 0o777) throw new UsageError(`--umask needs an octal mask from 000 to 777 (e.g. 022), got '${t}'`);
  return parseInt(t, 8);
}

export interface Listen {
  address: string;
  port: number;
}

export const DEFAULT_METRICS_PORT = 9169;

/** `--metrics [ADDR:]PORT`: "9169" (loopback), "0.0.0.0:9169", "[::1]:9169". */
export function parseMetricsListen(value: Input): Listen {
  const t = text(value);
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(t);
  if (!m) throw new UsageError(`--metrics needs [ADDR:]PORT (e.g. ${DEFAULT_METRICS_PORT} or 0.0.0.0:${DEFAULT_METRICS_PORT}), got '${t}'`);
  return { address: m[1] ?? m[2] ?? "127.0.0.1", port: intArg("metrics", m[3]!, 0, 65535) };
}

/** `--http [ADDR:]PORT`: "8080" (every address, IPv6 and IPv4), "10.0.0.1:8080", "[fd00::1]:8080". */
export function parseHttpListen(value: Input): Listen {
  const t = text(value);
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(t);
  if (!m) throw new UsageError(`--http needs [ADDR:]PORT (e.g. 8080 or 10.0.0.1:8080 or [fd00::1]:8080), got '${t}'`);
  return { address: m[1] ?? m[2] ?? "::", port: intArg("http", m[3]!, 0, 65535) };
}

/** "eth0,eth1" or "all" (every IPv4 interface: []); the names are checked against the host at start. */
export function parseInterfaces(value: Input): string[] {
  const t = text(value);
  const names = t === "all" ? [] : t.split(",").map((n) => n.trim());
  if (t === "" || names.some((n) => !/^[A-Za-z0-9_.:@-]{1,15}$/.test(n)))
    throw new UsageError(`--proxy-dhcp needs interface names, comma-separated, or all (e.g. eth0 or eth0,eth1), got '${t}'`);
  return names;
}
