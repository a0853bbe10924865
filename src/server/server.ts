/**
 * The listening side, as wiring: bind the request sockets, let dispatch decide what each datagram
 * means, open transfers (open-transfer.ts) as slots allow, and log every ending once. Requests
 * past --max-transfers wait in a bounded queue rather than being refused — a PXE ROM that gets
 * an ERROR gives up, one that waits just retries.
 */
import type { udp } from "bun";
import { realpathSync, statSync } from "node:fs";
import { toByteString } from "../files/bytes-path.ts";
import { FileCache } from "../files/cache.ts";
import { isOutOfFiles } from "../files/confine.ts";
import { realWritableDirs, type WritableDir } from "../files/confine-upload.ts";
import type { Logger } from "../log.ts";
import { serverError, TftpError } from "../protocol/errors.ts";
import { Opcode, type RequestPacket } from "../protocol/types.ts";
import { plainAddress } from "../records/address.ts";
import type { RequestEvents, TransferObserver, TransferRecord } from "../records/transfer-record.ts";
import { SharedRtoFloor } from "../transfer/rto.ts";
import { clientFilter } from "./admission/client-filter.ts";
import { openFileLimit } from "./admission/limits.ts";
import { AdmissionQueue } from "./admission/queue.ts";
import { TokenBuckets } from "./admission/token-buckets.ts";
import { Deadlines } from "./io/deadlines.ts";
import { UnreachableWatch } from "./io/icmp-unreachable.ts";
import type { Session } from "./io/session.ts";
import { disableRecvErr, setReceiveBuffer, socketFd } from "./io/sockopt.ts";
import { steerByClientAddress } from "./io/steer.ts";
import { peerKey } from "./io/transfer-port.ts";
import { TransferPorts } from "./io/transfer-ports.ts";
import { warmUpSendPath } from "./io/warmup.ts";
import { summarized, summarizedWarning } from "./observe/log-summary.ts";
import { reportTransfer } from "./observe/transfer-log.ts";
import { blockSizeLimiter } from "./offers/path-mtu.ts";
import { pickyClients } from "./offers/picky-clients.ts";
import { openTransfer, type TransferPolicies } from "./open-transfer.ts";
import { dispatch } from "./requests/dispatch.ts";
import type { RemapRule } from "./requests/remap.ts";
import { rewriteRequest } from "./requests/rewrite.ts";
import type { ServerConfig } from "./types.ts";

export interface ServerOptions {
  log: Logger;
  observers?: TransferObserver[];
  /** Counted per request (metrics); absent, nothing is counted. */
  events?: RequestEvents;
  /**
   * Requests are dropped, unanswered, until this resolves: with --workers, until every process
   * has bound the port (daemon/workers.ts). Clients retry; none is answered by a process it is
   * then moved away from.
   */
  gate?: Promise<void>;
  /** The primary process of a --workers server (or the only one): checks the port is not taken. */
  firstProcess?: boolean;
  /** The clock and what transfers learn from one another; absent, this process's own (PROCESS_POLICIES). */
  policies?: TransferPolicies;
}

/**
 * This process's policies, the one place the module-wide ones are named: picky-client tracking
 * and the path-MTU limiter (serve gives both its logger), and the shared retransmission floor.
 * One per process, as each worker is a process of its own.
 */
export const PROCESS_POLICIES: TransferPolicies = {
  now: () => performance.now(),
  picky: pickyClients,
  blockSizes: blockSizeLimiter,
  rtoFloor: new SharedRtoFloor(),
};

export interface RunningServer {
  /** Bound request sockets as "address port" pairs (port 0 in the config picks a free one). */
  readonly listening: { address: string; port: number; receiveBufferBytes?: number }[];
  /** The shared transfer sockets' ports, per listening address (a transfer gets one at random). */
  readonly transferPorts: { address: string; ports: number[] }[];
  /** Why the pool of transfer sockets is smaller than wanted (--port-range, the open-file limit); undefined when it is not. */
  readonly transferPoolShortBy?: string;
  /** How many windowed transfers at once get a socket of their own (past it they share the pool). */
  readonly ownSocketsMax: number;
  /** With --create: the --writable directories as checked (empty: anywhere), for the start-up log. */
  readonly writable: WritableDir[];
  readonly activeTransfers: number;
  readonly queuedRequests: number;
  /** The memory cache's file opens served and missed, and the bytes it holds now. */
  readonly cache: { hits: number; misses: number; bytesHeld: number };
  /** New remap rules for requests from now on (SIGHUP re-reads the map file). */
  setRemap(rules: RemapRule[]): void;
  /**
   * A re-read configuration (SIGHUP): what only new requests see is applied at once; what the
   * running server is built around (sockets, cache, queue, upload directories) keeps its old
   * value and is named in `needRestart`. Running transfers are never touched. `builtAround`: the
   * fields that wait for a restart, as the setting rows say (cli/serve-config.ts RESTART_FIELDS).
   */
  reconfigure(next: ServerConfig, builtAround: ReadonlySet<keyof ServerConfig>): { applied: string[]; needRestart: string[] };
  /**
   * Stops taking requests at once (the port is free for a new instance; queued requests are
   * dropped, their clients retry there), lets running transfers finish for up to `timeoutMs`,
   * then cuts the rest. Resolves with how many finished and how many were cut.
   */
  drain(timeoutMs: number): Promise<DrainSummary>;
  /** Cuts every transfer now (a second signal): the same as drain(0). */
  close(): Promise<void>;
}

export interface DrainSummary {
  finished: number;
  cut: number;
}

interface Request {
  listener: udp.Socket<"uint8array">;
  bindAddress: string;
  address: string;
  port: number;
  packet: RequestPacket;
  /** The request datagram's size: what a client that never answers may draw is counted from it. */
  requestBytes: number;
  receivedAt: number;
}

/** After running out of descriptors, how soon queued requests are tried again. */
const SHORTAGE_RETRY_MS = 200;

/** Queued requests older than this are dropped when their turn comes. */
const QUEUE_STALE_MS = 30_000;

/**
 * How often, while transfers run, ICMP port unreachables are read: well under the 200 ms floor of
 * the retransmission timer, so a client that closed its socket gets no resend.
 */
const ICMP_POLL_MS = 20;

export async function startServer(config: ServerConfig, opts: ServerOptions): Promise<RunningServer> {
  const { log } = opts;
  const observers = opts.observers ?? [];
  const events = opts.events;
  const policies = opts.policies ?? PROCESS_POLICIES;
  let realRoot: string;
  try {
    // In the byte-string form of files/: names from clients are compared with it byte for byte.
    realRoot = toByteString(realpathSync(config.root));
    if (!statSync(config.root).isDirectory()) throw new Error("not a directory");
  } catch (err) {
    throw new Error(`root ${config.root} is not a readable directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); create it or pass --root`);
  }
  // Checked once, before any socket: a typo in --writable fails the start, not every upload.
  const writable = config.create ? realWritableDirs(realRoot, config.writable ?? []) : [];

  // Before the first client, not during it: the first transfer after a restart runs at full speed.
  const warm = warmUpSendPath();
  if (warm.completed === warm.transfers) log.debug("send path warmed up", { blocks: warm.blocks, ms: Math.round(warm.ms) });
  else log.warn("send path warm-up: synthetic transfers did not complete (a bug: please report)", { ...warm });

  // This process's share of the whole server's limits (each worker holds its own clients).
  const processes = Math.max(1, config.processes ?? 1);
  const share = (n: number) => Math.ceil(n / processes);
  const queueMax = share(config.queueMax);
  const cache = new FileCache(Math.floor(config.cacheBytes / processes));
  const deadlines = new Deadlines(policies.now);
  const sessions = new Map<string, Session | "opening">();
  const queue = new AdmissionQueue<Request>(queueMax, QUEUE_STALE_MS);
  let closing = false;
  /** While draining: transfers that ended, and the wake-up for when none is left. */
  const drained = { finished: 0, wake: () => {} };
  const transferCap = share(config.maxTransfers);
  /** The cap, lowered while the process runs out of file descriptors. */
  let slotLimit = transferCap;
  /** Replaced on SIGHUP (the map file re-read), as tftpd-hpa does. */
  let remapRules = config.remap;
  let shortageRetry: ReturnType<typeof setTimeout> | undefined;
  const dropped = summarizedWarning(log, "requests dropped: admission queue full", () => queue.size);
  const denied = summarized(log, "info", "requests from denied addresses not answered (--allow/--deny)", () => queue.size);
  const fdShortage = summarizedWarning(log, "out of file descriptors: requests wait in the queue (raise the open-file limit)", () => queue.size);

  // Opened while still privileged (CAP_NET_RAW); polled only while transfers run.
  const icmp = UnreachableWatch.open();
  if (!icmp) log.debug("ICMP port unreachable not watched (no CAP_NET_RAW): a vanished client's transfer ends after its retries");
  let icmpTimer: ReturnType<typeof setInterval> | undefined;
  const onUnreachable = (u: { localPort: number; address: string; port: number }) => void transferPorts.unreachable(u.localPort, u.address, u.port);
  function watchUnreachable(on: boolean): void {
    if (!icmp || on === (icmpTimer !== undefined)) return;
    if (!on) {
      clearInterval(icmpTimer);
      icmpTimer = undefined;
      return;
    }
    icmp.poll(() => {}); // what came while idle belongs to transfers that are over
    icmpTimer = setInterval(() => icmp.poll(onUnreachable), ICMP_POLL_MS);
  }

  /** Transfers running or opening per client address (the key of `sessions` is address|port). */
  const perClient = new Map<string, number>();
  function clientClosed(key: string): void {
    const address = key.slice(0, key.lastIndexOf("|"));
    const n = (perClient.get(address) ?? 1) - 1;
    if (n <= 0) perClient.delete(address);
    else perClient.set(address, n);
  }
  const overLimit = summarizedWarning(log, "requests over --per-client-max not answered", () => queue.size);
  const overRate = summarizedWarning(log, "requests over --per-client-rate not answered", () => queue.size);

  /** Every transfer ends here exactly once: logged, observed (install-once, hooks), slot freed. */
  function finished(key: string, record: TransferRecord): void {
    if (sessions.delete(key)) clientClosed(key);
    if (sessions.size === 0) watchUnreachable(false);
    if (closing) drained.finished++;
    if (closing && sessions.size === 0) drained.wake();
    // Probe for descriptors again, one slot per finished transfer, after a shortage lowered the limit.
    if (slotLimit < transferCap) slotLimit++;
    reportTransfer(log, observers, record);
    admitQueued();
  }

  function admitQueued(): void {
    while (!closing && sessions.size < slotLimit) {
      const { item, expired } = queue.shift(policies.now());
      if (expired) log.debug("queued requests expired", { expired });
      if (!item) return;
      void begin(item);
    }
  }

  /** Refusal before a session exists: answered from the request socket, logged with the reason. */
  function refuse(req: Request, err: TftpError): void {
    events?.refused();
    try {
      req.listener.send(err.encode(), req.port, req.address);
    } catch {
      // the client is gone; nothing to tell
    }
    const record: TransferRecord = {
      direction: req.packet.op === Opcode.WRQ ? "write" : "read",
      clientAddress: plainAddress(req.address),
      clientPort: req.port,
      requested: req.packet.filename,
      file: "", // refused before (or at) confinement
      mode: req.packet.mode,
      options: {}, // refused before negotiation: nothing was granted
      bytes: 0,
      size: -1,
      durationMs: policies.now() - req.receivedAt,
      outcome: "error",
      errorCode: err.code,
      reason: err.logReason,
      retransmits: 0,
    };
    finished(peerKey(req.address, req.port), record);
  }

  async function begin(req: Request): Promise<void> {
    const key = peerKey(req.address, req.port);
    const rewritten = rewriteRequest(req.packet, plainAddress(req.address), { remap: remapRules, stripPrefix: config.stripPrefix, refuse: config.refuse });
    if (rewritten instanceof TftpError) return refuse(req, rewritten);
    const toOpen = { ...req, packet: rewritten, requested: req.packet.filename };
    sessions.set(key, "opening");
    watchUnreachable(true);
    perClient.set(req.address, (perClient.get(req.address) ?? 0) + 1);
    try {
      const session = await openTransfer(toOpen, { realRoot, config, cache, deadlines, writable, ports: transferPorts, policies }, (record) => finished(key, record));
      if (closing) {
        session.shutdown();
        return;
      }
      sessions.set(key, session);
      session.start();
    } catch (err) {
      // Out of descriptors is the server's own shortage: the request waits for a slot to free
      // instead of getting an ERROR that would make a PXE ROM give up. Even with no other
      // transfer running: the descriptors may be held by HTTP connections, a cache load or
      // another request's open, and the retry below tries again until the queue's age limit.
      if (isOutOfFiles(err) && queue.push(key, req)) {
        if (sessions.delete(key)) clientClosed(key);
        slotLimit = Math.max(1, sessions.size);
        // A shortage is often brief (files held only until the cache has them): try again soon.
        shortageRetry ??= setTimeout(() => {
          shortageRetry = undefined;
          slotLimit = transferCap;
          admitQueued();
        }, SHORTAGE_RETRY_MS);
        fdShortage.note(plainAddress(req.address), req.packet.filename);
        return;
      }
      const e = err instanceof TftpError ? err : serverError(String(err));
      refuse(req, e);
    }
  }

  let filter = clientFilter(config.allow ?? [], config.deny ?? []);
  const newTokenBuckets = (perSecond: number | undefined) => (perSecond ? new TokenBuckets(perSecond) : undefined);
  let perClientRate = newTokenBuckets(config.perClientRate);
  const hasToken = (address: string, now: number) => perClientRate!.has(address, now);
  const dispatchState = {
    get closing() {
      return closing;
    },
    has: (peer: string) => sessions.has(peer) || queue.has(peer),
    transfersOf: (address: string) => perClient.get(address) ?? 0,
    get perClientMax() {
      return config.perClientMax ?? 0;
    },
    get hasToken() {
      return perClientRate ? hasToken : undefined;
    },
    get active() {
      return sessions.size;
    },
    get slotLimit() {
      return slotLimit;
    },
    get queueFull() {
      return queue.size >= queueMax;
    },
    get filter() {
      return filter;
    },
    uploads: !!config.create,
  };

  let gated = opts.gate !== undefined;
  void opts.gate?.then(() => (gated = false));

  function onRequestDatagram(listener: udp.Socket<"uint8array">, bindAddress: string, data: Uint8Array, port: number, address: string): void {
    if (gated) return;
    const key = peerKey(address, port);
    const now = policies.now();
    const d = dispatch(data, key, address, dispatchState, now);
    switch (d.action) {
      case "ignore":
        return;
      case "fold":
        if (d.repeat) policies.picky.repeated(d.repeat.peer, d.repeat.bytes, now);
        return;
      case "deny":
        log.debug("request from a denied address", { client: plainAddress(address), port });
        denied.note(plainAddress(address), "");
        events?.denied();
        return;
      case "answer":
        log.debug("request port answered with an error", { client: plainAddress(address), port, reason: d.reason });
        events?.answered(d.error.code);
        try {
          listener.send(d.error.encode(), port, address);
        } catch {
          // best effort
        }
        return;
    }
    if (d.action === "limit") {
      // Over the rate, the bucket still notes the request (its address stays among the recently seen).
      if (d.why === "rate") perClientRate?.allow(address, now);
      events?.limited();
      return (d.why === "rate" ? overRate : overLimit).note(plainAddress(address), d.request.filename);
    }
    const req: Request = { listener, bindAddress, address, port, packet: d.request, requestBytes: data.length, receivedAt: now };
    if (d.action === "refuse") return refuse(req, d.error);
    if (d.token) perClientRate?.allow(address, now);
    if (d.action === "begin") return void begin(req);
    if (d.action === "queue" && queue.push(key, req)) return;
    dropped.note(plainAddress(address), d.request.filename);
    events?.dropped();
  }

  // Bound before the request sockets: a request is never taken that no transfer socket can answer.
  const transferPorts = await TransferPorts.bind(config.addresses, {
    range: config.portRange,
    processes: config.processes,
    receiveBufferBytes: config.receiveBufferBytes,
    openFiles: openFileLimit(),
  }).catch((err: NodeJS.ErrnoException & { address?: string }) => {
    // The first bind on each address: the one that tells a user an address is not this host's.
    if (err.code !== "EADDRNOTAVAIL") throw err;
    throw new Error(`cannot listen on ${err.address ?? config.addresses.join(", ")} port ${config.port}: ${bindReason(err, err.address ?? "", config.port)}`);
  });
  const listening: { address: string; port: number; receiveBufferBytes?: number }[] = [];
  const listeners: udp.Socket<"uint8array">[] = [];
  try {
    for (const address of config.addresses) {
      // SO_REUSEPORT would let this process join another server's group on the same port (same
      // user at bind time: root) and take part of its clients. The first process of a server
      // proves the port free with a plain bind first; only its own workers join it.
      if (config.reusePort && opts.firstProcess && config.port !== 0) (await bindListener(address, config.port, false, () => {})).close();
      const sock = await bindListener(address, config.port, !!config.reusePort, (s, data, port, from) =>
        onRequestDatagram(s, address, data, port, from),
      );
      listeners.push(sock);
      const fd = socketFd(sock);
      disableRecvErr(fd);
      if (config.reusePort && (config.processes ?? 1) > 1 && !steerByClientAddress(fd, config.processes!))
        log.debug("workers: the kernel's hash picks each request's worker (client-address steering not available)", { address });
      const granted = setReceiveBuffer(fd, config.receiveBufferBytes);
      listening.push({ address, port: sock.port, receiveBufferBytes: granted });
    }
  } catch (err) {
    for (const l of listeners) l.close();
    transferPorts.close();
    icmp?.close();
    throw err;
  }

  async function drain(timeoutMs: number): Promise<DrainSummary> {
    if (!closing) {
      closing = true;
      if (shortageRetry) clearTimeout(shortageRetry);
      for (const l of listeners) l.close();
      queue.clear();
    }
    if (sessions.size > 0 && timeoutMs > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        drained.wake = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    // Counted before the cut: a cut transfer's ending is logged like any other, but it did not finish.
    const finished = drained.finished;
    const cut = [...sessions.values()].filter((s) => s !== "opening");
    for (const s of cut) s.shutdown();
    deadlines.close();
    watchUnreachable(false);
    icmp?.close();
    // After the cut: the shutdown ERRORs queued above go out as the sockets close.
    transferPorts.close();
    return { finished, cut: cut.length };
  }

  return {
    listening,
    transferPorts: transferPorts.bound,
    transferPoolShortBy: transferPorts.shortBy,
    ownSocketsMax: transferPorts.ownSocketsMax,
    writable,
    get activeTransfers() {
      return sessions.size;
    },
    get queuedRequests() {
      return queue.size;
    },
    get cache() {
      return { hits: cache.hits, misses: cache.misses, bytesHeld: cache.bytesUsed };
    },
    setRemap(rules) {
      remapRules = rules;
    },
    reconfigure(next, builtAround) {
      const applied: string[] = [];
      const needRestart: string[] = [];
      const merged: ServerConfig = { ...next };
      const keys = new Set([...Object.keys(config), ...Object.keys(next)] as (keyof ServerConfig)[]);
      for (const k of keys) {
        // Remap rules come back through setRemap (the map file is re-read with them).
        if (k === "remap" || JSON.stringify(config[k]) === JSON.stringify(next[k])) continue;
        if (builtAround.has(k)) {
          needRestart.push(k);
          (merged as unknown as Record<string, unknown>)[k] = config[k];
        } else applied.push(k);
      }
      merged.remap = config.remap;
      config = merged;
      filter = clientFilter(config.allow ?? [], config.deny ?? []);
      if (applied.includes("perClientRate")) perClientRate = newTokenBuckets(config.perClientRate);
      return { applied, needRestart };
    },
    drain,
    async close() {
      await drain(0);
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
    throw new Error(`cannot listen on ${address} port ${port}: ${bindReason(err, address, port)}`);
  }
}

/** Why a bind failed, in the words of the flag that fixes it. */
function bindReason(err: unknown, address: string, port: number): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "EACCES" ? `port ${port} needs root (or CAP_NET_BIND_SERVICE); use --port with a port above 1023`
    : code === "EADDRINUSE" ? `${address} port ${port} is already in use (another TFTP server running?)`
    : code === "EADDRNOTAVAIL" ? `${address} is not an address of this host (see ip -brief address; --address takes only local addresses)`
    : String((err as Error).message);
}
