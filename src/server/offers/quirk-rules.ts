/**
 * Pinned quirks (--quirks FILE): for clients in a CIDR block, what the server never offers them,
 * whatever they ask and whatever it learned. The most specific block that holds the client wins.
 * MAC prefixes are not matched: the server layer does not read the ARP table (src/layout does),
 * so a rule names the client's addresses.
 */
import { addressBytes, contains, parseCidr, type Block } from "../admission/client-filter.ts";

export interface QuirkRule {
  /** "10.1.2.0/24", "fd00::/64", or one address. */
  match: string;
  /** Largest blksize granted to these clients. */
  blockSizeMax?: number;
  /** Largest windowsize granted. */
  windowSizeMax?: number;
  /** Grant no options at all: DATA 1 answers every request (RFC 1350). */
  noOptions?: boolean;
  /** Added to the retransmission timeout and its floor, ms: for firmware that answers slowly. */
  extraTimeoutMs?: number;
}

export interface QuirkRules {
  ruleFor(address: string): QuirkRule | undefined;
}

/** Throws with the rule's block named when it is not a CIDR block. */
export function compileQuirkRules(rules: QuirkRule[]): QuirkRules {
  const compiled: { block: Block; rule: QuirkRule }[] = rules.map((rule) => ({ block: parseCidr(rule.match, "a quirks rule's match"), rule }));
  compiled.sort((a, b) => b.block.bits - a.block.bits);
  const seen = new Map<string, QuirkRule | undefined>();
  return {
    ruleFor(address) {
      if (compiled.length === 0) return undefined;
      if (seen.has(address)) return seen.get(address);
      const bytes = addressBytes(address);
      const rule = bytes ? compiled.find((c) => contains(c.block, bytes))?.rule : undefined;
      if (seen.size >= 65536) seen.clear();
      seen.set(address, rule);
      return rule;
    },
  };
}

/** The same rules compiled once per list (the config object is replaced on SIGHUP, and with it the list). */
const cache = new WeakMap<QuirkRule[], QuirkRules>();
export function quirkRulesOf(rules: QuirkRule[] | undefined): QuirkRules | undefined {
  if (!rules || rules.length === 0) return undefined;
  let c = cache.get(rules);
  if (!c) cache.set(rules, (c = compileQuirkRules(rules)));
  return c;
}
