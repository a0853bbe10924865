/**
 * From an HTTP request target to the name confine() is given. HTTP clients normalise their own
 * paths (curl, iPXE and UEFI firmware never send "..", "%2e%2e" or "%2f"), so anything of that
 * kind arriving here is a probe of the tree's edge: it is refused, never resolved. Pure.
 */

export interface PathRefusal {
  /** 400 for a malformed target, 403 for one that tries to leave or bend the root, 404 for "/". */
  status: 400 | 403 | 404;
  reason: string;
}

export type RequestPath = { ok: true; name: string } | ({ ok: false } & PathRefusal);

const refuse = (status: PathRefusal["status"], reason: string): RequestPath => ({ ok: false, status, reason });

/**
 * The path part of `url` as the client sent it. Bun hands fetch() an absolute URL built from the
 * request line; WHATWG parsing (new URL) would resolve "..", "%2e%2e" and backslashes before we
 * could see them, so the path is cut out of the string instead.
 */
export function rawPath(url: string): string {
  const scheme = url.indexOf("://");
  const afterHost = scheme < 0 ? 0 : url.indexOf("/", scheme + 3);
  const target = afterHost < 0 ? "/" : url.slice(afterHost);
  const end = target.search(/[?#]/);
  return end < 0 ? target : target.slice(0, end);
}

/**
 * Decodes `path` (the request target's path) strictly into a root-relative byte string (one char
 * per byte, as files/ expects: see bytes-path.ts). Refused: malformed escapes, encoded "/" or
 * "\" (a separator hidden from the checks), any backslash, NUL and control bytes, "." and ".."
 * segments however spelled (empty ones, "//", fold away: the name stays relative to the root),
 * and the root itself (no listings).
 */
export function decodeRequestPath(path: string): RequestPath {
  if (!path.startsWith("/")) return refuse(400, `request target is not a path: ${path.slice(0, 64)}`);
  if (path.length > 4096) return refuse(400, "request path too long");
  if (path === "/") return refuse(404, "no directory listings");
  const segments = path.slice(1).split("/");
  const out: string[] = [];
  for (const [i, raw] of segments.entries()) {
    // A trailing slash names a directory: there are no listings.
    if (raw === "" && i === segments.length - 1) return refuse(404, "no directory listings");
    // Repeated slashes fold into one, as nginx's merge_slashes does: shim asks "//grubaa64.efi"
    // (its own URL's directory joined with "/name"). "//etc/passwd" is then "etc/passwd" under
    // the root, which confinement resolves beneath it like any other name.
    if (raw === "") continue;
    let seg = "";
    for (let j = 0; j < raw.length; j++) {
      const c = raw.charCodeAt(j);
      if (c === 0x25) {
        const hex = raw.slice(j + 1, j + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) return refuse(400, `malformed percent escape in ${path.slice(0, 64)}`);
        const b = parseInt(hex, 16);
        if (b === 0x2f || b === 0x5c) return refuse(403, "encoded path separator");
        if (b < 0x20 || b === 0x7f) return refuse(400, "control character in path");
        seg += String.fromCharCode(b);
        j += 2;
        continue;
      }
      if (c === 0x5c) return refuse(403, "backslash in path");
      if (c < 0x20 || c === 0x7f) return refuse(400, "control character in path");
      // Non-ASCII arriving unescaped (some firmware): its UTF-8 bytes, as the disk has them.
      seg += c < 0x80 ? raw[j] : Buffer.from(raw[j]!, "utf8").toString("latin1");
    }
    if (seg === "." || seg === "..") return refuse(403, "dot segment in path");
    out.push(seg);
  }
  return { ok: true, name: out.join("/") };
}
