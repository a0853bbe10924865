/**
 * A scripted TFTP read client over Bun.udpSocket that misbehaves on purpose, the way picky
 * firmware does: it may leave an OACK unanswered (by a rule), drop every datagram larger than
 * some size, and, when a download stalls, ask again from the same port or start over from a new
 * one. Not pxeboot's own client: the point is to behave like firmware, not like a good client.
 */
import type { udp } from "bun";
import { decodePacket, encodeAck, encodeRequest, isDecodeFailure } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";

export interface PickyBehaviour {
  /** The address the client sends from (a 127.0.0.X of its own, so each test has its own memory entry). */
  from: string;
  options: Record<string, string>;
  /** Answer this OACK? (false: ignore it, as if it never came). */
  takesOack(options: Map<string, string>): boolean;
  /** Datagrams larger than this never reach the client (a link or NIC that drops them). */
  dropAbove?: number;
  /** Waits this long for the next datagram before acting (ms). */
  timeoutMs: number;
  /** After this many timeouts in a row, start over from a new port; until then repeat the RRQ (or the last ACK). */
  restartAfter: number;
  /** Whole attempts (sockets) before giving up. */
  attempts: number;
}

export interface PickyResult {
  data?: Uint8Array;
  /** Every OACK the client saw, in order, as option maps. */
  oacks: Record<string, string>[];
  attempts: number;
}

export async function pickyGet(server: { address: string; port: number }, file: string, b: PickyBehaviour): Promise<PickyResult> {
  const oacks: Record<string, string>[] = [];
  for (let attempt = 1; attempt <= b.attempts; attempt++) {
    const data = await oneAttempt(server, file, b, oacks);
    if (data) return { data, oacks, attempts: attempt };
  }
  return { oacks, attempts: b.attempts };
}

async function oneAttempt(server: { address: string; port: number }, file: string, b: PickyBehaviour, oacks: Record<string, string>[]): Promise<Uint8Array | undefined> {
  const inbox: { data: Uint8Array; port: number }[] = [];
  let wake: (() => void) | undefined;
  const sock: udp.Socket<"uint8array"> = await Bun.udpSocket({
    hostname: b.from,
    binaryType: "uint8array",
    socket: {
      data(_s, data, port) {
        if (b.dropAbove !== undefined && data.length > b.dropAbove) return;
        inbox.push({ data: new Uint8Array(data), port });
        wake?.();
      },
      error() {},
    },
  });
  const send = (bytes: Uint8Array, port: number) => {
    try {
      sock.send(bytes, port, server.address);
    } catch {
      // an ICMP error from an earlier send: the retry logic copes
    }
  };
  const next = async (): Promise<{ data: Uint8Array; port: number } | undefined> => {
    if (inbox.length === 0) await new Promise<void>((r) => ((wake = r), setTimeout(r, b.timeoutMs)));
    wake = undefined;
    return inbox.shift();
  };
  const rrq = encodeRequest(Opcode.RRQ, file, "octet", new Map(Object.entries(b.options)));
  try {
    send(rrq, server.port);
    let tid: number | undefined;
    let blockSize = 512;
    let expected = 1;
    let lastAck: Uint8Array | undefined;
    const chunks: Uint8Array[] = [];
    let misses = 0;
    for (let guard = 0; guard < 100_000; guard++) {
      const d = await next();
      if (!d) {
        if (++misses >= b.restartAfter) return undefined;
        if (lastAck && tid !== undefined) send(lastAck, tid);
        else send(rrq, server.port);
        continue;
      }
      if (tid !== undefined && d.port !== tid) continue;
      const p = decodePacket(d.data);
      if (isDecodeFailure(p)) continue;
      if (p.op === Opcode.OACK) {
        if (lastAck && expected > 1) continue; // data already flowing: a stray
        oacks.push(Object.fromEntries(p.options));
        if (!b.takesOack(p.options)) continue;
        misses = 0;
        tid = d.port;
        blockSize = Number(p.options.get("blksize") ?? 512);
        lastAck = encodeAck(0);
        send(lastAck, tid);
      } else if (p.op === Opcode.DATA) {
        misses = 0;
        tid ??= d.port;
        if (p.block !== (expected & 0xffff)) {
          if (lastAck) send(lastAck, tid);
          continue;
        }
        chunks.push(p.data.slice());
        lastAck = encodeAck(p.block);
        send(lastAck, tid);
        expected++;
        if (p.data.length < blockSize) return Buffer.concat(chunks);
      } else if (p.op === Opcode.ERROR) return undefined;
    }
    return undefined;
  } finally {
    sock.close();
  }
}
