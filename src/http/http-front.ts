/**
 * The HTTP/1.1 connection layer of `serve --http`, on a plain TCP listener (Bun.listen) instead
 * of Bun.serve, for three things Bun.serve (1.4.5) does not give:
 * - pipelining: with requests pipelined behind one whose answer is not ready at once (a streamed
 *   file body, or any async answer), Bun.serve sent the first status line and headers and never
 *   the rest. Here requests on a connection are answered one after the other, in order
 *   (RFC 9112 §9.3.2); the next is read from the buffer once the previous answer went out;
 * - the exact head: duplicate Host headers arrive merged in Bun's Request; here they are seen
 *   (request-head.ts);
 * - the connections themselves: Bun.serve has no hook for a connection that never sends a
 *   request, so 400 idle ones took every descriptor and its accept loop spun on EMFILE. Here
 *   each connection is counted as it opens and held below limits derived from the open-file
 *   limit (connection-limits.ts), idle ones closed first, and idle, slow or stalled ones time out.
 * The answer itself comes from `handle`, as a Response (a stream body is pulled one chunk per
 * write the socket took, so "the stream ended" still means "every byte went to the socket").
 */
import type { Socket, TCPSocketListener } from "bun";
import { readSync } from "node:fs";
import type { Logger } from "../log.ts";
import { plainAddress } from "../records/address.ts";
import { admit, type ConnectionLimits } from "./connection-limits.ts";
import { parseHead, type RequestHead } from "./request-head.ts";
import { CHUNK_BYTES, takeFileRange, type FileRange } from "./file-body.ts";
import { canSendfile, sendFileChunk } from "./sendfile.ts";
import { readNoWait } from "../files/nowait.ts";

export interface FrontRequest {
  method: string;
  target: string;
  headers: Headers;
  address: string;
  port: number;
}

export interface FrontTimeouts {
  /** A connection waiting for its next request (keep-alive) is closed after this long. */
  idleMs: number;
  /** A request head begun and not finished in this long (one byte at a time, slowloris) is cut. */
  headMs: number;
  /** A client that takes no byte of an answer for this long is gone. */
  stallMs: number;
  /** After the last answer of a closing connection, how long its peer may take to close too. */
  lingerMs: number;
}

export const DEFAULT_TIMEOUTS: FrontTimeouts = { idleMs: 30_000, headMs: 10_000, stallMs: 30_000, lingerMs: 2_000 };

export interface FrontOptions {
  hostname: string;
  port: number;
  reusePort: boolean;
  limits: ConnectionLimits;
  timeouts?: Partial<FrontTimeouts>;
  log: Logger;
  /** The answer to one well-formed request (may throw: 500). */
  handle(req: FrontRequest): Response;
  /** File bodies by sendfile(2) where the page cache holds them (default true; false: always read and written). */
  sendfile?: boolean;
  /** A request refused before `handle` (malformed head): for the log line. */
  refused(info: { address: string; port: number; status: number; reason: string }): void;
}

export interface HttpFront {
  readonly port: number;
  /** Connections held now. */
  readonly connections: number;
  /** File body bytes the sockets took, by how they went: sendfile from the page cache, or read and written. */
  readonly fileBytes: { sendfile: number; copied: number };
  /** Stops taking connections and closes the idle ones; answers under way go on. */
  stopListening(): void;
  /** Closes every connection now (an answer under way is cut). */
  closeAll(): void;
}

interface Conn {
  socket: Socket<Conn>;
  address: string;
  port: number;
  /** Bytes read and not yet taken as a request (pipelined requests wait here, in order). */
  input: Buffer;
  busy: boolean;
  idleSinceMs: number;
  /** When the first byte of a head arrived while idle (for headMs); 0: none yet. */
  headSinceMs: number;
  /** Bytes the socket did not take yet, and who waits for them to go. */
  unsent?: Uint8Array;
  stalledSinceMs: number;
  drained?: () => void;
  /** The body being sent: cancelled when the connection goes. */
  reader?: { cancel(): Promise<void> };
  /** No further request is read: the last answer closes the connection. */
  closing: boolean;
  /** end() was called at this time: the peer has lingerMs to close. */
  endedAtMs: number;
  closed: boolean;
  /** terminate() was called: the descriptor may be gone before the close callback says so. */
  terminating: boolean;
  paused: boolean;
}

/** Unread pipelined bytes past which the connection stops reading (pause) until they are answered. */
const PAUSE_INPUT_BYTES = 256 * 1024;
/** …and past which (the pause did not hold) it is closed. */
const MAX_INPUT_BYTES = 1024 * 1024;
const SWEEP_MS = 1000;

const REASONS: Record<number, string> = {
  200: "OK",
  206: "Partial Content",
  304: "Not Modified",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  416: "Range Not Satisfiable",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

const encoder = new TextEncoder();

/** A sendfile call's most: bounds how long one call holds the event loop even when the socket takes it all. */
const SENDFILE_PIECE_BYTES = 4 * 1024 * 1024;

const probe = new Uint8Array(1);

/** Both ends of [position, position+length) are in the page cache (readahead fills what lies between). */
function cached(fd: number, position: number, length: number): boolean {
  return readNoWait(fd, probe, 0, 1, position) === 1 && readNoWait(fd, probe, 0, 1, position + length - 1) === 1;
}

export function listenHttp(opts: FrontOptions): HttpFront {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const sendfile = opts.sendfile !== false && canSendfile();
  const fileBytes = { sendfile: 0, copied: 0 };
  const conns = new Set<Conn>();
  let listening = true;

  function close(c: Conn): void {
    if (c.closed) return;
    c.terminating = true;
    c.socket.terminate();
  }

  /** Writes `bytes`; resolves when the socket took them all (or the connection is gone). */
  function send(c: Conn, bytes: Uint8Array): Promise<void> | undefined {
    if (c.closed) return undefined;
    const n = c.socket.write(bytes);
    if (n >= bytes.length) return undefined;
    c.unsent = bytes.subarray(Math.max(0, n));
    c.stalledSinceMs = performance.now();
    return new Promise<void>((resolve) => (c.drained = resolve));
  }

  function flush(c: Conn): void {
    while (c.unsent) {
      const n = c.socket.write(c.unsent);
      if (n < c.unsent.length) {
        if (n > 0) {
          c.unsent = c.unsent.subarray(n);
          c.stalledSinceMs = performance.now();
        }
        return;
      }
      c.unsent = undefined;
    }
    const d = c.drained;
    c.drained = undefined;
    d?.();
  }

  function head(status: number, headers: Headers, length: number | undefined, keepAlive: boolean): string {
    let text = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n`;
    headers.forEach((value, name) => {
      if (name === "content-length" || name === "connection" || name === "date") return;
      text += `${name}: ${value}\r\n`;
    });
    text += `date: ${new Date().toUTCString()}\r\n`;
    if (length !== undefined) text += `content-length: ${length}\r\n`;
    if (!keepAlive) text += "connection: close\r\n";
    return text + "\r\n";
  }

  /** Sends `res` as the answer to a request (`method` HEAD: no body). */
  async function answer(c: Conn, method: string, res: Response, keepAlive: boolean): Promise<void> {
    const declared = res.headers.get("content-length");
    const body = res.body;
    if (method === "HEAD" || body === null || res.status === 304) {
      if (body) await body.cancel().catch(() => {});
      const length = declared !== null ? Number(declared) : method === "HEAD" || res.status === 304 ? undefined : 0;
      await send(c, encoder.encode(head(res.status, res.headers, length, keepAlive)));
      return;
    }
    if (declared === null) {
      // A small answer made whole (refusals): its length is that of its bytes.
      const bytes = new Uint8Array(await res.arrayBuffer());
      const h = encoder.encode(head(res.status, res.headers, bytes.length, keepAlive));
      const all = new Uint8Array(h.length + bytes.length);
      all.set(h);
      all.set(bytes, h.length);
      await send(c, all);
      return;
    }
    await send(c, encoder.encode(head(res.status, res.headers, Number(declared), keepAlive)));
    // A file from the page cache: sendfile, counting what the socket took.
    const range = sendfile ? takeFileRange(body) : undefined;
    if (range) return sendRange(c, range);
    // Otherwise pulled one chunk at a time, the next only once the socket took the last.
    const reader = body.getReader();
    c.reader = reader;
    try {
      for (;;) {
        if (c.closed) return;
        const { done, value } = await reader.read();
        if (done || c.closed) return;
        await send(c, value);
        fileBytes.copied += value.length;
      }
    } catch {
      // The body failed (the file shrank, a read error): its bytes no longer match Content-Length.
      c.closing = true;
      close(c);
    } finally {
      c.reader = undefined;
    }
  }

  /** The socket's descriptor while the connection is ours to write; -1 once it is going. */
  function socketFd(c: Conn): number {
    if (c.closed || c.terminating) return -1;
    const fd = (c.socket as unknown as { fd?: number }).fd;
    return typeof fd === "number" ? fd : -1;
  }

  /**
   * Sends a file range with sendfile where the page cache holds it (a RWF_NOWAIT probe at both
   * ends of each piece: the event loop must not wait for a disk; NFS, which has no RWF_NOWAIT,
   * always reads on libuv's threads), and as read chunks otherwise. The socket is non-blocking:
   * when it is full, one byte goes through Bun's own write, whose drain event says when there is
   * room again (Bun watches a socket for writability only after a short write of its own).
   */
  async function sendRange(c: Conn, range: FileRange): Promise<void> {
    let position = range.start;
    const sent = () => position - range.start;
    const cut = (reason: string) => {
      range.finish({ complete: false, bytes: sent(), reason });
      c.closing = true;
      close(c);
    };
    while (position <= range.end) {
      const fd = socketFd(c);
      if (fd < 0) return range.finish({ complete: false, bytes: sent(), reason: "client closed the connection" });
      const length = Math.min(SENDFILE_PIECE_BYTES, range.end - position + 1);
      if (!cached(range.fd, position, length)) {
        const chunk = await range.read(position, Math.min(CHUNK_BYTES, length));
        if ("error" in chunk) return cut(chunk.error);
        if (c.closed) continue;
        await send(c, chunk.bytes);
        if (!c.closed) {
          position += chunk.bytes.length;
          fileBytes.copied += chunk.bytes.length;
        }
        continue;
      }
      const r = sendFileChunk(fd, range.fd, position, length);
      if (typeof r === "number") {
        // Fewer bytes than the file had: it shrank under us, and Content-Length can't be kept.
        if (r === 0) return cut("file changed during transfer");
        position += r;
        fileBytes.sendfile += r;
        if (r === length) {
          // The socket keeps up (loopback, a fast link): let the rest of the server have a turn.
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
      } else if (typeof r === "object") return cut(`send error: errno ${r.errno}`);
      if (position > range.end) break;
      // Full: one byte through Bun's write, which waits for room (and times out a stalled client).
      const one = new Uint8Array(1);
      if (readSync(range.fd, one, 0, 1, position) !== 1) return cut("file changed during transfer");
      await send(c, one);
      if (!c.closed) {
        position += 1;
        fileBytes.copied += 1;
      }
    }
    range.finish({ complete: true, bytes: sent() });
  }

  function refuse(c: Conn, status: number, reason: string): void {
    opts.refused({ address: c.address, port: c.port, status, reason });
    c.closing = true;
    c.busy = true;
    void Promise.resolve(send(c, encoder.encode(head(status, new Headers({ "content-type": "text/plain; charset=utf-8" }), `${status} ${REASONS[status] ?? ""}\n`.length, false) + `${status} ${REASONS[status] ?? ""}\n`))).then(() => done(c));
  }

  /** The answer under way is out: read the next pipelined request, or close. */
  function done(c: Conn): void {
    c.busy = false;
    c.idleSinceMs = performance.now();
    c.headSinceMs = c.input.length > 0 ? c.idleSinceMs : 0;
    if (c.closed) return;
    if (c.closing) {
      // Our side is done; reading goes on (and is dropped) until the peer closes or lingerMs passes,
      // so a request it already sent does not turn our close into a reset that eats the answer.
      c.endedAtMs = performance.now();
      c.input = Buffer.alloc(0);
      c.socket.end();
      return;
    }
    if (c.paused && c.input.length < PAUSE_INPUT_BYTES) {
      c.paused = false;
      c.socket.resume();
    }
    next(c);
  }

  function next(c: Conn): void {
    if (c.busy || c.closing || c.closed || c.input.length === 0) return;
    const parsed = parseHead(c.input);
    if (parsed.kind === "incomplete") {
      if (c.headSinceMs === 0) c.headSinceMs = performance.now();
      return;
    }
    if (parsed.kind === "bad") return refuse(c, parsed.status, parsed.reason);
    const h: RequestHead = parsed.head;
    c.input = c.input.subarray(h.length);
    c.busy = true;
    c.headSinceMs = 0;
    const keepAlive = h.keepAlive && listening;
    if (!keepAlive) c.closing = true;
    const headers = new Headers();
    for (const [name, value] of h.fields) headers.append(name, value);
    let res: Response;
    try {
      res = opts.handle({ method: h.method, target: h.target, headers, address: c.address, port: c.port });
    } catch (err) {
      opts.log.error("http request failed", { client: c.address, error: String(err) });
      res = new Response("500 Internal Server Error\n", { status: 500, headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    answer(c, h.method, res, keepAlive).then(
      () => done(c),
      (err) => {
        opts.log.error("http answer failed", { client: c.address, error: String(err) });
        c.closing = true;
        close(c);
      },
    );
  }

  const listener: TCPSocketListener<Conn> = Bun.listen<Conn>({
    hostname: opts.hostname,
    port: opts.port,
    // Not in the shipped types, but honoured (SO_REUSEPORT): --workers share the port.
    ...({ reusePort: opts.reusePort } as object),
    socket: {
      open(socket) {
        const now = performance.now();
        const c: Conn = {
          socket,
          address: plainAddress(socket.remoteAddress ?? ""),
          port: socket.remotePort ?? 0,
          input: Buffer.alloc(0),
          busy: false,
          idleSinceMs: now,
          headSinceMs: 0,
          stalledSinceMs: 0,
          closing: false,
          endedAtMs: 0,
          closed: false,
          terminating: false,
          paused: false,
        };
        socket.data = c;
        const a = admit(conns, c.address, opts.limits);
        if (!a.admit) {
          // Its descriptor goes at once: holding it would bring EMFILE, and with it a spinning accept loop.
          opts.log.debug("http connection refused", { client: c.address, reason: a.reason });
          c.closed = true;
          socket.terminate();
          return;
        }
        if (a.evict) {
          opts.log.debug("http connection closed for a newer one", { client: a.evict.address, for: c.address });
          close(a.evict);
        }
        conns.add(c);
        socket.setNoDelay(true);
      },
      data(socket, chunk) {
        const c = socket.data;
        if (!c || c.closed || c.endedAtMs > 0) return;
        c.input = c.input.length === 0 ? Buffer.from(chunk) : Buffer.concat([c.input, chunk]);
        if (c.input.length > MAX_INPUT_BYTES) return close(c);
        if (c.busy && c.input.length > PAUSE_INPUT_BYTES && !c.paused) {
          c.paused = true;
          socket.pause();
        }
        next(c);
      },
      drain(socket) {
        const c = socket.data;
        if (c && !c.closed) flush(c);
      },
      close(socket) {
        const c = socket.data;
        if (!c) return;
        const wasHeld = conns.delete(c);
        c.closed = true;
        c.unsent = undefined;
        const d = c.drained;
        c.drained = undefined;
        d?.();
        if (wasHeld && c.reader) void c.reader.cancel().catch(() => {});
      },
      error() {
        // close follows
      },
    },
  });

  const sweep = setInterval(() => {
    const now = performance.now();
    for (const c of conns) {
      if (c.endedAtMs > 0) {
        if (now - c.endedAtMs > timeouts.lingerMs) close(c);
      } else if (c.unsent) {
        if (now - c.stalledSinceMs > timeouts.stallMs) close(c);
      } else if (!c.busy) {
        if (c.headSinceMs > 0 ? now - c.headSinceMs > timeouts.headMs : now - c.idleSinceMs > timeouts.idleMs) close(c);
      }
    }
  }, Math.min(SWEEP_MS, timeouts.lingerMs));
  sweep.unref();

  return {
    port: listener.port,
    fileBytes,
    get connections() {
      return conns.size;
    },
    stopListening() {
      if (!listening) return;
      listening = false;
      listener.stop(false);
      for (const c of conns) {
        c.closing = true;
        if (!c.busy) close(c);
      }
    },
    closeAll() {
      clearInterval(sweep);
      if (listening) {
        listening = false;
        listener.stop(false);
      }
      for (const c of [...conns]) close(c);
    },
  };
}
