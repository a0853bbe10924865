/**
 * `--quirks FILE`: pinned quirks for clients by address, as TOML (parsed like the config file,
 * errors named by file and line):
 *
 *   [[client]]
 *   match = "10.1.2.0/24"      # CIDR block or one address (MAC prefixes are not supported)
 *   blksize-max = 1024         # largest blksize granted
 *   windowsize-max = 1         # largest windowsize granted
 *   no-options = false         # true: no options at all, DATA 1 answers (RFC 1350)
 *   extra-timeout = 2          # seconds added to the retransmission timeout
 */
import { readFileSync } from "node:fs";
import { MAX_BLOCK_SIZE, MAX_WINDOW_SIZE, MIN_BLOCK_SIZE } from "../protocol/types.ts";
import { parseCidr } from "../server/admission/client-filter.ts";
import type { QuirkRule } from "../server/offers/quirk-rules.ts";
import { UsageError } from "./args.ts";
import { parseToml } from "../config/toml.ts";

const KEYS = ["match", "blksize-max", "windowsize-max", "no-options", "extra-timeout"];

export function parseQuirks(text: string, file: string): QuirkRule[] {
  const parsed = parseToml(text, file);
  for (const key of Object.keys(parsed))
    if (key !== "client") throw new UsageError(`${file}: unknown key '${key}' (rules are [[client]] tables with match = "CIDR")`);
  const tables = parsed.client ?? [];
  if (!Array.isArray(tables)) throw new UsageError(`${file}: client must be an array of tables ([[client]])`);
  const lines = text.split("\n");
  let from = 0;
  return tables.map((t, i) => {
    // The line of this rule's [[client]] header, for the messages.
    const at = lines.findIndex((l, n) => n >= from && /^\s*\[\[\s*client\s*\]\]/.test(l));
    from = at + 1;
    const where = `${file}${at >= 0 ? ` line ${at + 1}` : ""}: rule ${i + 1}`;
    const fail = (why: string): never => {
      throw new UsageError(`${where}: ${why}`);
    };
    const r = t as Record<string, unknown>;
    for (const key of Object.keys(r)) if (!KEYS.includes(key)) fail(`unknown key '${key}' (keys: ${KEYS.join(", ")})`);
    if (typeof r.match !== "string") return fail('needs match = "CIDR" (e.g. "10.1.2.0/24")');
    try {
      parseCidr(r.match, "match");
    } catch (err) {
      fail((err as Error).message);
    }
    const int = (key: string, low: number, high: number): number | undefined => {
      const v = r[key];
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !Number.isInteger(v) || v < low || v > high) fail(`${key} must be a whole number from ${low} to ${high}`);
      return v as number;
    };
    const rule: QuirkRule = { match: r.match };
    const blk = int("blksize-max", MIN_BLOCK_SIZE, MAX_BLOCK_SIZE);
    if (blk !== undefined) rule.blockSizeMax = blk;
    const win = int("windowsize-max", 1, MAX_WINDOW_SIZE);
    if (win !== undefined) rule.windowSizeMax = win;
    if (r["no-options"] !== undefined) {
      if (typeof r["no-options"] !== "boolean") fail("no-options must be true or false");
      rule.noOptions = r["no-options"] as boolean;
    }
    const extra = r["extra-timeout"];
    if (extra !== undefined) {
      if (typeof extra !== "number" || !(extra >= 0 && extra <= 255)) fail("extra-timeout must be seconds from 0 to 255");
      rule.extraTimeoutMs = Math.round((extra as number) * 1000);
    }
    return rule;
  });
}

export function readQuirksFile(file: string): QuirkRule[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`--quirks ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseQuirks(text, file);
}

/** The rules as the `pxeboot quirks` listing shows them, one line each. */
export function describeRule(r: QuirkRule): string {
  const parts: string[] = [];
  if (r.noOptions) parts.push("no options (RFC 1350)");
  if (r.blockSizeMax !== undefined) parts.push(`blksize at most ${r.blockSizeMax}`);
  if (r.windowSizeMax !== undefined) parts.push(`windowsize at most ${r.windowSizeMax}`);
  if (r.extraTimeoutMs) parts.push(`timeout +${r.extraTimeoutMs / 1000} s`);
  return `${r.match}: ${parts.join(", ") || "nothing pinned"}`;
}
