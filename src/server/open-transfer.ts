/**
 * From an admitted request to a transfer ready to start, either direction: the file confined
 * and opened (a read's source, an upload's temporary file), options negotiated, the machine
 * built (SendTransfer for an RRQ, ReceiveTransfer for a WRQ), and attached to a shared transfer
 * socket (its transfer ID). Throws a TftpError for the client, or an out-of-descriptors error
 * the server treats as a shortage, never a refusal.
 */
import type { FileCache } from "../files/cache.ts";
import { confine } from "../files/confine.ts";
import { closeTarget, confineUpload, type UploadTarget, type WritableDir } from "../files/confine-upload.ts";
import { openSource } from "../files/open.ts";
import type { FileSource } from "../files/source.ts";
import { openUpload, type UploadFile } from "../files/upload.ts";
import { diskFull } from "../protocol/errors.ts";
import { negotiateWrite, type NegotiationLimits } from "../protocol/options.ts";
import { encodeOack } from "../protocol/packet.ts";
import { Opcode, type RawOptions, type RequestPacket, type TransferMode } from "../protocol/types.ts";
import { ReceiveTransfer } from "../transfer/receive.ts";
import type { SharedRtoFloor } from "../transfer/rto.ts";
import { SendTransfer } from "../transfer/send.ts";
import { plainAddress } from "../records/address.ts";
import { offerLadder, startIndex } from "./offers/ladder.ts";
import { DEFAULT_QUIRK_MEMORY_SEC, type PickyClients } from "./offers/picky-clients.ts";
import { quirkRulesOf } from "./offers/quirk-rules.ts";
import type { BlockSizeLimiter } from "./offers/path-mtu.ts";
import type { Deadlines } from "./io/deadlines.ts";
import { Session, type TransferEnd } from "./io/session.ts";
import { peerKey } from "./io/transfer-port.ts";
import type { TransferPorts } from "./io/transfer-ports.ts";
import type { ServerConfig } from "./types.ts";
import type { TransferRecord } from "../records/transfer-record.ts";

/**
 * Payload one transfer may send back to back (window × block). A client's socket receive buffer
 * (Linux default 208 KiB, counted in kernel buffer sizes: a 4 KiB datagram costs 8 KiB of it, a
 * 64 KiB one ~70 KiB) must hold a whole window, or its last blocks are dropped every time and
 * each window ends in a timeout: 4 × 65464 or 16 × 8192 ran at ~3 MB/s before this cap. Also
 * bounds memory per transfer, so 10,000 clients fit in RAM.
 */
export const WINDOW_BYTES_MAX = 96 * 1024;

/**
 * What transfers learn from one another and the clock they read, handed in (server.ts gives its
 * process's own unless told otherwise) rather than reached here as module singletons. One per
 * worker process: a worker's clients share its CPU (and with it the scheduling delays that make
 * resends spurious), and a client meets one worker.
 */
export interface TransferPolicies {
  /** Monotonic ms. */
  now: () => number;
  /** Reads still waiting for their client's first answer, and what picky clients taught (offers/picky-clients.ts). */
  picky: PickyClients;
  /** --blksize-max lowered to what fits the MTU towards a client (offers/path-mtu.ts). */
  blockSizes: BlockSizeLimiter;
  /** What spurious resends taught the transfers about this process's scheduling delays (transfer/rto.ts). */
  rtoFloor: SharedRtoFloor;
}

/** --blksize-max, lowered to what fits the MTU of the interface towards the client (offers/path-mtu.ts). */
function blockSizeCeiling(req: TransferRequest, config: ServerConfig, policies: TransferPolicies): number {
  const asked = Number(req.packet.options.get("blksize"));
  return policies.blockSizes.ceiling({
    address: req.address,
    blockSizeMax: config.blockSizeMax,
    explicit: !!config.blockSizeMaxExplicit,
    asked: Number.isInteger(asked) ? asked : undefined,
    now: policies.now(),
  });
}

/** The options and limits a request negotiates with: --quirks rules for its client narrow them. */
function pinnedFor(req: TransferRequest, config: ServerConfig, policies: TransferPolicies): { requested: RawOptions; limits: NegotiationLimits; extraTimeoutMs: number } {
  const rule = quirkRulesOf(config.quirks)?.ruleFor(req.address);
  return {
    requested: rule?.noOptions ? new Map() : req.packet.options,
    limits: {
      blockSizeMax: Math.min(blockSizeCeiling(req, config, policies), rule?.blockSizeMax ?? Infinity),
      windowSizeMax: Math.min(config.windowSizeMax, rule?.windowSizeMax ?? Infinity),
      rollover: config.rollover,
      windowBytesMax: WINDOW_BYTES_MAX,
    },
    extraTimeoutMs: rule?.extraTimeoutMs ?? 0,
  };
}

export interface TransferRequest {
  /** The local address the request came in on: the transfer answers from it. */
  bindAddress: string;
  address: string;
  port: number;
  /** As the remap rules and --refuse left it (requests/rewrite.ts). */
  packet: RequestPacket;
  /** The name as the client sent it, for the log, when the rules changed it. */
  requested?: string;
  /** The request datagram's size: until the client answers, what it is sent is budgeted from it. */
  requestBytes?: number;
}

export interface OpenContext {
  /** The root in the byte-string form of files/. */
  realRoot: string;
  config: ServerConfig;
  cache: FileCache;
  deadlines: Deadlines;
  /** The --writable directories as checked at start-up; empty: anywhere in the root. */
  writable: WritableDir[];
  /** The shared transfer sockets: each transfer is given one on the address its request came in on. */
  ports: TransferPorts;
  policies: TransferPolicies;
}

export function openTransfer(req: TransferRequest, ctx: OpenContext, onEnd: (record: TransferRecord) => void): Promise<Session> {
  return req.packet.op === Opcode.WRQ ? openWrite(req, ctx, onEnd) : openRead(req, ctx, onEnd);
}

async function openRead(req: TransferRequest, ctx: OpenContext, onEnd: (record: TransferRecord) => void): Promise<Session> {
  const { config, cache, deadlines, realRoot, policies } = ctx;
  const { picky } = policies;
  const { packet } = req;
  let source: FileSource | undefined;
  let tracked: string | undefined;
  try {
    const mode = packet.mode as TransferMode;
    const file = confine(realRoot, packet.filename, { permissive: config.permissive });
    source = openSource(file, mode, cache);
    const now = policies.now();
    const peer = peerKey(req.address, req.port);
    const memoryMs = (config.quirkMemorySec ?? DEFAULT_QUIRK_MEMORY_SEC) * 1000;
    const pin = pinnedFor(req, config, policies);
    // The first offer, and the more conservative ones for a client that never takes it.
    const ladder = offerLadder(pin.requested, pin.limits, source.size);
    const start = picky.startLevel(peer, req.address, file.rel, now);
    const first = startIndex(ladder, start.level);
    const offer = ladder[first]!;
    const neg = offer.negotiation;
    const oack = offer.granted;
    const record = startRecord(req, "read", file.rel, mode, oack, source.size);
    const timeoutMs = config.timeoutMs + pin.extraTimeoutMs;
    const transfer = new SendTransfer(
      {
        peer: { address: req.address, port: req.port },
        options: neg.options,
        oack: offer.oack,
        probeable: offer.probeable,
        rto: {
          initialMs: timeoutMs,
          minMs: config.rtoMinMs + pin.extraTimeoutMs,
          maxMs: config.timeoutMaxMs + pin.extraTimeoutMs,
          floorMs: neg.options.timeoutSec ? neg.options.timeoutSec * 1000 : undefined,
          shared: policies.rtoFloor,
        },
        retries: config.retries,
        giveUpMs: Math.max(timeoutMs, (neg.options.timeoutSec ?? 0) * 1000) * config.retries,
        fallbacks: ladder.slice(first + 1),
        requestBytes: req.requestBytes,
        onFallback: (step, reason, at) => {
          const next = ladder[first + step]!;
          record.options = next.granted ? Object.fromEntries(next.granted) : {};
          picky.fellBack(peer, next.level, reason, at, memoryMs);
        },
      },
      source,
    );
    picky.track(peer, req.address, file.rel, transfer, { ...start, level: offer.level }, ladder[ladder.length - 1]!.level, now, memoryMs);
    tracked = peer;
    const untrack = (r: TransferRecord) => {
      picky.ended(peer, policies.now(), memoryMs);
      onEnd(r);
    };
    return Session.open({
      port: await ctx.ports.forTransfer(req.bindAddress, req.address, req.port, neg.options.windowSize > 1),
      transfer,
      file: source,
      report: () => sendEnd(transfer),
      deadlines,
      now: policies.now,
      record,
      onEnd: untrack,
    });
  } catch (err) {
    if (tracked) picky.ended(tracked, policies.now(), 0); // never started: nothing learned
    source?.close();
    throw err;
  }
}

/** What the transfer log and observers know from the start, whichever the direction. */
function startRecord(req: TransferRequest, direction: "read" | "write", rel: string, mode: TransferMode, oack: RawOptions | undefined, size: number) {
  return {
    direction,
    clientAddress: plainAddress(req.address),
    clientPort: req.port,
    requested: req.requested ?? req.packet.filename,
    file: rel,
    mode,
    options: oack ? Object.fromEntries(oack) : {},
    size,
  };
}

function sendEnd(t: SendTransfer): TransferEnd {
  const o = t.outcome!;
  return { bytes: t.bytesAcked, outcome: o.kind, reason: o.reason, errorCode: o.code, retransmits: t.retransmits };
}

/**
 * An upload (WRQ, with --create): the target confined by the write rules, the size cap checked
 * against the announced tsize before any data flows, the temporary file created, and the
 * receive machine opened with OACK or ACK 0.
 */
async function openWrite(req: TransferRequest, ctx: OpenContext, onEnd: (record: TransferRecord) => void): Promise<Session> {
  const { config, deadlines, realRoot, policies } = ctx;
  const { packet } = req;
  /** Its directory is open: closed here unless an upload took it over. */
  let target: UploadTarget | undefined;
  let upload: UploadFile | undefined;
  try {
    const mode = packet.mode as TransferMode;
    const overwrite = !!config.overwrite;
    target = confineUpload(realRoot, packet.filename, { writable: ctx.writable, overwrite });
    const pin = pinnedFor(req, config, policies);
    const neg = negotiateWrite(pin.requested, pin.limits);
    const maxBytes = config.uploadMaxBytes || undefined;
    if (maxBytes !== undefined && neg.tsize !== undefined && neg.tsize > maxBytes)
      throw diskFull(`${target.rel}: announced ${neg.tsize} bytes, --upload-max-mb allows ${maxBytes}`);
    upload = await openUpload(target, overwrite);
    const oack = neg.oack.size > 0 ? neg.oack : undefined;
    const timeoutMs = (neg.options.timeoutSec ? neg.options.timeoutSec * 1000 : config.timeoutMs) + pin.extraTimeoutMs;
    const transfer = new ReceiveTransfer(
      {
        client: { address: req.address, port: req.port },
        mode,
        granted: {
          blockSize: neg.options.blockSize,
          windowSize: neg.options.windowSize,
          tsize: neg.tsize,
          // The sender picks the number after 65535; only an announced one is known for sure.
          rollover: neg.oack.has("rollover") ? neg.options.rollover : undefined,
        },
        oack: oack ? encodeOack(oack) : undefined,
        timeoutMs,
        timeoutMaxMs: Math.max(timeoutMs, config.timeoutMaxMs),
        retries: config.retries,
        maxBytes,
      },
      upload,
    );
    return Session.open({
      port: ctx.ports.pick(req.bindAddress, req.address, req.port),
      transfer,
      file: upload,
      report: () => receiveEnd(transfer),
      deadlines,
      now: policies.now,
      lingerMs: timeoutMs,
      record: startRecord(req, "write", target.rel, mode, oack, neg.tsize ?? -1),
      onEnd,
    });
  } catch (err) {
    if (upload) upload.close();
    else if (target) closeTarget(target);
    throw err;
  }
}

function receiveEnd(t: ReceiveTransfer): TransferEnd {
  const o = t.outcome!;
  const retransmits = t.stats.timeouts;
  if (o.ok) return { bytes: t.bytes, outcome: "ok", retransmits };
  return { bytes: t.bytes, outcome: o.kind === "timeout" ? "timeout" : "error", reason: o.reason, errorCode: o.code, retransmits };
}
