/**
 * The HTTP/1.1 header rules the file server follows, as pure functions of the request's headers
 * and the file's size and times: content types, validators (ETag, Last-Modified), conditional
 * requests (RFC 9110 §13) and single byte ranges (§14). Multiple ranges are answered with the
 * whole file (allowed by §14.2), which no boot client asks for anyway.
 */

/** What the validators are made of: the file's size and modification time (ms since the epoch). */
export interface FileFacts {
  size: number;
  mtimeMs: number;
  /** The inode, so a file replaced by another of the same size and time still changes its ETag. */
  ino: number;
}

const OCTET = "application/octet-stream";
const TEXT = "text/plain; charset=utf-8";

/** By extension; kernels and initrds have none or odd ones, so anything unknown is octet-stream. */
const BY_EXTENSION: Record<string, string> = {
  efi: "application/efi",
  "0": OCTET,
  pxe: OCTET,
  kpxe: OCTET,
  lpxe: OCTET,
  c32: OCTET,
  img: OCTET,
  iso: "application/x-iso9660-image",
  gz: "application/gzip",
  xz: "application/x-xz",
  zst: "application/zstd",
  ipxe: TEXT,
  cfg: TEXT,
  conf: TEXT,
  txt: TEXT,
  ks: TEXT,
  preseed: TEXT,
  yaml: TEXT,
  yml: TEXT,
  json: "application/json",
  sig: OCTET,
};

/** Boot files named by convention rather than extension. */
const TEXT_DIRS = /(?:^|\/)pxelinux\.cfg\/[^/]+$/;

export function contentType(rel: string): string {
  if (TEXT_DIRS.test(rel)) return TEXT;
  const base = rel.slice(rel.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return OCTET;
  return BY_EXTENSION[base.slice(dot + 1).toLowerCase()] ?? OCTET;
}

/** A strong validator: changes whenever the bytes may have (new inode, size or time). */
export function etagOf(f: FileFacts): string {
  return `"${f.ino.toString(16)}-${f.size.toString(16)}-${Math.floor(f.mtimeMs).toString(16)}"`;
}

export function lastModified(f: FileFacts): string {
  return new Date(f.mtimeMs).toUTCString();
}

/** HTTP dates have whole seconds: compare at that precision. */
const seconds = (ms: number) => Math.floor(ms / 1000);

/** True when one of the request's entity tags (a comma-separated list, weak ones too) matches. */
function tagMatches(list: string, etag: string): boolean {
  if (list.trim() === "*") return true;
  return list.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

/**
 * RFC 9110 §13.2.2: If-None-Match decides when present, If-Modified-Since only without it.
 * Only for GET and HEAD (the only methods served).
 */
export function notModified(headers: { get(name: string): string | null }, f: FileFacts): boolean {
  const inm = headers.get("if-none-match");
  if (inm !== null) return tagMatches(inm, etagOf(f));
  const ims = headers.get("if-modified-since");
  if (ims === null) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && seconds(f.mtimeMs) <= seconds(since);
}

export type RangeAnswer =
  | { kind: "whole" }
  /** Inclusive byte positions, as Content-Range writes them. */
  | { kind: "partial"; start: number; end: number }
  | { kind: "unsatisfiable" };

/**
 * The answer to a Range header for a file of `size` bytes. A header that is not a single
 * "bytes=" range, or that cannot be parsed, is ignored (the whole file, as §14.2 says); a
 * well-formed range that starts past the end is 416.
 */
export function parseRange(header: string | null, size: number): RangeAnswer {
  if (header === null) return { kind: "whole" };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: "whole" };
  const [, a, b] = m;
  if (a === "" && b === "") return { kind: "whole" };
  if (a === "") {
    // "bytes=-N": the last N bytes.
    const n = Number(b);
    if (n === 0) return { kind: "unsatisfiable" };
    if (size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== "" && Number(b) < start) return { kind: "whole" }; // invalid: ignored
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end };
}

/** If-Range (§13.1.5): a range applies only while the client's copy is the current one. */
export function rangeStillValid(headers: { get(name: string): string | null }, f: FileFacts): boolean {
  const ifRange = headers.get("if-range");
  if (ifRange === null) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith("W/")) return v === etagOf(f); // strong comparison
  const date = Date.parse(v);
  return Number.isFinite(date) && seconds(date) === seconds(f.mtimeMs);
}

/** The headers every answer about an existing file carries. */
export function fileHeaders(rel: string, f: FileFacts): Record<string, string> {
  return {
    "content-type": contentType(rel),
    "last-modified": lastModified(f),
    etag: etagOf(f),
    "accept-ranges": "bytes",
  };
}
