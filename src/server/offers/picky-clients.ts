/**
 * Picky firmware: clients that negotiate options and then choke on them. This ties the read
 * transfers still waiting for their client's first acknowledgement to the per-address memory
 * (quirk-memory.ts): a client that asks again for the same file while the offer is unanswered
 * (from the same port, which dispatch folds, or from a new one) gets a more conservative offer,
 * the step is logged once per client with its reason, and the address starts there next time.
 * One per worker process, like the transfers it watches.
 */
import type { Logger } from "../../log.ts";
import type { SendTransfer } from "../../transfer/send.ts";
import { plainAddress } from "../../records/address.ts";
import { LEVEL_NAMES } from "./ladder.ts";
import { QuirkMemory } from "./quirk-memory.ts";

/**
 * A request repeated sooner than this after the offer went out may have crossed it on the wire
 * (the client's ACK for it may be on its way): only a later repeat says the offer was not taken.
 */
export const REPEAT_GUARD_MS = 500;

export const DEFAULT_QUIRK_MEMORY_SEC = 3600;

interface Tracked {
  peer: string;
  address: string;
  file: string;
  transfer: SendTransfer;
  /** The level of the offer in force now, and when it went out. */
  level: number;
  offeredAt: number;
  /** The most conservative level this request's ladder has. */
  lastLevel: number;
}

export interface Start {
  level: number;
  /** Set when this request itself is the sign of a fallback (the client asked again). */
  reason?: string;
}

export class PickyClients {
  readonly memory = new QuirkMemory();
  log?: Logger;
  private readonly byPeer = new Map<string, Tracked>();
  private readonly byClientFile = new Map<string, Tracked>();

  /**
   * The level a new read request starts at: what the address is known to need, or one past
   * the offer an earlier request of the same client for the same file is still stuck on.
   */
  startLevel(peer: string, address: string, file: string, now: number): Start {
    const known = this.memory.stepFor(address, now);
    const prev = this.byClientFile.get(`${address}|${file}`);
    if (!prev || prev.peer === peer || prev.transfer.outcome || now - prev.offeredAt < REPEAT_GUARD_MS) return { level: known };
    const stage = prev.transfer.stage;
    if (stage === "proven") return { level: known };
    const reason =
      stage === "oack"
        ? "asked again without answering the OACK"
        : `asked again: DATA 1 (blksize ${prev.transfer.options.blockSize}) was never acknowledged`;
    return prev.level + 1 > known ? { level: prev.level + 1, reason } : { level: known };
  }

  /** A read transfer starts at `level` (with `reason` when that was a fallback). */
  track(peer: string, address: string, file: string, transfer: SendTransfer, start: Start, lastLevel: number, now: number, memoryMs: number): void {
    const t: Tracked = { peer, address, file, transfer, level: start.level, offeredAt: now, lastLevel };
    this.byPeer.set(peer, t);
    this.byClientFile.set(`${address}|${file}`, t);
    if (start.reason) this.fellBack(t, start.level, start.reason, now, memoryMs);
  }

  /** The transfer moved to a more conservative offer on its own (its OACK timed out, or asked). */
  fellBack(t: Tracked | string, level: number, reason: string, now: number, memoryMs: number): void {
    const tracked = typeof t === "string" ? this.byPeer.get(t) : t;
    if (!tracked) return;
    tracked.level = level;
    tracked.offeredAt = now;
    if (this.memory.learn(tracked.address, level, reason, tracked.file, now, memoryMs))
      this.log?.info("client falls back to a more conservative offer", {
        client: plainAddress(tracked.address),
        file: tracked.file,
        offer: LEVEL_NAMES[level] ?? String(level),
        reason,
      });
  }

  /**
   * The client repeated its request from the same port (dispatch folds it into the running
   * transfer): if that transfer's OACK is still unanswered, the client never took it. A client
   * that has not answered may be sent more for each repeat (SendTransfer.requestRepeated).
   */
  repeated(peer: string, bytes: number, now: number): void {
    const t = this.byPeer.get(peer);
    if (t && !t.transfer.outcome) t.transfer.requestRepeated(bytes);
    if (!t || t.transfer.outcome || t.transfer.stage !== "oack" || now - t.offeredAt < REPEAT_GUARD_MS) return;
    t.transfer.askFallback("asked again without answering the OACK");
  }

  /**
   * The transfer ended. A client that timed out on DATA it never acknowledged (it drops big
   * datagrams) starts its next request one level down; one that finished at a fallback level
   * keeps it remembered.
   */
  ended(peer: string, now: number, memoryMs: number): void {
    const t = this.byPeer.get(peer);
    if (!t) return;
    this.byPeer.delete(peer);
    const key = `${t.address}|${t.file}`;
    if (this.byClientFile.get(key) === t) this.byClientFile.delete(key);
    const o = t.transfer.outcome;
    if (o?.kind === "ok") this.memory.learn(t.address, t.level, "", t.file, now, memoryMs);
    else if (o?.kind === "timeout" && t.transfer.stage === "data" && t.level < t.lastLevel)
      this.fellBack(t, t.level + 1, `DATA 1 (blksize ${t.transfer.options.blockSize}) was never acknowledged`, now, memoryMs);
  }
}

/** This process's picky-client state; serve gives it the logger. */
export const pickyClients = new PickyClients();

export interface LearnedQuirk {
  client: string;
  offer: string;
  reason: string;
  file: string;
  forgottenInSec: number;
}

/** What this process learned, as `pxeboot quirks` reads it (the metrics endpoint's /quirks). */
export function learnedQuirks(): LearnedQuirk[] {
  const now = performance.now();
  return pickyClients.memory.entries(now).map(([address, e]) => ({
    client: plainAddress(address),
    offer: LEVEL_NAMES[e.step] ?? String(e.step),
    reason: e.reason,
    file: e.file,
    forgottenInSec: Math.round((e.until - now) / 1000),
  }));
}
