/**
 * What the admin's rules make of a request before it is opened: the file name after the remap
 * rules (--map-file, --remap) and --strip-prefix, and the options left after --refuse. The name
 * still goes through confinement afterwards, so no rule can reach outside the root.
 */
import { toByteString } from "../../files/bytes-path.ts";
import { accessViolation, type TftpError } from "../../protocol/errors.ts";
import { Opcode, type RequestPacket } from "../../protocol/types.ts";
import { remap, type RemapRule } from "./remap.ts";

export interface RequestRules {
  remap?: readonly RemapRule[];
  /** in.tftpd without -s: clients name files by absolute path under this directory. */
  stripPrefix?: string;
  /** RFC 2347 options never granted (tftpd-hpa's -r), lower-case. */
  refuse?: readonly string[];
}

/** The request as the rules leave it, or the refusal an `a` rule (or a runaway rule set) calls for. */
export function rewriteRequest(packet: RequestPacket, address: string, rules: RequestRules): RequestPacket | TftpError {
  let name = packet.filename;
  if (rules.remap?.length) {
    const r = remap(rules.remap, name, { op: packet.op === Opcode.WRQ ? "put" : "get", address });
    if (r.kind === "denied") return accessViolation(r.message ?? "Access violation", `refused by remap rule on line ${r.line}: ${packet.filename}`);
    if (r.kind === "failed") return accessViolation("Remap table failure", `${r.reason}: ${packet.filename}`);
    name = r.name;
  }
  if (rules.stripPrefix) name = withoutPrefix(name, toByteString(rules.stripPrefix));
  let options = packet.options;
  if (rules.refuse?.length && [...options.keys()].some((k) => rules.refuse!.includes(k)))
    options = new Map([...options].filter(([k]) => !rules.refuse!.includes(k)));
  return name === packet.filename && options === packet.options ? packet : { ...packet, filename: name, options };
}

/** "/srv/tftp/pxelinux.0" → "pxelinux.0" for prefix "/srv/tftp"; other names unchanged. */
export function withoutPrefix(name: string, prefix: string): string {
  const dir = prefix.replace(/\/+$/, "");
  const abs = "/" + name.replace(/^\/+/, "");
  if (dir === "") return name;
  if (abs === dir) return name;
  return abs.startsWith(dir + "/") ? abs.slice(dir.length + 1) : name;
}
