/**
 * One HTTP/1.1 request head (request line and header fields, RFC 9112 §2–§5) cut from the front
 * of a connection's bytes, with the rules a file server needs exact: exactly one Host (§3.2),
 * no Transfer-Encoding on a request we would have to de-chunk (§6.1: 501 is allowed; a boot
 * client never sends one), one valid Content-Length whose body is skipped (§6.3). Several heads
 * in one read are pipelined requests (§9.3.2): each call takes the first and says where it ends.
 * Pure: bytes in, a decision out.
 */

/** A head longer than this is refused (431) instead of buffered without end. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** A GET or HEAD with a body this big is refused (413); smaller ones are read and dropped. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface RequestHead {
  method: string;
  /** The request target as sent (origin-form "/a/b?q" or absolute-form "http://h/a/b"). */
  target: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  version: string;
  /** Field names lower-cased, values trimmed, in the order sent (duplicates kept). */
  fields: [string, string][];
  /** Whether the connection stays open after the answer: HTTP/1.1 unless "Connection: close" (1.0 never). */
  keepAlive: boolean;
  /** Bytes of the head and its body together: where the next request starts. */
  length: number;
}

export type HeadResult =
  | { kind: "incomplete" }
  | { kind: "request"; head: RequestHead }
  /** Malformed or refused: answered with `status`, then the connection is closed (its framing can't be trusted). */
  | { kind: "bad"; status: 400 | 413 | 431 | 501 | 505; reason: string };

const CRLFCRLF = Buffer.from("\r\n\r\n");
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const bad = (status: 400 | 413 | 431 | 501 | 505, reason: string): HeadResult => ({ kind: "bad", status, reason });

/** The first request head in `buf` (a connection's unread bytes). */
export function parseHead(buf: Buffer): HeadResult {
  // RFC 9112 §2.2: empty lines before a request line are ignored (some clients send one after a body).
  let start = 0;
  while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
  const end = buf.indexOf(CRLFCRLF, start);
  if (end < 0) return buf.length - start > MAX_HEAD_BYTES ? bad(431, "request head too large") : { kind: "incomplete" };
  if (end - start > MAX_HEAD_BYTES) return bad(431, "request head too large");
  // latin1: one char per byte, so a path's bytes reach decodeRequestPath as sent.
  const lines = buf.toString("latin1", start, end).split("\r\n");
  const m = /^([^ ]+) ([^ ]+) (HTTP\/\d\.\d)$/.exec(lines[0]!);
  if (!m) return bad(400, "malformed request line");
  const [, method, target, version] = m as unknown as [string, string, string, string];
  if (!TOKEN.test(method)) return bad(400, "malformed method");
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") return bad(505, `${version} not supported`);
  const fields: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    // §5.2: obsolete line folding is refused; §5.1: no space between the name and the colon.
    if (colon <= 0 || line[0] === " " || line[0] === "\t") return bad(400, "malformed header field");
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return bad(400, "malformed header field name");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return bad(400, "control character in a header field");
    fields.push([name.toLowerCase(), value]);
  }
  const all = (name: string) => fields.filter(([n]) => n === name).map(([, v]) => v);
  const hosts = all("host");
  // §3.2: a 1.1 request without Host, or with more than one, gets 400.
  if (hosts.length > 1) return bad(400, "more than one Host header");
  if (hosts.length === 0 && version === "HTTP/1.1") return bad(400, "no Host header");
  if (hosts.length === 1 && (hosts[0]!.includes(",") || /\s/.test(hosts[0]!))) return bad(400, "malformed Host header");
  if (all("transfer-encoding").length > 0) return bad(501, "request bodies with Transfer-Encoding are not taken");
  const lengths = all("content-length");
  let bodyBytes = 0;
  if (lengths.length > 0) {
    // §6.3: several differing values, or a list, or anything but digits, is unrecoverable framing.
    const values = new Set(lengths.flatMap((v) => v.split(",").map((s) => s.trim())));
    const [only] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(only!)) return bad(400, "invalid Content-Length");
    bodyBytes = Number(only);
    if (bodyBytes > MAX_BODY_BYTES) return bad(413, "request body too large");
  }
  const length = end + 4 + bodyBytes;
  if (buf.length < length) return { kind: "incomplete" };
  const connection = all("connection").join(",").toLowerCase().split(",").map((s) => s.trim());
  const keepAlive = version === "HTTP/1.1" && !connection.includes("close");
  return { kind: "request", head: { method, target, version, fields, keepAlive, length } };
}
