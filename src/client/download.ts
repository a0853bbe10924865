/**
 * The UDP driver around the receiving state machine: one socket per download, one timer, bytes
 * handed to the caller in order. `pxeboot get` runs one of these; `pxeboot bench` runs thousands
 * side by side in one process.
 */
import { cancelled } from "../protocol/errors.ts";
import type { Granted } from "../protocol/options.ts";
import { Opcode } from "../protocol/types.ts";
import { ReceiveTransfer, type ReceiveConfig, type ReceiveOutcome, type ReceiveStats } from "../transfer/receive.ts";
import type { Peer } from "../transfer/types.ts";

export interface DownloadOptions extends ReceiveConfig {
  /** File bytes in order. The chunk is only valid during the call; `transfer` tells tsize and progress. */
  onChunk?: (chunk: Uint8Array, transfer: ReceiveTransfer) => void;
  /** Simulated loss: called for each received DATA; true drops it before the state machine sees it. */
  dropData?: () => boolean;
  signal?: AbortSignal;
  /** The local address to send from (a test standing in for many hosts); default: any. */
  localAddress?: string;
}

export type DownloadOutcome = ReceiveOutcome | { ok: false; kind: "local"; reason: string };

export interface DownloadResult {
  outcome: DownloadOutcome;
  negotiated: Granted;
  stats: ReceiveStats & { dropped: number; sendErrors: number };
  /** From the first RRQ to the final ACK (or the failure). */
  durationMs: number;
}

export async function download(opts: DownloadOptions): Promise<DownloadResult> {
  // The callback's return value is not back-pressure: a download takes every chunk as it comes.
  const machine: ReceiveTransfer = new ReceiveTransfer(opts, {
    write: (chunk) => void opts.onChunk?.(chunk, machine),
  });
  const extra = { dropped: 0, sendErrors: 0 };
  const ipv6 = opts.server.address.includes(":");
  let finish!: (o: DownloadOutcome) => void;
  const finished = new Promise<DownloadOutcome>((resolve) => (finish = resolve));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let armedFor = Infinity;
  let heardFromServer = false;
  let over = false;

  const socket = await Bun.udpSocket({
    hostname: opts.localAddress ?? (ipv6 ? "::" : "0.0.0.0"),
    socket: {
      data(_sock, buf, port, address) {
        if (over) return;
        if (opts.dropData && buf.length >= 2 && buf[1] === Opcode.DATA && buf[0] === 0 && opts.dropData()) {
          extra.dropped++;
          return;
        }
        heardFromServer = true;
        const reply = machine.onDatagram(buf, port, address, performance.now());
        if (reply) send(reply, { address, port });
        flush();
      },
      // Bun reports ICMP errors (IP_RECVERR) here; without a handler they would kill the process.
      error(err) {
        if (over) return;
        const code = (err as { code?: string }).code;
        if (code === "ECONNREFUSED" && !heardFromServer) {
          // Port unreachable before any answer: nothing listens there. Waiting would only repeat it.
          end({ ok: false, kind: "local", reason: `connection refused by ${describe(opts.server)} (no TFTP server there?)` });
        }
      },
    },
  });

  const send = (datagram: Uint8Array, peer: Peer) => {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        if (socket.send(datagram, peer.port, peer.address)) return;
      } catch {
        // A pending ICMP error surfaces on the next send and costs that packet: try once more.
      }
      extra.sendErrors++;
    }
    // Still not sent: the state machine's timer re-sends it.
  };

  /** After every event: send what the machine owes, then either finish or move the timer. */
  function flush(): void {
    const out = machine.outbox;
    for (const datagram of out) send(datagram, machine.peer);
    out.length = 0;
    if (machine.outcome) end(machine.outcome);
    else if (!over) arm();
  }

  /** One timer per download, moved only when the deadline comes before the armed time. */
  function arm(): void {
    const deadline = machine.deadline;
    if (deadline >= armedFor) return;
    if (timer) clearTimeout(timer);
    armedFor = deadline;
    timer = setTimeout(onTimer, Math.max(0, deadline - performance.now()));
  }

  function onTimer(): void {
    timer = undefined;
    armedFor = Infinity;
    if (over) return;
    machine.onTimer(performance.now());
    flush();
  }

  function end(outcome: DownloadOutcome): void {
    if (over) return;
    over = true;
    if (timer) clearTimeout(timer);
    finish(outcome);
  }

  const onAbort = () => {
    machine.cancel(cancelled(), String(opts.signal?.reason ?? "cancelled"));
    flush();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  const started = performance.now();
  machine.start(started);
  flush();
  const outcome = await finished;
  const durationMs = performance.now() - started;
  opts.signal?.removeEventListener("abort", onAbort);
  socket.close();
  return { outcome, negotiated: machine.negotiated, stats: { ...machine.stats, ...extra }, durationMs };
}

export function describe(peer: Peer): string {
  return peer.address.includes(":") ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}
