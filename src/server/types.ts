/** What the server is configured with: the contract with the CLI (what it reports is records/). */
import type { QuirkRule } from "./offers/quirk-rules.ts";
import type { RemapRule } from "./requests/remap.ts";

export interface ServerConfig {
  root: string;
  /** Addresses to bind; "::" is dual-stack (IPv4 peers appear as ::ffff:a.b.c.d). */
  addresses: string[];
  port: number;
  maxTransfers: number;
  /** New requests past maxTransfers wait here (answered as slots free) instead of being refused. */
  queueMax: number;
  /** Initial retransmission timeout and the ceiling of the backoff, in ms. */
  timeoutMs: number;
  timeoutMaxMs: number;
  /** The floor of the learned retransmission timeout, in ms. */
  rtoMinMs: number;
  retries: number;
  blockSizeMax: number;
  /**
   * --blksize-max was given: it stands even above what fits the MTU towards a client (then DATA
   * is fragmented, and that is logged once). Not given, grants are capped to the path MTU.
   */
  blockSizeMaxExplicit?: boolean;
  windowSizeMax: number;
  rollover: 0 | 1;
  /** --quirk-memory: how long a client's fallback (picky firmware) is remembered, in seconds (0: not at all). */
  quirkMemorySec?: number;
  /** --quirks FILE: what clients in these blocks are never offered (re-read on SIGHUP). */
  quirks?: QuirkRule[];
  /** Bytes of file content kept in memory for all clients together. */
  cacheBytes: number;
  /** Receive buffer asked for on the listening socket (a boot storm's RRQs arrive at once). */
  receiveBufferBytes: number;
  /** Transfers one client address may have at once (0: no limit). */
  perClientMax?: number;
  /** New requests one client address may make per second, with twice that as a burst (0: no limit). */
  perClientRate?: number;
  /** --allow / --deny CIDR blocks: requests from elsewhere get no answer. */
  allow?: string[];
  deny?: string[];
  /** Serve files that are not readable by everyone too (tftpd-hpa's -p); off, only o+r files are. */
  permissive?: boolean;
  /** Accept uploads (WRQ) of new files (tftpd-hpa's -c); off, every WRQ gets ERROR 2. */
  create?: boolean;
  /** Root-relative directories uploads may go in (subdirectories too); empty: anywhere in the root. */
  writable?: string[];
  /** Uploads may replace an existing regular file; off, that is ERROR 6. */
  overwrite?: boolean;
  /** Largest upload in bytes (the announced tsize up front, the running total always); 0: no cap. */
  uploadMaxBytes?: number;
  /** Bind with SO_REUSEPORT so several worker processes share the port (the kernel splits clients). */
  reusePort?: boolean;
  /** --port-range: the shared transfer sockets bind here (for firewalls), each process taking its share. */
  portRange?: { low: number; high: number };
  /**
   * Server processes sharing the port (--workers). maxTransfers, queueMax and cacheBytes are the
   * whole server's: each process takes its share (and a fair share of --port-range).
   */
  processes?: number;
  /** Remap rules (--map-file, --remap) run over every requested name before confinement. */
  remap?: RemapRule[];
  /** in.tftpd without -s: "/DIR/FILE" names FILE in the root. */
  stripPrefix?: string;
  /** RFC 2347 options never granted (tftpd-hpa's -r), lower-case. */
  refuse?: string[];
}
