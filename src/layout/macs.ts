/**
 * Which MAC a client address belongs to, for install-once of hosts registered by MAC
 * (pxelinux.cfg/01-<mac>). A marker fetch carries only the client's IP, so the MAC has to come
 * from somewhere that every worker, every restart and every server on a shared NFS root can see:
 *
 *   1. the kernel's neighbour table (/proc/net/arp): authoritative for hosts on this segment, and
 *      current, since the host has just sent us a packet. A routed host (behind a DHCP relay) is
 *      never in it under its own address, so it cannot yield a wrong MAC.
 *   2. what a server learned from the host's own `01-<mac>` (or grub/iPXE mac-) request at PXE
 *      time, persisted under the tree's state directory, one small file per host.
 *
 * Learned associations are written off the event loop, a few at a time (a boot storm of 10,000
 * hosts must not stall transfers or eat descriptors), each by an atomic rename. The directory is
 * bounded: past MAX_RECORDS the least recently learned are pruned.
 */
import { readFileSync } from "node:fs";
import { lstat, mkdir, readdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { tempName } from "./atomic.ts";
import { hexIpName, parseIPv4, parseMac, type Mac } from "./hexip.ts";
import { MAC_DIR } from "./paths.ts";

/** Hosts whose association is kept; a boot storm of this many hosts still fits. */
export const MAX_RECORDS = 16384;
/** Writes in flight at once: enough to keep up with a storm, few enough to leave descriptors. */
const WRITE_CONCURRENCY = 4;
/** A host that asks for its MAC name again within this time is not written again. */
const REWRITE_AFTER_MS = 60_000;

export type MacSource = "neighbour table" | "learned";

export interface MacLookup {
  mac: Mac;
  source: MacSource;
}

/** The file (relative to the root) that holds what was learned about one client address. */
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

export interface MacRegistryOptions {
  root: string;
  /** Where the neighbour table is read; tests point this at a file of their own. */
  neighbourTable?: string;
  /** Told about write failures (the association then lives only in this process). */
  onError?: (what: string, err: unknown) => void;
}

export class MacRegistry {
  private readonly root: string;
  private readonly neighbourTable: string;
  private readonly onError: (what: string, err: unknown) => void;
  /** What this process learned and when it last wrote it; also the fallback if writes fail. */
  private readonly known = new Map<string, { mac: Mac; writtenAt: number }>();
  /** Learned, not yet on disk: newest per address. */
  private readonly pending = new Map<string, Mac>();
  private writers = 0;
  private newFiles = 0;
  private idle: (() => void)[] = [];
  private readonly removals = new Set<Promise<void>>();

  constructor(opts: MacRegistryOptions) {
    this.root = opts.root;
    this.neighbourTable = opts.neighbourTable ?? "/proc/net/arp";
    this.onError = opts.onError ?? (() => {});
  }

  /** The client at `address` asked for a per-host name of `mac`. */
  learn(address: string, mac: Mac, now = Date.now()): void {
    const had = this.known.get(address);
    if (had && had.mac === mac && now - had.writtenAt < REWRITE_AFTER_MS) return;
    this.known.delete(address); // re-insert at the back: the map evicts the least recently seen
    this.known.set(address, { mac, writtenAt: now });
    if (this.known.size > MAX_RECORDS) this.known.delete(this.known.keys().next().value!);
    this.pending.set(address, mac);
    this.pump();
  }

  /** The MAC of the host at `address` now, and where it was found; undefined when unknown. */
  lookup(address: string): MacLookup | undefined {
    const fromTable = this.readNeighbour(address);
    if (fromTable) return { mac: fromTable, source: "neighbour table" };
    const mac = this.pending.get(address) ?? this.readRecord(address) ?? this.known.get(address)?.mac;
    return mac ? { mac, source: "learned" } : undefined;
  }

  /** The host finished installing: its association is used up (a reinstall boots and learns again). */
  forget(address: string): Promise<void> {
    this.known.delete(address);
    this.pending.delete(address);
    const done = unlink(join(this.root, macRecordFile(address))).catch(() => {});
    this.removals.add(done);
    void done.finally(() => this.removals.delete(done));
    return done;
  }

  /** Resolves once every learned association is on disk (or failed); the server awaits it on stop. */
  async flush(): Promise<void> {
    await Promise.all(this.removals);
    if (this.writers === 0 && this.pending.size === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private readNeighbour(address: string): Mac | undefined {
    if (parseIPv4(address) === undefined) return undefined;
    try {
      return parseNeighbourTable(readFileSync(this.neighbourTable, "utf8"), address);
    } catch {
      return undefined; // no /proc (a container), or not Linux
    }
  }

  private readRecord(address: string): Mac | undefined {
    try {
      const rec = JSON.parse(readFileSync(join(this.root, macRecordFile(address)), "utf8")) as { mac?: unknown };
      return typeof rec.mac === "string" ? parseMac(rec.mac) : undefined;
    } catch {
      return undefined;
    }
  }

  private pump(): void {
    while (this.writers < WRITE_CONCURRENCY && this.pending.size > 0) {
      const [address, mac] = this.pending.entries().next().value!;
      this.pending.delete(address);
      this.writers++;
      void this.write(address, mac).finally(() => {
        this.writers--;
        this.pump();
        if (this.writers === 0 && this.pending.size === 0) for (const r of this.idle.splice(0)) r();
      });
    }
  }

  private async write(address: string, mac: Mac): Promise<void> {
    const path = join(this.root, macRecordFile(address));
    const body = JSON.stringify({ host: address, mac, time: new Date().toISOString() }) + "\n";
    const tmp = tempName(path);
    try {
      // Off the event loop too: on an NFS root even a stat is a round trip to the server.
      const fresh = await lstat(path).then(
        () => false,
        () => true,
      );
      await mkdir(dirname(path), { recursive: true });
      await writeFile(tmp, body, { mode: 0o644 });
      await rename(tmp, path);
      if (fresh && ++this.newFiles >= MAX_RECORDS / 16) {
        this.newFiles = 0;
        await this.prune();
      }
    } catch (err) {
      await unlink(tmp).catch(() => {});
      this.onError(`could not record the MAC of ${address} in ${dirname(path)}`, err);
    }
  }

  /** Keeps the directory at MAX_RECORDS files: the ones learned longest ago go. */
  async prune(): Promise<number> {
    const dir = join(this.root, MAC_DIR);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return 0;
    }
    if (names.length <= MAX_RECORDS) return 0;
    const dated = await Promise.all(
      names.map(async (n) => ({ n, t: await stat(join(dir, n)).then((s) => s.mtimeMs, () => 0) })),
    );
    dated.sort((a, b) => a.t - b.t);
    const drop = dated.slice(0, dated.length - MAX_RECORDS);
    await Promise.all(drop.map((d) => unlink(join(dir, d.n)).catch(() => {})));
    return drop.length;
  }
}
