/** `pxeboot status [URL]`: what a running server is doing, read from its --metrics endpoint. */
import { defineCommand } from "citty";
import { guarded } from "./args.ts";
import { DEFAULT_METRICS_PORT } from "../config/values.ts";
import { isPxebootMetrics, parseMetrics, statusScreen, type MetricSample } from "./status-screen.ts";
import { fetchHosts, hostsSection } from "./status-hosts.ts";

const DEFAULT_URL = `http://127.0.0.1:${DEFAULT_METRICS_PORT}/metrics`;
/**
 * The URL to scrape from what the user typed: what serve's --metrics took (`PORT` alone is
 * loopback, `ADDR:PORT`, `[V6]:PORT`) or a base URL; the `/metrics` path is added when no path
 * is given. A URL with a path of its own (a proxy) is taken as it is.
 */
export function metricsUrl(given: string): string {
  const text = given.trim();
  if (/^\d+$/.test(text)) return `http://127.0.0.1:${text}/metrics`;
  if (/^https?:\/\//i.test(text)) {
    const u = new URL(text);
    if (u.pathname === "/" || u.pathname === "") u.pathname = "/metrics";
    return u.toString();
  }
  // A bare IPv6 address with a port (::1:9169): the last colon is the port's.
  const bareV6 = /^([0-9a-f:]*:[0-9a-f:]*:[0-9a-f:]*):(\d+)$/i.exec(text);
  const hostPort = bareV6 && !text.startsWith("[") ? `[${bareV6[1]}]:${bareV6[2]}` : text;
  return metricsUrl(`http://${hostPort}`);
}

/** Two scrapes this far apart give the rates. */
const INTERVAL_MS = 1000;

async function scrape(url: string): Promise<MetricSample[]> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ConnectionRefused" || code === "ECONNREFUSED" ? "connection refused (is serve running with --metrics?)" : (err as Error).message;
    throw new Error(`cannot read ${url}: ${why}`);
  }
  if (!res.ok) throw new Error(`cannot read ${url}: HTTP ${res.status}`);
  let samples: MetricSample[];
  try {
    samples = parseMetrics(await res.text());
  } catch {
    samples = [];
  }
  if (!isPxebootMetrics(samples)) throw new Error(`${url} does not serve pxeboot metrics`);
  return samples;
}

export default guarded(
  "status",
  defineCommand({
    meta: { name: "status", description: `What a running server is doing, from its --metrics endpoint (default ${DEFAULT_URL})` },
    args: {
      url: {
        type: "positional",
        description: "serve's --metrics value as given (9169, ADDR:PORT, [V6]:PORT) or a URL; /metrics is added when the URL has no path",
        required: false,
        default: DEFAULT_URL,
      },
    },
    async run({ args }) {
      const url = metricsUrl(args.url);
      const before = await scrape(url);
      const start = performance.now();
      await Bun.sleep(INTERVAL_MS);
      const after = await scrape(url);
      const seconds = (performance.now() - start) / 1000;
      const hosts = await fetchHosts(url);
      process.stdout.write(statusScreen(before, after, seconds, url, Date.now() / 1000) + (hosts ? `\n${hostsSection(hosts, Date.now())}` : ""));
    },
  }),
);
