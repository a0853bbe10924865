/**
 * The serve flags that came with tftpd-hpa compatibility (--port-range, --map-file, --remap,
 * --strip-prefix, --refuse, --ipv4/--ipv6, a fractional --timeout) as ServerConfig fields,
 * validated: each a usage error naming the fix, never a surprise at the first request.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { parseRemapRules, RemapSyntaxError, type RemapRule } from "../server/requests/remap.ts";
import type { ServerConfig } from "../server/types.ts";
import { repeatedFlag, UsageError } from "./args.ts";

export interface CompatArgs {
  address?: string;
  "port-range"?: string;
  "map-file"?: string;
  "strip-prefix"?: string;
  ipv4?: boolean;
  ipv6?: boolean;
}

export type CompatConfig = Pick<ServerConfig, "portRange" | "remap" | "stripPrefix" | "refuse">;

export function parsePortRange(text: string): { low: number; high: number } {
  const m = /^\s*(\d{1,5})\s*:\s*(\d{1,5})\s*$/.exec(text);
  const low = Number(m?.[1]);
  const high = Number(m?.[2]);
  if (!m || low < 1 || high > 65535 || low > high)
    throw new UsageError(`--port-range needs LOW:HIGH with 1 <= LOW <= HIGH <= 65535 (e.g. 50000:50999), got '${text}'`);
  return { low, high };
}

/** "a,b" (brackets allowed around IPv6); empty: "::", every address of both families. */
export function parseAddresses(value: string | undefined): string[] {
  if (value === undefined || value === "") return ["::"];
  const list = value.split(",").map((a) => a.trim().replace(/^\[(.*)\]$/, "$1")).filter(Boolean);
  for (const a of list) if (!isIP(a)) throw new UsageError(`--address needs IP addresses (e.g. 0.0.0.0, ::, 192.168.0.1), got '${a}'`);
  return list;
}

/** --address, narrowed by --ipv4 / --ipv6 (tftpd-hpa's -4 / -6). */
export function listenAddresses(args: CompatArgs): string[] {
  if (args.ipv4 && args.ipv6) throw new UsageError("--ipv4 and --ipv6 together leave no address family: give one, or neither for both");
  const family = args.ipv4 ? 4 : args.ipv6 ? 6 : undefined;
  if (!family) return parseAddresses(args.address);
  if (!args.address) return [family === 4 ? "0.0.0.0" : "::"];
  const list = parseAddresses(args.address);
  for (const a of list) if (isIP(a) !== family) throw new UsageError(`--ipv${family}: --address ${a} is not an IPv${family} address`);
  return list;
}

/** --ipv6 listens on "::", where IPv4 clients arrive too (as ::ffff:a.b.c.d): they go unanswered. */
export function familyDeny(args: CompatArgs): string[] {
  return args.ipv6 ? ["0.0.0.0/0"] : [];
}

/** The options tftpd-hpa's -r accepts. blksize2 and utimeout pxeboot never grants anyway. */
export const REFUSABLE = ["blksize", "blksize2", "tsize", "timeout", "utimeout", "rollover", "windowsize"];

export function refusedOptions(list: string[]): string[] {
  const out = list.map((o) => o.trim().toLowerCase());
  for (const o of out) if (!REFUSABLE.includes(o)) throw new UsageError(`--refuse: unknown option '${o}' (one of ${REFUSABLE.join(", ")})`);
  return [...new Set(out)];
}

/** The inline --remap rules, then the --map-file rules, parsed; every error names the rule's line. */
export function loadRemapRules(mapFile: string | undefined, inline: string[]): RemapRule[] {
  const rules: RemapRule[] = [];
  inline.forEach((rule, i) => {
    try {
      rules.push(...parseRemapRules(rule, i + 1));
    } catch (err) {
      if (err instanceof RemapSyntaxError) throw new UsageError(`--remap '${rule}': ${err.message.replace(/^line \d+: /, "")}`);
      throw err;
    }
  });
  if (mapFile === undefined) return rules;
  let text: string;
  try {
    text = readFileSync(mapFile, "latin1");
  } catch (err) {
    throw new UsageError(`--map-file ${mapFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return [...rules, ...parseRemapRules(text)];
  } catch (err) {
    if (err instanceof RemapSyntaxError) throw new UsageError(`--map-file ${mapFile} ${err.message}`);
    throw err;
  }
}

export function compatConfig(args: CompatArgs, rawArgs: string[]): CompatConfig {
  const out: CompatConfig = {};
  if (args["port-range"] !== undefined) out.portRange = parsePortRange(args["port-range"]);
  const remap = loadRemapRules(args["map-file"], repeatedFlag(rawArgs, ["remap"], "'rg \\\\ /'", false));
  if (remap.length > 0) out.remap = remap;
  if (args["strip-prefix"] !== undefined) {
    if (!args["strip-prefix"].startsWith("/")) throw new UsageError(`--strip-prefix needs an absolute directory (e.g. /srv/tftp), got '${args["strip-prefix"]}'`);
    out.stripPrefix = args["strip-prefix"];
  }
  const refuse = refusedOptions(repeatedFlag(rawArgs, ["refuse"], "blksize"));
  if (refuse.length > 0) out.refuse = refuse;
  return out;
}
