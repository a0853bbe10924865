/**
 * The serve flags that came with tftpd-hpa compatibility (--port-range, --map-file, --remap,
 * --strip-prefix, --refuse, --ipv4/--ipv6, a fractional --timeout) as ServerConfig fields,
 * validated: each a usage error naming the fix, never a surprise at the first request.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { parseRemapRules, RemapSyntaxError, type RemapRule } from "../server/requests/remap.ts";
import type { ServerConfig } from "../server/types.ts";
import { UsageError } from "./args.ts";
import type { Typed } from "../config/schema.ts";
import { parseInlineRemap } from "../config/values.ts";
import { at, type Validated } from "../config/validate.ts";

export type CompatValues = Pick<Typed, "address" | "ipv4" | "ipv6">;

export type CompatConfig = Pick<ServerConfig, "portRange" | "remap" | "stripPrefix" | "refuse">;

/** --address, narrowed by --ipv4 / --ipv6 (tftpd-hpa's -4 / -6); none given: "::", both families. */
export function listenAddresses(v: CompatValues): string[] {
  const family = v.ipv4 ? 4 : v.ipv6 ? 6 : undefined;
  if (v.address.length === 0) return [family === 4 ? "0.0.0.0" : "::"];
  if (!family) return v.address;
  for (const a of v.address) if (isIP(a) !== family) throw new UsageError(`--ipv${family}: --address ${a} is not an IPv${family} address`);
  return v.address;
}

/** --ipv6 listens on "::", where IPv4 clients arrive too (as ::ffff:a.b.c.d): they go unanswered. */
export function familyDeny(v: Pick<Typed, "ipv6">): string[] {
  return v.ipv6 ? ["0.0.0.0/0"] : [];
}

/** The inline --remap rules, then the --map-file rules, parsed; every error names the rule's line. */
export function loadRemapRules(mapFile: string | undefined, inline: string[]): RemapRule[] {
  const rules = parseInlineRemap(inline);
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

export function compatConfig(v: Validated): CompatConfig {
  const { values } = v;
  const out: CompatConfig = {};
  if (values["port-range"] !== undefined) out.portRange = values["port-range"];
  // The inline rules were checked as their row; a map file's error names where map-file was set.
  const remap = at(v, "map-file", () => loadRemapRules(values["map-file"], values.remap));
  if (remap.length > 0) out.remap = remap;
  if (values["strip-prefix"] !== undefined) out.stripPrefix = values["strip-prefix"];
  if (values.refuse.length > 0) out.refuse = values.refuse;
  return out;
}
