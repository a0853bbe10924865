/**
 * `pxeboot get` without the CLI: resolve the URI, run one download into a sink, report progress.
 * Kept apart from the flag parsing so tests and other commands can call it directly.
 */
import { ErrorCode, type TransferMode } from "../protocol/types.ts";
import { describe, download, type DownloadResult } from "./download.ts";
import type { Sink } from "./file-sink.ts";
import { bar, formatBytes, formatDuration, formatRate } from "./format.ts";
import type { StatusLine } from "./status-line.ts";
import { resolveHost, type TftpUri } from "./uri.ts";

export interface FetchOptions {
  uri: TftpUri;
  mode: TransferMode;
  blockSize?: number;
  windowSize?: number;
  timeoutMs: number;
  retries: number;
  sink: Sink;
  status: StatusLine;
  signal?: AbortSignal;
}

export class FetchError extends Error {
  override name = "FetchError";
  constructor(
    message: string,
    /** The TFTP error code when the server refused. */
    readonly code?: number,
  ) {
    super(message);
  }
}

export async function fetchFile(o: FetchOptions): Promise<DownloadResult> {
  const address = await resolveHost(o.uri.host);
  let tsize: number | undefined;
  let wire = 0;
  const started = performance.now();
  const progress = () => {
    const ms = performance.now() - started;
    const rate = formatRate(wire, ms);
    if (tsize) return `${bar(wire / tsize)} ${formatBytes(wire)} / ${formatBytes(tsize)}  ${rate}`;
    return `${formatBytes(wire)}  ${rate}`;
  };

  const attempt = (withOptions: boolean) =>
    download({
      server: { address, port: o.uri.port },
      filename: o.uri.file,
      mode: o.mode,
      blockSize: withOptions ? o.blockSize : undefined,
      windowSize: withOptions ? o.windowSize : undefined,
      tsize: withOptions,
      timeoutMs: o.timeoutMs,
      timeoutMaxMs: o.timeoutMs * 4,
      retries: o.retries,
      signal: o.signal,
      onChunk(chunk, transfer) {
        o.sink.write(chunk);
        wire = transfer.stats.wireBytes;
        tsize = transfer.negotiated.tsize;
        o.status.update(progress);
      },
    });

  let result: DownloadResult;
  try {
    result = await attempt(true);
    const out = result.outcome;
    // RFC 2347: a server that refuses the options with ERROR 8 may be asked again without them
    // (tftpd-hpa does this for tsize in netascii mode).
    if (!out.ok && out.kind === "remote" && out.code === ErrorCode.OPTION_REFUSED && result.stats.wireBytes === 0) {
      result = await attempt(false);
    }
  } catch (err) {
    o.status.clear();
    o.sink.discard();
    throw err;
  }
  o.status.clear();

  const out = result.outcome;
  if (!out.ok) {
    o.sink.discard();
    const where = `${describe({ address, port: o.uri.port })} ${o.uri.file}`;
    if (out.kind === "remote") throw new FetchError(`server refused ${where}: ${out.reason} (TFTP error ${out.code})`, out.code);
    throw new FetchError(`${where}: ${out.reason}`, "code" in out ? out.code : undefined);
  }
  o.sink.commit();
  return result;
}

/** The one-line summary: bytes, time, rate, and what was negotiated. */
export function summary(r: DownloadResult, target: string): string {
  const bytes = r.outcome.ok ? r.outcome.bytes : 0;
  const n = r.negotiated;
  const parts = [`blksize ${n.blockSize}`];
  if (n.windowSize > 1) parts.push(`windowsize ${n.windowSize}`);
  if (r.stats.timeouts) parts.push(`${r.stats.timeouts} timeouts`);
  if (r.stats.duplicates) parts.push(`${r.stats.duplicates} duplicate blocks`);
  return `${bytes} bytes → ${target} in ${formatDuration(r.durationMs)} (${formatRate(bytes, r.durationMs)}; ${parts.join(", ")})`;
}
