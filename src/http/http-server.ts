/**
 * `serve --http`: the tftproot over HTTP/1.1 (GET and HEAD) with TFTP's rules: the same
 * confinement (confine.ts: symlinks kept inside, the state directory never served, o+r unless
 * --permissive), the same --allow/--deny, and one TransferRecord per response handed to the same
 * log line and observers (metrics, install-once).
 */
import { closeSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { toByteString } from "../files/bytes-path.ts";
import { confine, isOutOfFiles, type ConfinedFile } from "../files/confine.ts";
import type { Logger } from "../log.ts";
import { TftpError } from "../protocol/errors.ts";
import { ErrorCode } from "../protocol/types.ts";
import { plainAddress } from "../records/address.ts";
import { clientFilter, type ClientFilter } from "../server/admission/client-filter.ts";
import { reportTransfer } from "../server/observe/transfer-log.ts";
import type { RequestEvents, TransferObserver, TransferRecord } from "../records/transfer-record.ts";
import { limitsFor, parseOpenFileLimit, type ConnectionLimits } from "./connection-limits.ts";
import { fileBody } from "./file-body.ts";
import { listenHttp, type FrontRequest, type FrontTimeouts, type HttpFront } from "./http-front.ts";
import { fileHeaders, notModified, parseRange, rangeStillValid, type FileFacts } from "./headers.ts";
import { httpRecord, type HttpExchange } from "./http-record.ts";
import { decodeRequestPath, rawPath } from "./request-path.ts";

export interface HttpListen {
  address: string;
  port: number;
}

/** What SIGHUP may change while the server runs; the root and the port take a restart. */
export interface HttpRules {
  permissive: boolean;
  allow: string[];
  deny: string[];
}

export interface HttpServerOptions {
  root: string;
  listen: HttpListen;
  rules: HttpRules;
  /** --workers: every process binds the port (SO_REUSEPORT) and the kernel splits connections. */
  reusePort?: boolean;
  /**
   * The process that binds first (the primary): with reusePort it proves the port free with a
   * plain bind before joining, so it never shares a port another server holds; workers join it.
   */
  firstProcess?: boolean;
  /** Connection bounds; by default derived from the open-file limit (connection-limits.ts). */
  limits?: ConnectionLimits;
  timeouts?: Partial<FrontTimeouts>;
  log: Logger;
  observers: TransferObserver[];
  events?: Pick<RequestEvents, "denied">;
}

export interface RunningHttp {
  url: string;
  port: number;
  /** Responses whose body is still going out. */
  readonly active: number;
  /** What the connections are held to. */
  readonly limits: ConnectionLimits;
  reconfigure(rules: HttpRules): void;
  /** Stops taking connections; bodies under way get `graceMs` to finish, then are cut. */
  stop(graceMs: number): Promise<void>;
}

/** The status a confinement refusal becomes: a directory is "not found" (no listings). */
function statusOf(err: TftpError): 403 | 404 | 500 {
  if (err.code === ErrorCode.FILE_NOT_FOUND || err.message === "Not a regular file") return 404;
  if (err.code === ErrorCode.ACCESS_VIOLATION) return 403;
  return 500;
}

const REASONS: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 416: "Range Not Satisfiable", 500: "Server Error", 503: "Service Unavailable" };

export function startHttpServer(opts: HttpServerOptions): RunningHttp {
  const { log, observers } = opts;
  let realRoot: string;
  try {
    realRoot = toByteString(realpathSync(opts.root));
  } catch (err) {
    throw new Error(`--http: cannot serve ${opts.root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let rules = opts.rules;
  let filter: ClientFilter | undefined = clientFilter(rules.allow, rules.deny);
  let active = 0;
  let idle: (() => void) | undefined;

  const finished = (record: TransferRecord) => reportTransfer(log, observers, record);

  function handle(req: FrontRequest, address: string, clientPort: number): Response {
    const t0 = performance.now();
    const base = { clientAddress: address, clientPort };
    const path = rawPath(req.target);
    const end = (x: Omit<HttpExchange, "clientAddress" | "clientPort" | "durationMs">) => finished(httpRecord({ ...base, ...x, durationMs: performance.now() - t0 }));
    const refuse = (status: number, requested: string, file: string, reason: string, headers: Record<string, string> = {}) => {
      end({ requested, file, status, bytes: 0, size: -1, outcome: "error", reason });
      return new Response(req.method === "HEAD" ? null : `${status} ${REASONS[status] ?? ""}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
    };
    if (req.method !== "GET" && req.method !== "HEAD") return refuse(405, path, "", `method ${req.method} not served`, { allow: "GET, HEAD" });
    const decoded = decodeRequestPath(path);
    if (!decoded.ok) return refuse(decoded.status, path, "", decoded.reason);
    let file: ConfinedFile;
    try {
      file = confine(realRoot, decoded.name, { permissive: rules.permissive });
    } catch (err) {
      if (isOutOfFiles(err)) return refuse(503, decoded.name, "", "out of file descriptors", { "retry-after": "1" });
      if (!(err instanceof TftpError)) throw err;
      return refuse(statusOf(err), decoded.name, "", err.logReason);
    }
    // The body streams from the descriptor confine() checked; any other answer closes it.
    let streaming = false;
    try {
      const { rel, stats } = file;
      const facts: FileFacts = { size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino };
      const headers = fileHeaders(rel, facts);
      const known = { requested: decoded.name, file: rel, size: facts.size };
      if (notModified(req.headers, facts)) {
        end({ ...known, status: 304, bytes: 0, outcome: "probe" });
        return new Response(null, { status: 304, headers });
      }
      const range = rangeStillValid(req.headers, facts) ? parseRange(req.headers.get("range"), facts.size) : { kind: "whole" as const };
      if (range.kind === "unsatisfiable") return refuse(416, decoded.name, rel, `range ${req.headers.get("range")} past the end (${facts.size} bytes)`, { "content-range": `bytes */${facts.size}` });
      const [start, last] = range.kind === "partial" ? [range.start, range.end] : [0, facts.size - 1];
      const status = range.kind === "partial" ? 206 : 200;
      const length = last - start + 1;
      const partial = range.kind === "partial" ? { range: { start, end: last } } : {};
      const answer: Record<string, string> = { ...headers, "content-length": String(length) };
      if (status === 206) answer["content-range"] = `bytes ${start}-${last}/${facts.size}`;
      if (req.method === "HEAD") {
        end({ ...known, ...partial, status, bytes: 0, outcome: "probe" });
        return new Response(null, { status, headers: answer });
      }
      if (length === 0) {
        end({ ...known, status, bytes: 0, outcome: "ok" });
        return new Response("", { status, headers: answer });
      }
      active++;
      streaming = true;
      const body = fileBody(file.fd, start, last, (e) => {
        active--;
        if (active === 0) idle?.();
        end({ ...known, ...partial, status, bytes: e.bytes, outcome: e.complete ? "ok" : "error", reason: e.complete ? undefined : e.reason });
      });
      return new Response(body, { status, headers: answer });
    } finally {
      if (!streaming) closeSync(file.fd);
    }
  }

  const limits = opts.limits ?? defaultLimits();
  const listen = (hostname: string, reusePort: boolean) =>
    listenHttp({
      hostname,
      port: opts.listen.port,
      reusePort,
      limits,
      timeouts: opts.timeouts,
      log,
      handle(req) {
        const address = req.address;
        if (filter && !filter.allows(address)) {
          // TFTP stays silent; a TCP peer already knows a server is here, so it is told no.
          opts.events?.denied();
          log.debug("http request from a client not allowed", { client: address });
          return new Response(null, { status: 403 });
        }
        return handle(req, address, req.port);
      },
      refused({ address, port, status, reason }) {
        if (filter && !filter.allows(address)) return;
        finished(httpRecord({ clientAddress: address, clientPort: port, requested: "", file: "", status, bytes: 0, size: -1, outcome: "error", reason, durationMs: 0 }));
      },
    });

  let front: HttpFront;
  try {
    // SO_REUSEPORT would let this process join another server's group on the port (same user at
    // bind time) and split its clients between two roots: a plain bind first proves it free.
    if (opts.reusePort && opts.firstProcess && opts.listen.port !== 0) listen(opts.listen.address, false).closeAll();
    front = listen(opts.listen.address, opts.reusePort ?? false);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "EACCES" ? `port ${opts.listen.port} needs root (or CAP_NET_BIND_SERVICE); use a port above 1023`
      : code === "EADDRINUSE" ? `port ${opts.listen.port} is already in use (nginx or another pxeboot?): stop that server or give --http another port`
      : code === "EADDRNOTAVAIL" ? `${opts.listen.address} is not an address of this host`
      : (err as Error).message;
    throw new Error(`--http: cannot listen on ${opts.listen.address} port ${opts.listen.port}: ${why}`);
  }
  const host = opts.listen.address.includes(":") ? `[${opts.listen.address}]` : opts.listen.address;
  return {
    url: `http://${host}:${front.port}/`,
    port: front.port,
    limits,
    get active() {
      return active;
    },
    reconfigure(next) {
      rules = next;
      filter = clientFilter(next.allow, next.deny);
    },
    async stop(graceMs) {
      front.stopListening();
      if (active > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      front.closeAll();
    },
  };
}

/** The bounds this process can afford: from its open-file limit and the descriptors it holds now. */
function defaultLimits(): ConnectionLimits {
  let openFileLimit: number | undefined;
  let open = 64;
  try {
    openFileLimit = parseOpenFileLimit(readFileSync("/proc/self/limits", "latin1"));
    open = readdirSync("/proc/self/fd").length;
  } catch {
    // no /proc: the ceilings alone
  }
  return limitsFor(openFileLimit ?? 1024, open);
}
