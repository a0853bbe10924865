/**
 * The listening side: binds the request sockets, turns each RRQ into a Session (or an ERROR),
 * folds duplicate RRQs, and admits transfers past --max-transfers through a bounded queue rather
 * than refusing them — a PXE ROM that gets an ERROR gives up, one that waits just retries.
 */
import type { udp } from "bun";
import { realpathSync, statSync } from "node:fs";
import { FileCache } from "../files/cache.ts";
import { toByteString } from "../files/bytes-path.ts";
import { confine, isOutOfFiles } from "../files/confine.ts";
import { openSource } from "../files/open.ts";
import type { FileSource } from "../files/source.ts";
import type { Logger } from "../log.ts";
import { serverError, TftpError } from "../protocol/errors.ts";
import { negotiate, withTsize } from "../protocol/options.ts";
import { encodeOack } from "../protocol/packet.ts";
import type { RequestPacket, TransferMode } from "../protocol/types.ts";
import { SendTransfer } from "../transfer/send.ts";
import { warmUpSendPath } from "./warmup.ts";
import { AdmissionQueue } from "./admission.ts";
import { clientFilter } from "./client-filter.ts";
import { dispatch } from "./dispatch.ts";
import { peerKey, plainAddress } from "./address.ts";
import { Deadlines } from "./deadlines.ts";
import { Session } from "./session.ts";
import { disableRecvErr, setReceiveBuffer, socketFd } from "./sockopt.ts";
import { logTransfer } from "./transfer-log.ts";
import type { ServerConfig, TransferObserver, TransferRecord } from "./types.ts";

export interface ServerOptions {
  log: Logger;
  observers?: TransferObserver[];
}

export interface RunningServer {
  /** Bound request sockets as "address port" pairs (port 0 in the config picks a free one). */
  readonly listening: { address: string; port: number; receiveBufferBytes?: number }[];
  readonly activeTransfers: number;
  readonly queuedRequests: number;
  close(): Promise<void>;
}

interface Request {
  listener: udp.Socket<"uint8array">;
  bindAddress: string;
  address: string;
  port: number;
  packet: RequestPacket;
  receivedAt: number;
}

/** After running out of descriptors, how soon queued requests are tried again. */
const SHORTAGE_RETRY_MS = 200;

/** Queued requests older than this are dropped when their turn comes. */
const QUEUE_STALE_MS = 30_000;

/**
 * Warnings a storm can raise thousands of times a second (requests dropped past the queue,
 * requests put back for want of descriptors) get one summary line per second instead of a line each.
 */
function rateLimitedWarning(log: Logger, message: string, queued: () => number) {
  return rateLimited(log, "warn", message, queued);
}

function rateLimited(log: Logger, level: "info" | "warn", message: string, queued: () => number) {
  let count = 0;
  let last = { client: "", file: "" };
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    note(client: string, file: string) {
      count++;
      last = { client, file };
      timer ??= setTimeout(() => {
        log[level](message, { requests: count, queued: queued(), lastClient: last.client, lastFile: last.file || undefined });
        count = 0;
        timer = undefined;
      }, 1000);
    },
  };
}

/**
 * Payload one transfer may send back to back (window × block). A client's socket receive buffer
 * (Linux default 208 KiB, counted in kernel buffer sizes: a 4 KiB datagram costs 8 KiB of it, a
 * 64 KiB one ~70 KiB) must hold a whole window, or its last blocks are dropped every time and
 * each window ends in a timeout: 4 × 65464 or 16 × 8192 ran at ~3 MB/s before this cap. Also
 * bounds memory per transfer, so 10,000 clients fit in RAM.
 */
const WINDOW_BYTES_MAX = 96 * 1024;

/** The default send buffer (~208 KiB) holds a window of small blocks; ask for more only beyond that. */
function sendBufferFor(windowSize: number, blockSize: number): number {
  const need = windowSize * (blockSize + 64) * 2;
  return need <= 200_000 ? 0 : Math.min(2 * WINDOW_BYTES_MAX, need);
}

export async function startServer(config: ServerConfig, opts: ServerOptions): Promise<RunningServer> {
  const { log } = opts;
  const observers = opts.observers ?? [];
  let realRoot: string;
  try {
    // In the byte-string form of files/: names from clients are compared with it byte for byte.
    realRoot = toByteString(realpathSync(config.root));
    if (!statSync(config.root).isDirectory()) throw new Error("not a directory");
  } catch (err) {
    throw new Error(`root ${config.root} is not a readable directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); create it or pass --root`);
  }

  // Before the first client, not during it: the first transfer after a restart runs at full speed.
  const warm = warmUpSendPath();
  if (warm.completed === warm.transfers) log.debug("send path warmed up", { blocks: warm.blocks, ms: Math.round(warm.ms) });
  else log.warn("send path warm-up: synthetic transfers did not complete (a bug: please report)", { ...warm });

  const cache = new FileCache(config.cacheBytes);
  const deadlines = new Deadlines();
  const sessions = new Map<string, Session | "opening">();
  const queue = new AdmissionQueue<Request>(config.queueMax, QUEUE_STALE_MS);
  let closing = false;
  /** --max-transfers, lowered while the process runs out of file descriptors. */
  let slotLimit = config.maxTransfers;
  let shortageRetry: ReturnType<typeof setTimeout> | undefined;
  const dropped = rateLimitedWarning(log, "requests dropped: admission queue full", () => queue.size);
  const denied = rateLimited(log, "info", "requests from denied addresses not answered (--allow/--deny)", () => queue.size);
  const fdShortage = rateLimitedWarning(log, "out of file descriptors: requests wait in the queue (raise the open-file limit)", () => queue.size);

  /** Every transfer ends here exactly once: logged, observed (install-once, hooks), slot freed. */
  function finished(key: string, record: TransferRecord): void {
    sessions.delete(key);
    // Probe for descriptors again, one slot per finished transfer, after a shortage lowered the limit.
    if (slotLimit < config.maxTransfers) slotLimit++;
    logTransfer(log, record);
    for (const observe of observers) {
      try {
        observe(record);
      } catch (err) {
        log.error("transfer observer failed", { error: String(err) });
      }
    }
    admitQueued();
  }

  function admitQueued(): void {
    while (!closing && sessions.size < slotLimit) {
      const { item, expired } = queue.shift(performance.now());
      if (expired) log.debug("queued requests expired", { expired });
      if (!item) return;
      void begin(item);
    }
  }

  /** Refusal before a session exists: answered from the request socket, logged with the reason. */
  function refuse(req: Request, err: TftpError): void {
    try {
      req.listener.send(err.encode(), req.port, req.address);
    } catch {
      // the client is gone; nothing to tell
    }
    const record: TransferRecord = {
      clientAddress: plainAddress(req.address),
      clientPort: req.port,
      requested: req.packet.filename,
      file: "", // refused before (or at) confinement
      mode: req.packet.mode,
      options: {}, // refused before negotiation: nothing was granted
      bytes: 0,
      size: -1,
      durationMs: performance.now() - req.receivedAt,
      outcome: "error",
      errorCode: err.code,
      reason: err.logReason,
      retransmits: 0,
    };
    finished(peerKey(req.address, req.port), record);
  }

  async function begin(req: Request): Promise<void> {
    const key = peerKey(req.address, req.port);
    sessions.set(key, "opening");
    const { packet } = req;
    let source: FileSource | undefined;
    try {
      const mode = packet.mode as TransferMode;
      const file = confine(realRoot, packet.filename, { permissive: config.permissive });
      const neg = negotiate(packet.options, {
        blockSizeMax: config.blockSizeMax,
        windowSizeMax: config.windowSizeMax,
        rollover: config.rollover,
        windowBytesMax: WINDOW_BYTES_MAX,
      });
      source = openSource(file, mode, cache);
      const granted = withTsize(neg.oack, source.size);
      const oack = granted.size > 0 ? granted : undefined;
      const timeoutMs = config.timeoutMs;
      const transfer = new SendTransfer(
        {
          peer: { address: req.address, port: req.port },
          options: neg.options,
          oack: oack ? encodeOack(oack) : undefined,
          probeable: neg.wantsTsize && oack !== undefined,
          rto: {
            initialMs: timeoutMs,
            minMs: config.rtoMinMs,
            maxMs: config.timeoutMaxMs,
            floorMs: neg.options.timeoutSec ? neg.options.timeoutSec * 1000 : undefined,
          },
          retries: config.retries,
          giveUpMs: Math.max(timeoutMs, (neg.options.timeoutSec ?? 0) * 1000) * config.retries,
        },
        source,
      );
      const session = await Session.open({
        clientAddress: req.address,
        clientPort: req.port,
        bindAddress: req.bindAddress,
        transfer,
        source,
        deadlines,
        sendBufferBytes: sendBufferFor(neg.options.windowSize, neg.options.blockSize),
        record: {
          clientAddress: plainAddress(req.address),
          clientPort: req.port,
          requested: packet.filename,
          file: file.rel,
          mode,
          options: oack ? Object.fromEntries(oack) : {},
          size: source.size,
        },
        onEnd: (record) => finished(key, record),
      });
      if (closing) {
        session.shutdown();
        return;
      }
      sessions.set(key, session);
      session.start();
    } catch (err) {
      source?.close();
      // Out of descriptors is the server's own shortage: the request waits for a slot to free
      // instead of getting an ERROR that would make a PXE ROM give up.
      if (isOutOfFiles(err) && sessions.size > 1 && queue.push(key, req)) {
        sessions.delete(key);
        slotLimit = Math.max(1, sessions.size);
        // A shortage is often brief (files held only until the cache has them): try again soon.
        shortageRetry ??= setTimeout(() => {
          shortageRetry = undefined;
          slotLimit = config.maxTransfers;
          admitQueued();
        }, SHORTAGE_RETRY_MS);
        fdShortage.note(plainAddress(req.address), packet.filename);
        return;
      }
      const e = err instanceof TftpError ? err : serverError(String(err));
      refuse(req, e);
    }
  }

  const dispatchState = {
    get closing() {
      return closing;
    },
    has: (peer: string) => sessions.has(peer) || queue.has(peer),
    get active() {
      return sessions.size;
    },
    get slotLimit() {
      return slotLimit;
    },
    get queueFull() {
      return queue.size >= config.queueMax;
    },
    filter: clientFilter(config.allow ?? [], config.deny ?? []),
  };

  function onRequestDatagram(listener: udp.Socket<"uint8array">, bindAddress: string, data: Uint8Array, port: number, address: string): void {
    const key = peerKey(address, port);
    const d = dispatch(data, key, address, dispatchState);
    switch (d.action) {
      case "ignore":
      case "fold":
        return;
      case "deny":
        log.debug("request from a denied address", { client: plainAddress(address), port });
        denied.note(plainAddress(address), "");
        return;
      case "answer":
        log.debug("request port answered with an error", { client: plainAddress(address), port, reason: d.reason });
        try {
          listener.send(d.error.encode(), port, address);
        } catch {
          // best effort
        }
        return;
    }
    const req: Request = { listener, bindAddress, address, port, packet: d.request, receivedAt: performance.now() };
    if (d.action === "refuse") return refuse(req, d.error);
    if (d.action === "begin") return void begin(req);
    if (d.action === "queue" && queue.push(key, req)) return;
    dropped.note(plainAddress(address), d.request.filename);
  }

  const listening: { address: string; port: number; receiveBufferBytes?: number }[] = [];
  const listeners: udp.Socket<"uint8array">[] = [];
  try {
    for (const address of config.addresses) {
      const sock = await bindListener(address, config.port, !!config.reusePort, (s, data, port, from) =>
        onRequestDatagram(s, address, data, port, from),
      );
      listeners.push(sock);
      const fd = socketFd(sock);
      disableRecvErr(fd);
      const granted = setReceiveBuffer(fd, config.receiveBufferBytes);
      listening.push({ address, port: sock.port, receiveBufferBytes: granted });
    }
  } catch (err) {
    for (const l of listeners) l.close();
    throw err;
  }

  return {
    listening,
    get activeTransfers() {
      return sessions.size;
    },
    get queuedRequests() {
      return queue.size;
    },
    async close() {
      closing = true;
      if (shortageRetry) clearTimeout(shortageRetry);
      for (const l of listeners) l.close();
      queue.clear();
      for (const s of [...sessions.values()]) if (s !== "opening") s.shutdown();
      deadlines.close();
    },
  };
}

/** Bun's undocumented udpSocket flag for SO_REUSEPORT (see shared BUN-NOTES). */
const UDP_FLAG_REUSEPORT = 4;

async function bindListener(
  address: string,
  port: number,
  reusePort: boolean,
  onData: (s: udp.Socket<"uint8array">, data: Uint8Array, port: number, address: string) => void,
): Promise<udp.Socket<"uint8array">> {
  try {
    const options: udp.SocketOptions<"uint8array"> & { flags?: number } = {
      hostname: address,
      port,
      binaryType: "uint8array",
      socket: { data: (s, data, p, a) => onData(s, data, p, a), error: () => {} },
    };
    if (reusePort) options.flags = UDP_FLAG_REUSEPORT;
    return await Bun.udpSocket(options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "EACCES" ? `port ${port} needs root (or CAP_NET_BIND_SERVICE); use --port with a port above 1023`
      : code === "EADDRINUSE" ? `${address} port ${port} is already in use (another TFTP server running?)`
      : code === "EADDRNOTAVAIL" ? `${address} is not an address of this host`
      : String((err as Error).message);
    throw new Error(`cannot listen on ${address} port ${port}: ${why}`);
  }
}
