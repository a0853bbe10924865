/** `serve --http`: the HTTP listener beside TFTP, with the same root, rules, log line and observers. */
import { startHttpServer, type HttpListen, type HttpRules, type RunningHttp } from "../http/http-server.ts";
import type { Logger } from "../log.ts";
import type { ServerMetrics } from "../server/observe/server-metrics.ts";
import type { TransferObserver } from "../records/transfer-record.ts";
import type { ServerConfig } from "../server/types.ts";
import { isWorker } from "./role.ts";

/** The rules the HTTP side shares with TFTP, from the server's configuration (at start and on SIGHUP). */
export const httpRules = (c: ServerConfig): HttpRules => ({ permissive: !!c.permissive, allow: c.allow ?? [], deny: c.deny ?? [] });

export interface HttpStart {
  config: ServerConfig;
  listen: HttpListen;
  /** Server processes sharing the port (--workers). */
  workers: number;
  log: Logger;
  observers: TransferObserver[];
  events?: ServerMetrics["events"];
}

/** Binds --http (before root is dropped, so port 80 works); "::" falls back to IPv4 where IPv6 is off. */
export function startHttp(opts: HttpStart): RunningHttp {
  const start = (l: HttpListen) =>
    startHttpServer({
      root: opts.config.root,
      listen: l,
      rules: httpRules(opts.config),
      reusePort: opts.workers > 1,
      firstProcess: !isWorker,
      log: opts.log,
      observers: opts.observers,
      events: opts.events,
    });
  try {
    return start(opts.listen);
  } catch (err) {
    if (opts.listen.address !== "::") throw err;
    opts.log.debug("IPv6 unavailable, HTTP on IPv4 only", { error: String(err) });
    return start({ ...opts.listen, address: "0.0.0.0" });
  }
}
