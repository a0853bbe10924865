/**
 * RFC 2347 option negotiation, both directions. The server side (`negotiate`, `withTsize`)
 * answers only options the client asked for, understands and gives a valid value; everything
 * else is ignored (RFC 2347 §4), never refused. The client side (`requestOptions`, `checkOack`)
 * builds the request's options and holds the server's OACK to what was asked.
 */
import {
  DEFAULT_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  MAX_WINDOW_SIZE,
  MIN_BLOCK_SIZE,
  type RawOptions,
  type TransferOptions,
} from "./types.ts";

export interface NegotiationLimits {
  blockSizeMax: number;
  windowSizeMax: number;
  rollover: 0 | 1;
  /** Upper bound of blockSize × windowSize, the bytes one transfer may keep in flight. */
  windowBytesMax: number;
}

/** The server's answer to a request's options. */
export interface Negotiation {
  options: TransferOptions;
  /** Empty when no OACK is due: then DATA 1 answers the request directly. */
  oack: RawOptions;
  /** Set when the client asked for tsize: the value goes into the OACK once the size is known. */
  wantsTsize: boolean;
  /** The tsize value the client sent: 0 in a read request, the size of the file coming in a write. */
  tsize?: number;
}

/** Strict decimal: "0x10", "1e3", " 8", "" are not numbers on the wire. */
function decimal(value: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined;
  return Number(value);
}

export function negotiate(requested: RawOptions, limits: NegotiationLimits): Negotiation {
  const options: TransferOptions = { blockSize: DEFAULT_BLOCK_SIZE, windowSize: 1, rollover: limits.rollover };
  const oack: RawOptions = new Map();
  let wantsTsize = false;
  let tsize: number | undefined;

  for (const [name, raw] of requested) {
    const value = decimal(raw);
    switch (name) {
      case "blksize":
        if (value === undefined || value < MIN_BLOCK_SIZE) break;
        options.blockSize = Math.min(value, MAX_BLOCK_SIZE, limits.blockSizeMax);
        oack.set(name, String(options.blockSize));
        break;
      case "timeout":
        if (value === undefined || value < 1 || value > 255) break;
        options.timeoutSec = value;
        oack.set(name, String(value));
        break;
      case "tsize":
        // RFC 2349: a read request carries 0; any number is accepted and answered with the size.
        if (value === undefined) break;
        wantsTsize = true;
        tsize = value;
        oack.set(name, "0"); // placeholder keeps the client's option order; filled in by withTsize
        break;
      case "windowsize":
        if (value === undefined || value < 1 || value > MAX_WINDOW_SIZE) break;
        options.windowSize = Math.min(value, limits.windowSizeMax);
        oack.set(name, String(options.windowSize));
        break;
      case "rollover":
        // Some clients announce the rollover they expect; honour 0 or 1 when asked.
        if (value !== 0 && value !== 1) break;
        options.rollover = value;
        oack.set(name, String(value));
        break;
    }
  }

  // A huge window of huge blocks would pin memory per client; shrink the window, not the block.
  const windowCap = Math.max(1, Math.floor(limits.windowBytesMax / options.blockSize));
  if (options.windowSize > windowCap) {
    options.windowSize = windowCap;
    if (oack.has("windowsize")) oack.set("windowsize", String(windowCap));
  }
  return { options, oack, wantsTsize, tsize };
}

/**
 * The server's answer to a write request's options: the same rules as a read, except that tsize
 * carries the size of the file coming (RFC 2349), which the OACK echoes as the client sent it.
 * `tsize` is that size, for a cap to be checked before any data flows.
 */
export function negotiateWrite(requested: RawOptions, limits: NegotiationLimits): Negotiation {
  const neg = negotiate(requested, limits);
  if (neg.tsize !== undefined) neg.oack.set("tsize", String(neg.tsize));
  return neg;
}

/**
 * The OACK with the real transfer size filled in (RFC 2349). Empty files never get here: they
 * are answered without an OACK (server/offers/ladder.ts), since curl 7.88 rejects "tsize 0" and a
 * strict client rejects an OACK that leaves the tsize it asked out.
 */
export function withTsize(oack: RawOptions, size: number): RawOptions {
  if (!oack.has("tsize")) return oack;
  const out: RawOptions = new Map(oack);
  out.set("tsize", String(size));
  return out;
}

/** What a client asks for. Options left undefined are not requested. */
export interface OptionRequest {
  blockSize?: number;
  windowSize?: number;
  /** RFC 2349 timeout in seconds. */
  timeoutSec?: number;
  /** Ask for the transfer size (RFC 2349). */
  tsize?: boolean;
}

/** The parameters a client has in force after the server's OACK, or after DATA that came without one. */
export interface Granted {
  blockSize: number;
  windowSize: number;
  tsize?: number;
  /** Only when the OACK names it: the wire does not say which number follows 65535. */
  rollover?: 0 | 1;
  /** The raw OACK as the server sent it; undefined when the server answered with DATA. */
  oack?: Record<string, string>;
}

/** Without an OACK (RFC 1350): what a server that ignores the options gives. */
export const PLAIN_GRANT: Readonly<Granted> = { blockSize: DEFAULT_BLOCK_SIZE, windowSize: 1 };

/** The request's options, in a fixed order: blksize, windowsize, timeout, tsize. */
export function requestOptions(req: OptionRequest): RawOptions {
  const o: RawOptions = new Map();
  if (req.blockSize !== undefined) o.set("blksize", String(req.blockSize));
  if (req.windowSize !== undefined) o.set("windowsize", String(req.windowSize));
  if (req.timeoutSec !== undefined) o.set("timeout", String(req.timeoutSec));
  if (req.tsize) o.set("tsize", "0");
  return o;
}

/**
 * Holds an OACK to what we asked (RFC 2347: the server may only lower blksize and windowsize,
 * must echo timeout, and may not answer options we did not send; rollover is the one it may
 * volunteer). A string is the refusal reason, which goes back to the server in ERROR 8.
 */
export function checkOack(options: RawOptions, req: OptionRequest): Granted | string {
  const asked = requestOptions(req);
  const granted: Granted = { ...PLAIN_GRANT, oack: Object.fromEntries(options) };
  for (const [name, raw] of options) {
    if (!asked.has(name) && name !== "rollover") return `option ${name} was not requested`;
    const value = decimal(raw);
    if (value === undefined) return `bad value for ${name}: '${raw}'`;
    switch (name) {
      case "blksize":
        if (value < MIN_BLOCK_SIZE || value > Math.min(req.blockSize!, MAX_BLOCK_SIZE)) {
          return `blksize ${value} outside 8..${req.blockSize}`;
        }
        granted.blockSize = value;
        break;
      case "windowsize":
        if (value < 1 || value > Math.min(req.windowSize!, MAX_WINDOW_SIZE)) {
          return `windowsize ${value} outside 1..${req.windowSize}`;
        }
        granted.windowSize = value;
        break;
      case "timeout":
        if (value !== req.timeoutSec) return `timeout ${value} differs from the requested ${req.timeoutSec}`;
        break;
      case "tsize":
        granted.tsize = value;
        break;
      case "rollover":
        if (value !== 0 && value !== 1) return `rollover ${value} is neither 0 nor 1`;
        granted.rollover = value;
        break;
    }
  }
  return granted;
}

/** The largest blksize the first fallback offers: what OVMF builds that choke on more boot with. */
export const FALLBACK_BLOCK_SIZE = 1024;

/**
 * The requests a server may answer instead of `requested`, each more conservative, for a client
 * that never took the first offer. Level 1: blksize at most FALLBACK_BLOCK_SIZE and no windowsize
 * (tsize and timeout stay: PXE ROMs size their buffer from tsize). Level 2: no options at all
 * (RFC 1350: DATA 1 answers the request). A level that would change nothing is left out.
 */
export function fallbackRequests(requested: RawOptions): { level: 1 | 2; request: RawOptions }[] {
  const out: { level: 1 | 2; request: RawOptions }[] = [];
  const gentle: RawOptions = new Map();
  for (const [name, raw] of requested) {
    if (name === "windowsize") continue;
    if (name === "blksize") {
      const value = decimal(raw);
      gentle.set(name, value !== undefined && value > FALLBACK_BLOCK_SIZE ? String(FALLBACK_BLOCK_SIZE) : raw);
    } else gentle.set(name, raw);
  }
  const changed = gentle.size !== requested.size || [...gentle].some(([k, v]) => requested.get(k) !== v);
  if (changed && gentle.size > 0) out.push({ level: 1, request: gentle });
  if (requested.size > 0) out.push({ level: 2, request: new Map() });
  return out;
}
