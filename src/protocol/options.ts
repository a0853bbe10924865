/**
 * RFC 2347 option negotiation for a read request: decides the transfer parameters and the OACK.
 * Only options the client asked for, that we understand and that carry a valid value, are
 * answered; everything else is ignored (RFC 2347 §4), never refused.
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

export interface Negotiated {
  options: TransferOptions;
  /** Empty when no OACK is due: then DATA 1 answers the request directly. */
  oack: RawOptions;
  /** Set when the client asked for tsize: the value goes into the OACK once the size is known. */
  wantsTsize: boolean;
}

/** Strict decimal: "0x10", "1e3", " 8", "" are not numbers on the wire. */
function decimal(value: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined;
  return Number(value);
}

export function negotiate(requested: RawOptions, limits: NegotiationLimits): Negotiated {
  const options: TransferOptions = { blockSize: DEFAULT_BLOCK_SIZE, windowSize: 1, rollover: limits.rollover };
  const oack: RawOptions = new Map();
  let wantsTsize = false;

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
  return { options, oack, wantsTsize };
}

/**
 * The OACK with the real transfer size filled in (RFC 2349). An empty file's tsize is left out
 * (RFC 2347 lets a server omit any option): curl 7.88 rejects "tsize 0" in an OACK and never
 * acknowledges it, which made an empty install marker unfetchable with the documented command.
 * The result may be empty; then no OACK is sent and DATA 1 answers the request.
 */
export function withTsize(oack: RawOptions, size: number): RawOptions {
  if (!oack.has("tsize")) return oack;
  const out: RawOptions = new Map(oack);
  if (size === 0) out.delete("tsize");
  else out.set("tsize", String(size));
  return out;
}
