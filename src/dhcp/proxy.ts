/**
 * One datagram in, at most one reply out: the whole proxyDHCP without sockets. The responder
 * (responder.ts) only moves bytes; everything it must decide is decided here, with `now` given.
 */
import { buildDhcp, parseDhcp } from "./packet.ts";
import { chooseBoot, type BootPolicy, type TreeFacts } from "./boot-choice.ts";
import { classify, type PxeRequest, type RequestPort } from "./pxe-request.ts";
import { buildReply, replyDestination, type Destination } from "./reply.ts";
import type { StormGuard } from "./storm-guard.ts";
import type { ProxyDhcpTotals } from "../server/observe/server-metrics.ts";

/** Running totals for --metrics (declared beside the metrics, which server/ may not import from dhcp/). */
export type ProxyDhcpCounts = ProxyDhcpTotals;

export const newProxyDhcpCounts = (): ProxyDhcpCounts => ({ offers: 0, acks: 0, ignored: 0, malformed: 0, duplicates: 0, limited: 0 });

export interface ProxyContext {
  tree: TreeFacts;
  policy: BootPolicy;
  guard: StormGuard;
  counts: ProxyDhcpCounts;
}

/** A line for the log: at most one per host per boot (info), the rest at debug. */
export interface ProxyLogLine {
  level: "info" | "debug";
  message: string;
  fields: Record<string, string | number | boolean | undefined>;
}

export interface ProxyOutcome {
  reply?: { bytes: Uint8Array; to: Destination };
  log?: ProxyLogLine;
  /** The boot file offered, and to whom (for the boot records). */
  offered?: { mac: string; file: string };
}

export function answerDatagram(
  ctx: ProxyContext,
  bytes: Uint8Array,
  from: { address: string; port: number },
  port: RequestPort,
  serverAddress: string,
  now: number,
): ProxyOutcome {
  const parsed = parseDhcp(bytes);
  if (!parsed.ok) {
    ctx.counts.malformed++;
    return { log: { level: "debug", message: "proxy DHCP: not a DHCP packet, ignored", fields: { from: from.address, reason: parsed.reason } } };
  }
  const c = classify(parsed.packet, port);
  if (!c.pxe) {
    ctx.counts.ignored++;
    return { log: { level: "debug", message: "proxy DHCP: ignored", fields: { from: from.address, reason: c.reason } } };
  }
  const req = c.request;
  const admitted = ctx.guard.admit(req.mac, req.xid, `${req.kind}/${port}`, now);
  if (admitted === "duplicate") {
    ctx.counts.duplicates++;
    return {};
  }
  if (admitted === "limited") {
    ctx.counts.limited++;
    return { log: { level: "debug", message: "proxy DHCP: over the per-host rate, not answered", fields: { mac: req.mac } } };
  }
  const choice = chooseBoot(req, ctx.tree, ctx.policy, serverAddress);
  const fields = describe(req);
  if (!choice.answer) {
    ctx.counts.ignored++;
    const level = ctx.guard.shouldLog(req.mac, choice.reason, now) ? "info" : "debug";
    return { log: { level, message: "proxy DHCP: no netboot offer", fields: { ...fields, reason: choice.reason } } };
  }
  const reply = buildReply(req, parsed.packet, choice.file, choice.discoveryControl, serverAddress);
  if (req.kind === "discover") ctx.counts.offers++;
  else ctx.counts.acks++;
  // The DISCOVER and the 4011 REQUEST of one boot decide the same: one info line for both.
  const level = ctx.guard.shouldLog(req.mac, choice.file, now) ? "info" : "debug";
  return {
    reply: { bytes: buildDhcp(reply), to: replyDestination(req, from) },
    offered: { mac: req.mac, file: choice.file },
    log: {
      level,
      message: req.kind === "discover" ? "proxy DHCP: boot offer" : "proxy DHCP: boot file acknowledged (port 4011)",
      fields: { ...fields, file: choice.file, profile: choice.profile, registered: choice.registered, server: serverAddress },
    },
  };
}

function describe(req: PxeRequest): Record<string, string | number | boolean | undefined> {
  return {
    mac: req.mac,
    arch: req.arch,
    archFrom: req.archFrom === "option 93" ? undefined : req.archFrom,
    vendorClass: req.vendorClass,
    userClass: req.userClass,
    ipxe: req.ipxe || undefined,
    relay: req.giaddr !== "0.0.0.0" ? req.giaddr : undefined,
  };
}
