/**
 * The largest blksize whose DATA datagram fits the MTU of the interface a reply to a client
 * leaves by: a block that does not fit goes out as IP fragments, which firmware such as U-Boot
 * drops, so the boot fails after its retries. The routing tables and interface MTUs are read from
 * /proc and /sys (routes.ts matches them) at most once per `ttlMs`, and the answer is cached per
 * client network, so a boot storm costs no file reads.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "../../log.ts";
import { MIN_BLOCK_SIZE } from "../../protocol/types.ts";
import { plainAddress } from "../../records/address.ts";
import { blockSizeForMtu, parseIpv4Routes, parseIpv6Routes, routeFor, type Route } from "./routes.ts";

/** Reads a small system file; undefined when it is not there (no IPv6, a container without /sys). */
export type ReadText = (path: string) => string | undefined;

const readSystemFile: ReadText = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

export interface PathLimit {
  /** The largest blksize that fits. */
  blockSize: number;
  iface: string;
  mtu: number;
}

/** Entries kept per client address before the cache starts over (a storm's hosts, many times over). */
const ADDRESS_CACHE_MAX = 65536;

export class PathMtu {
  private v4: Route[] = [];
  private v6: Route[] = [];
  private readAt = -Infinity;
  private readonly ifaceMtu = new Map<string, number | undefined>();
  private readonly byAddress = new Map<string, PathLimit | undefined>();
  private readonly byNetwork = new Map<string, PathLimit | undefined>();

  constructor(
    private readonly read: ReadText = readSystemFile,
    private readonly ttlMs = 30_000,
  ) {}

  /** Undefined when the route or the MTU is unknown: then nothing is capped. */
  limitFor(address: string, now: number): PathLimit | undefined {
    if (now - this.readAt >= this.ttlMs) this.reload(now);
    if (this.byAddress.has(address)) return this.byAddress.get(address);
    const route = routeFor(address, this.v4, this.v6);
    let limit: PathLimit | undefined;
    if (route) {
      const key = `${route.iface} ${route.network}`;
      if (this.byNetwork.has(key)) limit = this.byNetwork.get(key);
      else {
        const ifMtu = this.mtuOf(route.iface);
        const mtu = ifMtu && route.mtu ? Math.min(ifMtu, route.mtu) : (ifMtu ?? (route.mtu || undefined));
        limit = mtu ? { blockSize: Math.max(MIN_BLOCK_SIZE, blockSizeForMtu(mtu, route.family)), iface: route.iface, mtu } : undefined;
        this.byNetwork.set(key, limit);
      }
    }
    if (this.byAddress.size >= ADDRESS_CACHE_MAX) this.byAddress.clear();
    this.byAddress.set(address, limit);
    return limit;
  }

  private reload(now: number): void {
    this.readAt = now;
    this.v4 = parseIpv4Routes(this.read("/proc/net/route") ?? "");
    this.v6 = parseIpv6Routes(this.read("/proc/net/ipv6_route") ?? "");
    this.ifaceMtu.clear();
    this.byAddress.clear();
    this.byNetwork.clear();
  }

  private mtuOf(iface: string): number | undefined {
    if (this.ifaceMtu.has(iface)) return this.ifaceMtu.get(iface);
    // The name comes from the kernel's own table, but keep it to a plain file name all the same.
    const text = /^[\w.:@-]+$/.test(iface) ? this.read(`/sys/class/net/${iface}/mtu`) : undefined;
    const mtu = text !== undefined && /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
    this.ifaceMtu.set(iface, mtu);
    return mtu;
  }
}

export interface BlockSizeLimitInput {
  address: string;
  /** --blksize-max (65464 when not given). */
  blockSizeMax: number;
  /** --blksize-max was given: it wins over the MTU, fragments and all. */
  explicit: boolean;
  /** The blksize the client asked for, if any (only a real cap is logged). */
  asked?: number;
  now: number;
}

/**
 * The blksize ceiling for one request. With --blksize-max given and above the path's fit, that
 * value stands and one line says fragments will be sent (once per interface, not per request).
 */
export class BlockSizeLimiter {
  private readonly warned = new Set<string>();

  constructor(
    private readonly paths: PathMtu,
    public log?: Logger,
  ) {}

  ceiling(input: BlockSizeLimitInput): number {
    const limit = this.paths.limitFor(input.address, input.now);
    if (!limit || limit.blockSize >= input.blockSizeMax) return input.blockSizeMax;
    const asked = input.asked ?? 0;
    if (input.explicit) {
      if (asked > limit.blockSize && !this.warned.has(limit.iface)) {
        this.warned.add(limit.iface);
        this.log?.warn("--blksize-max allows blocks larger than the interface MTU: DATA will be sent as IP fragments", {
          iface: limit.iface,
          mtu: limit.mtu,
          fits: limit.blockSize,
          blksizeMax: input.blockSizeMax,
        });
      }
      return input.blockSizeMax;
    }
    if (asked > limit.blockSize)
      this.log?.debug("blksize capped to the path MTU", { client: plainAddress(input.address), asked, granted: limit.blockSize, iface: limit.iface, mtu: limit.mtu });
    return limit.blockSize;
  }
}

/** This process's limiter (one per worker); serve gives it the logger. */
export const blockSizeLimiter = new BlockSizeLimiter(new PathMtu());
