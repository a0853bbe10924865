/**
 * The offers one read request may get, most generous first: what the options negotiate to, then
 * the fallback levels (blksize ≤ 1024 without windowsize, then no options) for a client that
 * leaves the OACK unanswered. Each with its OACK encoded, tsize filled in.
 *
 * An empty file gets one offer, no options: DATA 1 with zero bytes answers the request, as from
 * a server that ignores options (RFC 2347). Every OACK upsets some client: a strict one that
 * asked tsize rejects an OACK without it ("not allowed to change options"), curl 7.88 rejects
 * "tsize 0"; every client takes an empty DATA 1, and there is nothing a bigger block or a window
 * would speed up.
 */
import { fallbackRequests, negotiate, withTsize, type Negotiation, type NegotiationLimits } from "../../protocol/options.ts";
import { encodeOack } from "../../protocol/packet.ts";
import type { RawOptions } from "../../protocol/types.ts";
import type { Offer } from "../../transfer/send.ts";

export interface LeveledOffer extends Offer {
  /** 0: as negotiated; 1: blksize ≤ 1024, no windowsize; 2: no options. */
  level: number;
  negotiation: Negotiation;
  /** The OACK's options as sent (for the transfer log); undefined when DATA 1 answers. */
  granted?: RawOptions;
}

export function offerLadder(requested: RawOptions, limits: NegotiationLimits, size: number): LeveledOffer[] {
  const requests = size === 0 ? [{ level: 0, request: new Map() as RawOptions }] : [{ level: 0, request: requested }, ...fallbackRequests(requested)];
  return requests.map(({ level, request }) => {
    const neg = negotiate(request, limits);
    const filled = withTsize(neg.oack, size);
    const granted = filled.size > 0 ? filled : undefined;
    return {
      level,
      negotiation: neg,
      options: neg.options,
      oack: granted ? encodeOack(granted) : undefined,
      granted,
      probeable: neg.wantsTsize && granted !== undefined,
    };
  });
}

/** The first offer at `level` or beyond (the last one when the ladder stops short of it). */
export function startIndex(ladder: LeveledOffer[], level: number): number {
  const i = ladder.findIndex((o) => o.level >= level);
  return i < 0 ? ladder.length - 1 : i;
}

/** How the log names each level. */
export const LEVEL_NAMES = ["as asked", "blksize at most 1024, no windowsize", "no options (RFC 1350)"];
