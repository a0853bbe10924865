/**
 * What the request port does with one datagram, decided without sockets, files or clocks, so
 * every rule is tested as a table: a new request begins a transfer, waits for a slot, or is
 * dropped when even the queue is full; a client retrying its RRQ gets no second transfer; a
 * request we will not serve is refused with its ERROR; stray or mangled packets are answered or
 * ignored as RFC 1350 says. The server acts on the decision; nothing here acts.
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
  /** The client retransmitted the RRQ (or WRQ) of a transfer that runs or waits: no second transfer. */
  | { action: "fold" }
  | { action: "begin"; request: RequestPacket }
  /** Every slot is busy: wait in the admission queue (a PXE ROM that waits just retries; one refused gives up). */
  | { action: "queue"; request: RequestPacket }
  /** Every slot is busy and the queue is full: the client will retry. */
  | { action: "drop"; request: RequestPacket }
  /**
   * This address already has --per-client-max transfers: no answer. One spoofed or broken source
   * must not take every slot (or make us send to a victim from hundreds of ports).
   */
  | { action: "limit"; request: RequestPacket; why: "transfers" | "rate" };

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
  /** --per-client-rate: counts a new request of `address` and says whether it is within the rate. */
  rateAllows?: (address: string) => boolean;
  /** --allow/--deny; undefined when neither was given. */
  filter?: ClientFilter;
  /** --create: a WRQ begins an upload like an RRQ a read; off, it is refused. */
  uploads?: boolean;
  /**
   * Told of an RRQ repeated while its transfer runs (and its size): how picky firmware says it
   * never took our OACK, and what a client that has not answered yet may be sent more.
   */
  repeated?: (peer: string, bytes: number) => void;
}

/** `peer` names the client's transfer (address and port); `address` is the client's address alone. */
export function dispatch(data: Uint8Array, peer: string, address: string, state: DispatchState): Dispatch {
  if (state.closing) return { action: "ignore" };
  if (state.filter && !state.filter.allows(address)) return { action: "deny" };
  const pkt = decodePacket(data);
  if (isDecodeFailure(pkt)) return { action: "answer", error: malformed(pkt.reason), reason: `malformed request (${pkt.reason})` };
  if (pkt.op === Opcode.ERROR || pkt.op === Opcode.OACK) return { action: "ignore" };
  if (pkt.op === Opcode.DATA || pkt.op === Opcode.ACK) return { action: "answer", error: unknownTid(), reason: "DATA or ACK on the request port" };
  if (pkt.op === Opcode.WRQ && !state.uploads) return { action: "refuse", request: pkt, error: writeRefused() };
  if (pkt.mode !== "octet" && pkt.mode !== "netascii") return { action: "refuse", request: pkt, error: unsupportedMode(pkt.mode) };
  if (state.has(peer)) {
    if (pkt.op === Opcode.RRQ) state.repeated?.(peer, data.length);
    return { action: "fold" };
  }
  if (state.perClientMax && (state.transfersOf?.(address) ?? 0) >= state.perClientMax) return { action: "limit", request: pkt, why: "transfers" };
  if (state.rateAllows && !state.rateAllows(address)) return { action: "limit", request: pkt, why: "rate" };
  if (state.active < state.slotLimit) return { action: "begin", request: pkt };
  return state.queueFull ? { action: "drop", request: pkt } : { action: "queue", request: pkt };
}
