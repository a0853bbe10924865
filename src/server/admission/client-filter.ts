/**
 * --allow / --deny: which client addresses get an answer at all. A request from elsewhere is
 * not answered (an ERROR would confirm a TFTP server is there). Deny wins over allow; with no
 * --allow every address not denied is allowed. IPv4-mapped IPv6 addresses (dual-stack sockets)
 * match IPv4 blocks.
 */
import { isIP } from "node:net";

export interface Block {
  /** 4 or 16 bytes. */
  network: Uint8Array;
  bits: number;
}

export interface ClientFilter {
  allows(address: string): boolean;
}

/** Parses "192.168.0.0/24", "10.0.0.5", "fd00::/8"; throws with the fix on anything else. */
export function parseCidr(text: string, flag: string): Block {
  const [addr, bitsText, extra] = text.trim().split("/");
  const family = isIP(addr ?? "");
  if (!addr || !family || extra !== undefined)
    throw new Error(`${flag} needs an address or CIDR block (192.168.0.0/24, fd00::/8), got '${text}'`);
  const bytes = addressBytes(addr)!;
  const max = bytes.length * 8;
  const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= max)) throw new Error(`${flag} '${text}': the prefix length must be 0 to ${max}`);
  return { network: masked(bytes, bits), bits };
}

export function addressBytes(address: string): Uint8Array | undefined {
  const plain = address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
  if (isIP(plain) === 4) return Uint8Array.from(plain.split(".").map(Number));
  if (isIP(plain) !== 6) return undefined;
  // Expand "::" and any embedded IPv4 tail into 8 groups.
  let text = plain.replace(/%.*$/, "");
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split(".").map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g || "0", 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 255;
  });
  return out;
}

function masked(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i]! &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

export function contains(block: Block, bytes: Uint8Array): boolean {
  if (bytes.length !== block.network.length) return false;
  const m = masked(bytes, block.bits);
  for (let i = 0; i < m.length; i++) if (m[i] !== block.network[i]) return false;
  return true;
}

export function clientFilter(allow: string[], deny: string[]): ClientFilter | undefined {
  if (allow.length === 0 && deny.length === 0) return undefined;
  const allowed = allow.map((a) => parseCidr(a, "--allow"));
  const denied = deny.map((d) => parseCidr(d, "--deny"));
  // A storm asks about the same few thousand hosts over and over: remember the answers.
  const seen = new Map<string, boolean>();
  return {
    allows(address) {
      let ok = seen.get(address);
      if (ok !== undefined) return ok;
      const bytes = addressBytes(address);
      ok = !!bytes && !denied.some((b) => contains(b, bytes)) && (allowed.length === 0 || allowed.some((b) => contains(b, bytes)));
      if (seen.size >= 65536) seen.clear();
      seen.set(address, ok);
      return ok;
    },
  };
}
