/** `pxeboot serve`: the daemon. Runs in the foreground; stops cleanly on SIGTERM/SIGINT. */
import { defineCommand } from "citty";
import { createLogger, type Logger } from "../log.ts";
import { startServer, type RunningServer } from "../server/server.ts";
import type { ServerConfig, TransferObserver } from "../server/types.ts";
import { createInstallOnce } from "../layout/install-once.ts";
import { guarded } from "./args.ts";
import { dropPrivileges, serviceIdentity } from "./privileges.ts";
import { ownershipFix, unwritableInstallDirs, type Identity } from "../layout/writable.ts";
import { serveArgs, serveConfig, workerCount } from "./serve-config.ts";
import { isWorkerChild, spawnWorkers } from "./workers.ts";
import { openFileLimit } from "../server/limits.ts";
import pkg from "../../package.json" with { type: "json" };
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface ServeOptions {
  config: ServerConfig;
  log: Logger;
  observers: TransferObserver[];
  /** Default address list: fall back to IPv4 only on hosts with IPv6 switched off. */
  dualStackDefault: boolean;
  /** Drop root to this identity once every socket is bound. */
  user?: Identity;
  /** Total server processes; the primary starts the others once its own port is bound. */
  workers?: number;
}

/** Starts the server, logs the start-up line, and resolves when a signal stopped it. */
export async function serveUntilSignal(opts: ServeOptions): Promise<void> {
  const { log } = opts;
  // Handlers go in before the socket is bound: a SIGTERM that arrives during start-up must still
  // stop the server cleanly rather than kill it mid-way.
  let signalled: string | undefined;
  let wake: () => void = () => {};
  const onSignal = (signal: string) => {
    signalled ??= signal;
    wake();
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));

  let server: RunningServer;
  try {
    server = await startServer(opts.config, { log, observers: opts.observers });
  } catch (err) {
    if (!opts.dualStackDefault) throw err;
    log.debug("IPv6 unavailable, listening on IPv4 only", { error: String(err) });
    server = await startServer({ ...opts.config, addresses: ["0.0.0.0"] }, { log, observers: opts.observers });
  }
  // Workers start after the primary bound the port (so a busy port or a bad root fails once,
  // here) and before it drops root: each binds as root too (SO_REUSEPORT groups only sockets of
  // one owner), then drops on its own.
  const workers = (opts.workers ?? 1) > 1 && !isWorkerChild() ? spawnWorkers(opts.workers!, log) : undefined;
  if (opts.user) {
    dropPrivileges(opts.user);
    if (!isWorkerChild()) log.info("dropped privileges", { user: opts.user.name, uid: opts.user.uid, gid: opts.user.gid });
  }
  const c = opts.config;
  for (const l of server.listening) {
    if (isWorkerChild()) {
      log.debug("worker serving", { worker: process.env.PXEBOOT_WORKER, pid: process.pid, port: l.port });
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
      workers: opts.workers,
    });
  }
  const files = openFileLimit();
  if (files !== undefined && files < c.maxTransfers + 64) {
    log.warn("open-file limit is below --max-transfers: transfers past it will fail to get a socket", {
      nofile: files,
      maxTransfers: c.maxTransfers,
      fix: "raise it (ulimit -n, systemd LimitNOFILE=) or lower --max-transfers",
    });
  }
  if (!signalled) await new Promise<void>((resolve) => (wake = resolve));
  log.info("stopping", { signal: signalled, active: server.activeTransfers, queued: server.queuedRequests, worker: process.env.PXEBOOT_WORKER });
  await Promise.all([server.close(), workers?.stop(signalled === "SIGINT" ? "SIGINT" : "SIGTERM")]);
}

export default defineCommand(
  guarded("serve", {
    meta: { name: "serve", description: "Serve a tftproot over TFTP (RFC 1350, 2347-2349, 7440)" },
    args: serveArgs,
    async run({ args, rawArgs }) {
      const config = serveConfig(args, rawArgs);
      const log = createLogger({
        format: args["log-format"] === "json" ? "json" : "pretty",
        level: args.verbose ? "debug" : args.quiet ? "warn" : "info",
      });
      const identity = serviceIdentity(args.user, args.group, process.getuid?.() ?? -1);
      const user = identity.drop;
      if (identity.warning) log.warn(identity.warning);
      const installOnce = args["install-once"] === false ? undefined : createInstallOnce({ root: config.root, marker: args["install-marker"], onInstallCmd: args["on-install"], log });
      // A tree the server's user cannot change turns every install into a reinstall loop. Asked
      // for by name, that user must be able to do it: refuse now. The default user on a tree made
      // for another (a tftpd-hpa root switched over) still serves, with a warning saying the fix.
      // A tree without the marker has no install-once to break.
      if (installOnce && user && existsSync(join(config.root, args["install-marker"]))) {
        const bad = unwritableInstallDirs(config.root, user);
        if (bad.length > 0) {
          const line = `install-once needs ${bad.map((b) => `${b.dir}/`).join(", ")} writable by ${user.name} (now ${bad[0]!.now}): ${ownershipFix(config.root, user, bad)}`;
          if (args.user !== undefined) throw new Error(line);
          log.warn(`${line}; until then hosts that fetch the marker will install again`);
        }
      }
      const observers: TransferObserver[] = installOnce ? [installOnce] : [];
      await serveUntilSignal({ config, log, observers, dualStackDefault: !args.address, user, workers: workerCount(args) });
      await installOnce?.flush();
      process.exit(0);
    },
  }),
);
