/**
 * The one shape of every transfer state machine: `SendTransfer` (send.ts: the server side of a
 * read) and `ReceiveTransfer` (receive.ts: the client side of a read, and the server side of a
 * write). Sans-I/O: the driver owns the socket, the clock and the timer; the machine owns every
 * protocol decision, so each one is tested with hand-made datagrams and a fake clock.
 *
 * Events in, each with `now` (ms, the driver's monotonic clock):
 *   start · onDatagram (from whoever sent it) · onTimer (the deadline passed) ·
 *   resume (the file side can go on) · cancel (stopped from outside)
 * Actions out, read by the driver after every event:
 *   outbox    datagrams for `peer`, in order: send them, then empty the array
 *   reply     onDatagram's return value: ERROR 5 owed to a stranger, sent back to that sender
 *   deadline  when to call onTimer next; Infinity for never
 *   outcome   set once, when the transfer is over (the outbox may still hold its last datagram)
 *   need data the file side says "not yet" (BlockSource.read returns false, ChunkSink.write or
 *             end returns false) and the machine waits until the driver calls resume, which it
 *             does when the file side's onReady fires
 *
 * Nothing is allocated per datagram on the hot path: the outbox array and the DATA packets in it
 * are reused, so the driver must not keep them past the next event.
 */
import type { TftpError } from "../protocol/errors.ts";

/** A UDP endpoint; for TFTP, a transfer ID (RFC 1350 §4). */
export interface Peer {
  address: string;
  port: number;
}

export interface TransferMachine<Outcome> {
  readonly outbox: Uint8Array[];
  /** Where the outbox goes. A client's peer changes once: from the listening port to the server's TID. */
  readonly peer: Peer;
  readonly deadline: number;
  readonly outcome: Outcome | undefined;

  start(now: number): void;
  /** Returns what to send back to the sender instead (a stranger's ERROR 5), or null. */
  onDatagram(bytes: Uint8Array, port: number, address: string, now: number): Uint8Array | null;
  /** Calling it early is harmless. */
  onTimer(now: number): void;
  resume(now: number): void;
  /** Ends the transfer from outside: `error` goes to the peer, `reason` into the outcome. */
  cancel(error: TftpError, reason: string): void;
}

/**
 * Where a send machine's blocks come from. Kept to what the machine needs, so the pure layer
 * does not depend on files/: its FileSource fits this shape as it is.
 */
export interface BlockSource {
  readonly size: number;
  /**
   * Copies `length` bytes at `position` into `into[offset…]` and returns true, or returns false
   * when they are not in memory yet; then `onReady` fires once something landed.
   * Throws a TftpError when the file can't be read.
   */
  read(into: Uint8Array, offset: number, position: number, length: number): boolean;
  onReady?: () => void;
}

/**
 * Where a receive machine's bytes go, in order. Kept to what the machine needs: a download's
 * callback fits with `write` alone; the server's upload file (files/upload.ts) adds the rest.
 */
export interface ChunkSink {
  /**
   * Takes `chunk` (valid only during the call). `false`: taken, but the sink is behind; the
   * machine holds the ACK that would bring more data until `onReady` fires and `ready` says so.
   * Throws a TftpError when the bytes cannot be stored.
   */
  write(chunk: Uint8Array): boolean | void;
  /** True when held data may flow again; throws the TftpError a background write ran into. */
  ready?(): boolean;
  /**
   * After the last chunk: true once everything is stored, which is when the final ACK goes.
   * False: not yet; `onReady` fires when it is (or failed) and the machine asks again.
   * Throws a TftpError when the file cannot be stored.
   */
  end?(): boolean;
  onReady?: () => void;
}
