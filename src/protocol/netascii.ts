/**
 * Netascii (RFC 764 as used by RFC 1350): on the wire every line ends in CR LF and a bare CR is
 * CR NUL. Files on disk use LF. Conversion is whole-buffer: netascii is for small text files, and
 * knowing the converted size up front is what RFC 2349 tsize needs.
 */
const CR = 13;
const LF = 10;
const NUL = 0;

/** Local (LF) text to wire form: LF → CR LF, CR → CR NUL. */
export function toNetascii(local: Uint8Array): Uint8Array {
  let extra = 0;
  for (let i = 0; i < local.length; i++) if (local[i] === LF || local[i] === CR) extra++;
  if (extra === 0) return local;
  const out = new Uint8Array(local.length + extra);
  let o = 0;
  for (let i = 0; i < local.length; i++) {
    const c = local[i]!;
    if (c === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (c === CR) {
      out[o++] = CR;
      out[o++] = NUL;
    } else out[o++] = c;
  }
  return out;
}

/**
 * Streaming wire-to-local decoder for the receiving side: a CR may end one block and its LF or
 * NUL start the next, so the pending CR is carried between calls.
 */
export class NetasciiDecoder {
  private pendingCr = false;

  push(wire: Uint8Array): Uint8Array {
    const out = new Uint8Array(wire.length + 1);
    let o = 0;
    for (let i = 0; i < wire.length; i++) {
      const c = wire[i]!;
      if (this.pendingCr) {
        this.pendingCr = false;
        if (c === LF) {
          out[o++] = LF;
          continue;
        }
        out[o++] = CR;
        if (c === NUL) continue;
      }
      if (c === CR) this.pendingCr = true;
      else out[o++] = c;
    }
    return out.subarray(0, o);
  }

  /** A CR at the very end of the file had no partner: keep it as a CR. */
  end(): Uint8Array {
    if (!this.pendingCr) return new Uint8Array(0);
    this.pendingCr = false;
    return Uint8Array.of(CR);
  }
}

export function fromNetascii(wire: Uint8Array): Uint8Array {
  const d = new NetasciiDecoder();
  const a = d.push(wire);
  const b = d.end();
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
