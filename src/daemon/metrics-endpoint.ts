/**
 * `serve --metrics [ADDR:]PORT`: the HTTP endpoint Prometheus scrapes. Bound before root is
 * dropped (so a port below 1024 works) and closed last on shutdown, so the final counts of a
 * drain can still be scraped while transfers finish.
 *
 * What it shows is private to the farm (other hosts' MACs and hex IPs, the files they asked for,
 * who finished installing), so a bare port binds loopback only: exposing it takes an address,
 * and then only the clients `--metrics-allow` (else the server's --allow/--deny) admits get an
 * answer; the others get 403.
 */
import type { Logger } from "../log.ts";
import { CONTENT_TYPE } from "../server/observe/metrics.ts";
import type { ClientFilter } from "../server/admission/client-filter.ts";
import type { Listen } from "../config/values.ts";

/** Where it listens: the --metrics row's value, parsed by config/values.ts. */
export type MetricsListen = Listen;

export interface MetricsEndpoint {
  url: string;
  stop(): void;
}

/** `extra`: more JSON documents by path (/quirks: what the server learned about picky clients). */
export function startMetricsEndpoint(
  listen: MetricsListen,
  render: () => string | Promise<string>,
  log: Logger,
  extra: Record<string, () => string | Promise<string>> = {},
  /** Who may scrape (undefined: everyone who can reach the address). */
  filter?: ClientFilter,
  /** More routes (the farm page and its API): a response for the paths they own, else undefined. */
  route?: (path: string) => { status: number; type: string; body: string } | undefined,
): MetricsEndpoint {
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: listen.address,
      port: listen.port,
      async fetch(req, srv) {
        const peer = srv.requestIP(req)?.address;
        if (filter && (!peer || !filter.allows(peer))) return new Response("pxeboot: not for this address (--metrics-allow)\n", { status: 403 });
        const path = new URL(req.url).pathname;
        const json = extra[path];
        if (json && req.method === "GET") return new Response(await json(), { headers: { "content-type": "application/json" } });
        const page = req.method === "GET" ? route?.(path) : undefined;
        if (page) return new Response(page.body, { status: page.status, headers: { "content-type": page.type, "x-content-type-options": "nosniff", "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'" } });
        if (path !== "/metrics") return new Response("pxeboot: metrics are at /metrics\n", { status: 404 });
        if (req.method !== "GET" && req.method !== "HEAD") return new Response("GET only\n", { status: 405 });
        return new Response(await render(), { headers: { "content-type": CONTENT_TYPE } });
      },
      error(err) {
        log.error("metrics endpoint failed a request", { error: String(err) });
        return new Response("internal error\n", { status: 500 });
      },
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "EADDRINUSE" ? "the port is already in use"
      : code === "EACCES" ? "the port needs root (or CAP_NET_BIND_SERVICE)"
      : code === "EADDRNOTAVAIL" ? `${listen.address} is not an address of this host`
      : (err as Error).message;
    throw new Error(`cannot serve --metrics on ${listen.address} port ${listen.port}: ${why}`);
  }
  const host = listen.address.includes(":") ? `[${listen.address}]` : listen.address;
  return { url: `http://${host}:${server.port}/metrics`, stop: () => void server.stop(true) };
}
