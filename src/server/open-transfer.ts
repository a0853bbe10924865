/**
 * From an admitted request to a transfer ready to start: the file confined and opened, options
 * negotiated, the send machine built, its socket (the transfer ID) bound. Throws a TftpError for
 * the client, or an out-of-descriptors error the server treats as a shortage, never a refusal.
 */
import type { FileCache } from "../files/cache.ts";
import { confine } from "../files/confine.ts";
import { openSource } from "../files/open.ts";
import type { FileSource } from "../files/source.ts";
import { negotiate, withTsize } from "../protocol/options.ts";
import { encodeOack } from "../protocol/packet.ts";
import type { RequestPacket, TransferMode } from "../protocol/types.ts";
import { SendTransfer } from "../transfer/send.ts";
import { plainAddress } from "./address.ts";
import type { Deadlines } from "./deadlines.ts";
import { Session } from "./session.ts";
import type { ServerConfig, TransferRecord } from "./types.ts";

/**
 * Payload one transfer may send back to back (window × block). A client's socket receive buffer
 * (Linux default 208 KiB, counted in kernel buffer sizes: a 4 KiB datagram costs 8 KiB of it, a
 * 64 KiB one ~70 KiB) must hold a whole window, or its last blocks are dropped every time and
 * each window ends in a timeout: 4 × 65464 or 16 × 8192 ran at ~3 MB/s before this cap. Also
 * bounds memory per transfer, so 10,000 clients fit in RAM.
 */
export const WINDOW_BYTES_MAX = 96 * 1024;

/** The default send buffer (~208 KiB) holds a window of small blocks; ask for more only beyond that. */
function sendBufferFor(windowSize: number, blockSize: number): number {
  const need = windowSize * (blockSize + 64) * 2;
  return need <= 200_000 ? 0 : Math.min(2 * WINDOW_BYTES_MAX, need);
}


export interface TransferRequest {
  /** The local address the request came in on: the transfer answers from it. */
  bindAddress: string;
  address: string;
  port: number;
  packet: RequestPacket;
}

export interface OpenContext {
  /** The root in the byte-string form of files/. */
  realRoot: string;
  config: ServerConfig;
  cache: FileCache;
  deadlines: Deadlines;
}

export async function openTransfer(req: TransferRequest, ctx: OpenContext, onEnd: (record: TransferRecord) => void): Promise<Session> {
  const { config, cache, deadlines, realRoot } = ctx;
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
    return await Session.open({
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
      onEnd,
    });
  } catch (err) {
    source?.close();
    throw err;
  }
}
