/** `serve --metrics [ADDR:]PORT`: where the metrics endpoint (daemon/metrics-endpoint.ts) listens, parsed once with a fix in the error. */
import type { MetricsListen } from "../daemon/metrics-endpoint.ts";
import { intArg, UsageError } from "./args.ts";

/** The port `pxeboot status` looks at when given no URL; the examples use it too. */
export const DEFAULT_METRICS_PORT = 9169;

/** "9169" (loopback only), "0.0.0.0:9169" (every IPv4 address), "[::1]:9169". */
export function parseMetricsListen(text: string): MetricsListen {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--metrics needs [ADDR:]PORT (e.g. ${DEFAULT_METRICS_PORT} or 0.0.0.0:${DEFAULT_METRICS_PORT}), got '${text}'`);
  return { address: m[1] ?? m[2] ?? "127.0.0.1", port: intArg("metrics", m[3]!, 0, 65535) };
}
