/**
 * The start-up lines once the server serves (after the privilege drop, so what is checked is
 * what the serving user meets): what it serves and how, and each condition that would make it
 * serve worse than asked, with its fix. The primary speaks for the server; a worker says only
 * that it serves.
 */
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import pkg from "../../package.json" with { type: "json" };
import { BOOT_CONTROL_SUMMARY } from "../files/boot-control.ts";
import type { WritableDir } from "../files/confine-upload.ts";
import type { Identity } from "../layout/writable.ts";
import type { Logger } from "../log.ts";
import { openFileLimit } from "../server/admission/limits.ts";
import type { RunningServer } from "../server/server.ts";
import { POOL_PER_ADDRESS } from "../server/io/transfer-ports.ts";
import type { ServerConfig } from "../server/types.ts";
import { isWorker, workerLabel } from "./role.ts";

export function logServing(server: RunningServer, opts: { config: ServerConfig; workers: number; user?: Identity; log: Logger }): void {
  const { config: c, log, workers } = opts;
  for (const l of server.listening) {
    if (isWorker) {
      log.debug("worker serving", { worker: workerLabel, pid: process.pid, port: l.port, ...transferPool(server, l.address) });
      continue;
    }
    log.info(`pxeboot ${pkg.version} serving ${c.root}`, {
      address: l.address,
      port: l.port,
      maxTransfers: c.maxTransfers,
      queueMax: c.queueMax,
      blksizeMax: c.blockSizeMax,
      windowsizeMax: c.windowSizeMax,
      rollover: c.rollover,
      cacheMb: Math.round(c.cacheBytes / 1048576),
      rcvbuf: l.receiveBufferBytes,
      ...transferPool(server, l.address),
      workers,
    });
  }
  if (!isWorker) {
    const unreadable = rootUnreadable(c.root, opts.user?.name);
    if (unreadable) log.error(unreadable);
  }
  const smallest = Math.min(...server.transferPorts.map((t) => t.ports.length));
  if (!isWorker && server.transferPoolShortBy) {
    const need = POOL_PER_ADDRESS * server.transferPorts.length * workers;
    log.warn("fewer transfer ports than wanted: a spoofer who saw one port guesses a transfer's more often", {
      by: server.transferPoolShortBy,
      portsPerAddressAndWorker: smallest,
      wanted: POOL_PER_ADDRESS,
      blindGuessHits: `1 in ${smallest}`,
      fix: /range/.test(server.transferPoolShortBy)
        ? `a --port-range of at least ${need} free ports (${POOL_PER_ADDRESS} per address and worker)`
        : `an open-file limit of at least ${4 * POOL_PER_ADDRESS * server.transferPorts.length} per process (ulimit -n, systemd LimitNOFILE=)`,
    });
  }
  if (!isWorker) logUploadRules(log, c, server.writable);
  const files = openFileLimit();
  const perProcess = Math.ceil(c.maxTransfers / workers);
  // Every process also holds its transfer sockets (POOL_PER_ADDRESS per address) and listeners.
  const sockets = server.transferPorts.reduce((n, t) => n + t.ports.length, 0) + server.listening.length;
  if (files !== undefined && files < perProcess + sockets + 64) {
    log.warn("open-file limit is below --max-transfers plus the transfer sockets: transfers of files not cached yet wait for descriptors past it", {
      nofile: files,
      maxTransfersPerProcess: perProcess,
      socketsPerProcess: sockets,
      fix: "raise it (ulimit -n, systemd LimitNOFILE=) or lower --max-transfers",
    });
  }
}

/** The start-up log's view of an address's transfer sockets: how many, the span of their ports, and how many windowed transfers get their own. */
function transferPool(server: RunningServer, address: string): { transferPorts?: number; transferPortSpan?: string; windowedOwnSockets?: number } {
  const ports = server.transferPorts.find((t) => t.address === address)?.ports;
  if (!ports || ports.length === 0) return {};
  return { transferPorts: ports.length, transferPortSpan: `${Math.min(...ports)}-${Math.max(...ports)}`, windowedOwnSockets: server.ownSocketsMax };
}

/**
 * The start-up log's account of uploads: where they may go and what they never write, and a
 * warning for each --writable directory that opens boot control, since any client may then
 * choose what hosts boot.
 */
function logUploadRules(log: Logger, c: Pick<ServerConfig, "create" | "overwrite">, writable: WritableDir[]): void {
  if (!c.create) return;
  log.info("uploads accepted", {
    into: writable.length === 0 ? "anywhere in the root" : writable.map((w) => w.rel || ".").join(","),
    overwrite: !!c.overwrite,
    never: BOOT_CONTROL_SUMMARY,
  });
  for (const w of writable.filter((w) => w.bootControl))
    log.warn(`--writable ${w.rel || "."} is boot control (${w.bootControl}): any client may upload boot entries there${c.overwrite ? " or replace them" : ""}, and so choose what hosts boot`);
}

/**
 * Run after the privilege drop: a root the serving user cannot enter starts fine and then
 * refuses every request, with a reason only per request. Said once at start instead.
 */
function rootUnreadable(root: string, user: string | undefined): string | undefined {
  try {
    accessSync(root, fsConstants.R_OK | fsConstants.X_OK);
    return undefined;
  } catch {
    const who = user ?? `uid ${process.getuid?.()}`;
    let what = "";
    try {
      const st = statSync(root);
      what = ` (mode ${(st.mode & 0o777).toString(8)}, owner uid ${st.uid})`;
    } catch {
      // Not even stat-able: the path alone says enough.
    }
    return `${root}${what} cannot be read by ${who}, the user serving clients: every request will be refused; fix: chmod o+rx ${root} (and its parents), or serve as a user that can read it`;
  }
}
