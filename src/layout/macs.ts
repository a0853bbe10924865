/**
 * Which MAC a client address belongs to, for install-once of hosts registered by MAC
 * (pxelinux.cfg/01-<mac>). A marker fetch carries only the client's IP, and the names a client
 * asks for prove nothing about who it is: any host may ask for another's `01-<mac>` and then for
 * the marker, which would end that host's install. So the MAC comes only from what a client
 * cannot choose by asking:
 *
 *   1. the kernel's neighbour table (/proc/net/arp): for a host on this segment, the MAC its
 *      frames came from, current since it has just talked to us. A routed host (behind a DHCP
 *      relay) is never in it under its own address, so it cannot yield a wrong MAC.
 *   2. a binding the sysadmin made: `pxeboot host add MAC PROFILE --ip IP`, one small file per
 *      address under the tree's state directory, used up by the install it was made for.
 *
 * What remains is a flat network's own weakness: a host that forges another's IP and MAC on the
 * wire looks like it to the kernel too (README, "What install-once trusts").
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.ts";
import { hexIpName, parseIPv4, parseMac, type Mac } from "./hexip.ts";
import { MAC_DIR } from "./paths.ts";

export type MacSource = "neighbour table" | "host add --ip";

export interface MacLookup {
  mac: Mac;
  source: MacSource;
}

/** Marks a binding file as made by `host add --ip`; older files (learned from requests) lack it and are ignored. */
const BINDING_SOURCE = "host add --ip";

/** The file (relative to the root) that binds one client address to a MAC. */
export function macRecordFile(address: string): string {
  const ip = parseIPv4(address);
  // IPv6 has no pxelinux hex name; ':' is awkward in file names on some NFS exports.
  const key = ip !== undefined ? hexIpName(ip) : `ip6-${address.toLowerCase().replace(/:/g, "-")}`;
  return `${MAC_DIR}/${key}`;
}

/** One line of /proc/net/arp: "IP  HW-type  Flags  HW-address  Mask  Device". */
export function parseNeighbourTable(text: string, address: string): Mac | undefined {
  for (const line of text.split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] !== address || cols.length < 4) continue;
    // 0x2 = ATF_COM: resolved. An incomplete entry has an all-zero address.
    if ((parseInt(cols[2]!, 16) & 0x2) === 0) continue;
    const mac = parseMac(cols[3]!);
    if (mac && mac !== "00:00:00:00:00:00") return mac;
  }
  return undefined;
}

/** The MAC of the host at `address` now, and where it was found; undefined when unknown. */
export function lookupMac(root: string, address: string, neighbourTable = "/proc/net/arp"): MacLookup | undefined {
  const fromTable = readNeighbour(neighbourTable, address);
  if (fromTable) return { mac: fromTable, source: "neighbour table" };
  const bound = readBinding(root, macRecordFile(address));
  return bound ? { mac: bound, source: BINDING_SOURCE } : undefined;
}

/** `host add MAC --ip IP`: the marker fetch from `address` ends the install of `mac`. */
export function bindMac(root: string, address: string, mac: Mac): string {
  const rel = macRecordFile(address);
  writeFileAtomic(join(root, rel), JSON.stringify({ host: address, mac, source: BINDING_SOURCE, time: new Date().toISOString() }) + "\n", 0o644);
  return rel;
}

/** The install used the binding up (a reinstall is bound again with `host add`). */
export function unbindAddress(root: string, address: string): void {
  rmSync(join(root, macRecordFile(address)), { force: true });
}

/** `host remove MAC`: every binding to `mac` goes with its entries. Returns the files removed. */
export function unbindMac(root: string, mac: Mac): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(root, MAC_DIR));
  } catch {
    return removed;
  }
  for (const n of names) {
    const rel = `${MAC_DIR}/${n}`;
    if (readBinding(root, rel) !== mac) continue;
    rmSync(join(root, rel), { force: true });
    removed.push(rel);
  }
  return removed;
}

function readNeighbour(table: string, address: string): Mac | undefined {
  if (parseIPv4(address) === undefined) return undefined;
  try {
    return parseNeighbourTable(readFileSync(table, "utf8"), address);
  } catch {
    return undefined; // no /proc (a container), or not Linux
  }
}

function readBinding(root: string, rel: string): Mac | undefined {
  try {
    const rec = JSON.parse(readFileSync(join(root, rel), "utf8")) as { mac?: unknown; source?: unknown };
    return rec.source === BINDING_SOURCE && typeof rec.mac === "string" ? parseMac(rec.mac) : undefined;
  } catch {
    return undefined;
  }
}
