/**
 * RFC 3617 TFTP URIs: tftp://HOST[:PORT]/FILE[;mode=netascii|octet]. IPv6 literals go in
 * brackets; the file part is percent-decoded; host names are resolved separately (resolveHost)
 * because the socket layer wants IP literals.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { TransferMode } from "../protocol/types.ts";

export interface TftpUri {
  /** As written, without brackets. */
  host: string;
  port: number;
  /** The file name to put in the RRQ (no leading slash: RFC 3617 §2 strips the first one). */
  file: string;
  /** Only when the URI said so; callers fall back to their own default. */
  mode?: TransferMode;
}

export class UriError extends Error {
  override name = "UriError";
}

export function parseTftpUri(input: string): TftpUri {
  const m = /^tftp:\/\/(\[[^\]]*\]|[^/:[\]]*)(?::([0-9]*))?\/(.*)$/i.exec(input);
  if (!m) throw new UriError(`not a TFTP URI: '${input}' (expected tftp://HOST[:PORT]/FILE)`);
  const [, rawHost, rawPort, rawPath] = m as unknown as [string, string, string | undefined, string];
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost;
  if (!host) throw new UriError(`no host in '${input}'`);
  if (rawHost.startsWith("[") && isIP(host) !== 6) throw new UriError(`'${host}' in brackets is not an IPv6 address`);

  let port = 69;
  if (rawPort !== undefined && rawPort !== "") {
    port = Number(rawPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UriError(`bad port '${rawPort}' in '${input}'`);
  }

  let path = rawPath;
  let mode: TransferMode | undefined;
  const semi = path.lastIndexOf(";");
  if (semi >= 0) {
    const param = /^mode=(.*)$/i.exec(path.slice(semi + 1));
    if (param) {
      const value = param[1]!.toLowerCase();
      if (value !== "netascii" && value !== "octet") throw new UriError(`unsupported mode '${param[1]}' (octet or netascii)`);
      mode = value;
      path = path.slice(0, semi);
    }
  }
  let file: string;
  try {
    file = decodeURIComponent(path);
  } catch {
    throw new UriError(`bad percent-encoding in '${path}'`);
  }
  if (!file) throw new UriError(`no file name in '${input}'`);
  if (file.includes("\0")) throw new UriError("the file name contains NUL");
  return { host, port, file, mode };
}

/** An IP literal for `host`: literals pass through, names go through the system resolver. */
export async function resolveHost(host: string): Promise<string> {
  if (isIP(host)) return host;
  try {
    const { address } = await lookup(host);
    return address;
  } catch (err) {
    throw new UriError(`cannot resolve '${host}': ${(err as { code?: string }).code ?? String(err)}`);
  }
}
