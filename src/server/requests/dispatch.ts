/**
 * What the request port does with one datagram, decided without sockets, files or clocks, so
 * every rule is tested as a table: a new request begins a transfer, waits for a slot, or is
 * dropped when even the queue is full; a client retrying its RRQ gets no second transfer; a
 * request we will not serve is refused with its ERROR; stray or mangled packets are answered or
 * ignored as RFC 1350 says. The time comes in as `now`, and what the decision changes is in it
 * as data (the --per-client-rate token taken, the repeated RRQ picky-client tracking is told of):
 * the server acts on the decision; nothing here acts or changes anything.
 */
import { malformed, unknownTid, unsupportedMode, writeRefused, type TftpError } from "../../protocol/errors.ts";
import { decodePacket, isDecodeFailure } from "../../protocol/packet.ts";
import { Opcode, type RequestPacket } from "../../protocol/types.ts";
import type { ClientFilter } from "../admission/client-filter.ts";

export type Dispatch =
  /** Nothing to do: an ERROR or OACK (never answer an error), or the server is closing. */
  | { action: "ignore" }
  /** From an address --allow/--deny shuts out: no answer, which would confirm a server is here. */
  | { action: "deny" }
  /** Answer with this ERROR; no transfer existed, so nothing is logged as one (floods stay cheap). */
  | { action: "answer"; error: TftpError; reason: string }
  /** A request we will not serve: ERROR to the client, and logged as a failed transfer. */
  | { action: "refuse"; request: RequestPacket; error: TftpError }
  /**
   * The client retransmitted the RRQ (or WRQ) of a transfer that runs or waits: no second
   * transfer. For an RRQ, `repeat` says so (and its size): how picky firmware says it never took
   * our OACK, and what a client that has not answered yet may be sent more.
   */
  | { action: "fold"; repeat?: Repeat }
  /**
   * Admitted: begin now, wait in the admission queue for a slot (a PXE ROM that waits just
   * retries; one refused gives up), or dropped when the queue is full too (the client will
   * retry). `token`: one --per-client-rate token of the client's address is spent on it (false
   * when there is no rate limit).
   */
  | { action: "begin" | "queue" | "drop"; request: RequestPacket; token: boolean }
  /**
   * Over --per-client-max (the address already has that many transfers) or --per-client-rate
   * (its bucket has no token at `now`): no answer. One spoofed or broken source must not take
   * every slot (or make us send to a victim from hundreds of ports).
   */
  | { action: "limit"; request: RequestPacket; why: "transfers" | "rate" };

/** An RRQ repeated from the port of a transfer that runs or waits. */
export interface Repeat {
  peer: string;
  /** The repeated request datagram's size. */
  bytes: number;
}

/** What dispatch may know of the server's state. */
export interface DispatchState {
  closing: boolean;
  /** A transfer (running, opening or queued) exists for this client address and port. */
  has(peer: string): boolean;
  active: number;
  /** Transfers allowed at once now (lowered while descriptors are short). */
  slotLimit: number;
  queueFull: boolean;
  /** Transfers running or opening for one client address, and how many one address may have (0: no limit). */
  transfersOf?: (address: string) => number;
  perClientMax?: number;
  /**
   * --per-client-rate: whether `address` has a token at `now`. Only looked at: the decision says
   * whether one is spent (TokenBuckets.has, then allow when the server carries it out).
   */
  hasToken?: (address: string, now: number) => boolean;
  /** --allow/--deny; undefined when neither was given. */
  filter?: ClientFilter;
  /** --create: a WRQ begins an upload like an RRQ a read; off, it is refused. */
  uploads?: boolean;
}

/**
 * `peer` names the client's transfer (address and port); `address` is the client's address alone;
 * `now` is when the datagram came (monotonic ms).
 */
export function dispatch(data: Uint8Array, peer: string, address: string, state: DispatchState, now: number): Dispatch {
  if (state.closing) return { action: "ignore" };
  if (state.filter && !state.filter.allows(address)) return { action: "deny" };
  const pkt = decodePacket(data);
  if (isDecodeFailure(pkt)) return { action: "answer", error: malformed(pkt.reason), reason: `malformed request (${pkt.reason})` };
  if (pkt.op === Opcode.ERROR || pkt.op === Opcode.OACK) return { action: "ignore" };
  if (pkt.op === Opcode.DATA || pkt.op === Opcode.ACK) return { action: "answer", error: unknownTid(), reason: "DATA or ACK on the request port" };
  if (pkt.op === Opcode.WRQ && !state.uploads) return { action: "refuse", request: pkt, error: writeRefused() };
  if (pkt.mode !== "octet" && pkt.mode !== "netascii") return { action: "refuse", request: pkt, error: unsupportedMode(pkt.mode) };
  if (state.has(peer)) return pkt.op === Opcode.RRQ ? { action: "fold", repeat: { peer, bytes: data.length } } : { action: "fold" };
  if (state.perClientMax && (state.transfersOf?.(address) ?? 0) >= state.perClientMax) return { action: "limit", request: pkt, why: "transfers" };
  const token = state.hasToken !== undefined;
  if (token && !state.hasToken!(address, now)) return { action: "limit", request: pkt, why: "rate" };
  const action = state.active < state.slotLimit ? "begin" : state.queueFull ? "drop" : "queue";
  return { action, request: pkt, token };
}
