/**
 * What a finished transfer is, whichever protocol carried it (TFTP from server/, HTTP from http/):
 * the record logged once per transfer and handed to observers (install-once, hooks, boot records,
 * metrics), and the request events metrics count. Neutral ground: the layers that make records
 * and the ones that read them both import it, so none of them imports another for the types.
 */
import type { TransferMode } from "../protocol/types.ts";

export type TransferOutcome = "ok" | "probe" | "error" | "timeout";

/** One line per finished transfer; also what install-once and hooks observe. */
export interface TransferRecord {
  /** "read" for an RRQ (the server sends), "write" for a WRQ (an upload). */
  direction: "read" | "write";
  /** Client address as a plain IPv4 or IPv6 literal (::ffff: prefix removed). */
  clientAddress: string;
  clientPort: number;
  /** The file as the client named it. */
  requested: string;
  /** The path relative to the root after confinement ("" when refused before that). */
  file: string;
  mode: TransferMode | string;
  /** The negotiated options as sent in the OACK (empty when none). */
  options: Record<string, string>;
  /** Payload bytes acknowledged by the client (a read), or taken into the file (an upload). */
  bytes: number;
  /** Size of the file on the wire (after netascii conversion; an upload's announced tsize); -1 when unknown. */
  size: number;
  durationMs: number;
  outcome: TransferOutcome;
  /** For error/timeout: the reason, as logged. */
  reason?: string;
  /** For error: the TFTP error code sent or received. */
  errorCode?: number;
  retransmits: number;
}

export type TransferObserver = (record: TransferRecord) => void;

/** Request events counted for metrics: once per request, never per datagram of a transfer. */
export interface RequestEvents {
  /** Answered with an ERROR before a transfer began (also ends as a TransferRecord). */
  refused(): void;
  /** The admission queue was full. */
  dropped(): void;
  /** --allow/--deny kept the client out. */
  denied(): void;
  /** The client's address already had --per-client-max transfers. */
  limited(): void;
  /** An ERROR sent from the request socket for a datagram that was no request. */
  answered(code: number): void;
}
