/**
 * Boot records at farm scale (issue 25): HOSTS hosts, each with a full ring (its file at the
 * per-host cap), then what reading them costs: the farm page cold and warm (its cache of each
 * host's last boot), one scrape of the boot metrics, and the process's peak RSS.
 *
 *   bun bench/boot-records.ts [--hosts 10000] [--dir /tmp/pxeboot-boots-bench]
 *
 * Prints one JSON line. The lockstep-storm cost of recording is measured with bench/compare.sh
 * (interleaved A/B of binaries), not here.
 */
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { createBootMetrics } from "../src/boots/boot-metrics.ts";
import { classify } from "../src/boots/classify.ts";
import { farmRoute } from "../src/boots/farm.ts";
import { appendEvents, BOOTS_DIR, ensureBootsDir, HOST_FILE_MAX_BYTES } from "../src/boots/store.ts";
import type { BootEvent } from "../src/boots/types.ts";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const HOSTS = Number(args.get("hosts") ?? 10_000);
const root = args.get("dir") ?? "/tmp/pxeboot-boots-bench";

rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });
ensureBootsDir(root);

const FILES = ["pxelinux.0", "ldlinux.c32", "pxelinux.cfg/01-52-54-00-aa-bb-cc", "pxelinux.cfg/C0A8000B", "vmlinuz-7.2", "initrd-7.2.img", "Kickstart_end"];
const t0 = performance.now();
let t = Date.now() - 30 * 86400_000;
for (let h = 0; h < HOSTS; h++) {
  const key = `10.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}`;
  // Boots until the file reaches the cap (it is then cut to its newest half and grows again).
  const boot = (): BootEvent[] =>
    FILES.map((f) => ({ t: (t += 1000), a: key, f, k: classify(f, "Kickstart_end"), via: "tftp" as const, o: f.includes("01-") ? "error" : "ok", b: 1_000_000, s: 1_000_000, d: 300, bs: 1408, ...(f.includes("01-") ? { c: 1, why: "File not found" } : {}) }));
  const file = join(root, BOOTS_DIR, `${key}.jsonl`);
  while ((statSync(file, { throwIfNoEntry: false })?.size ?? 0) < HOST_FILE_MAX_BYTES * 0.9) appendEvents(root, key, boot());
}
const writeMs = performance.now() - t0;
let diskBytes = 0;
for (let h = 0; h < HOSTS; h++) diskBytes += statSync(join(root, BOOTS_DIR, `10.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}.jsonl`)).size;

const rssBefore = process.memoryUsage().rss;
const time = (fn: () => unknown) => {
  const s = performance.now();
  fn();
  return Math.round(performance.now() - s);
};
const server = () => ({ workers: 1 });
// Page loads until every host was read (each reads at most its budget of files), then a warm one.
const coldLoads: number[] = [];
for (let i = 0; i < 100; i++) {
  let body = "";
  coldLoads.push(time(() => (body = farmRoute(root, "/", server)!.body)));
  if (!/not read yet/.test(body)) break;
}
const warmMs = time(() => farmRoute(root, "/", server));
const apiMs = time(() => farmRoute(root, "/api/hosts", server));
const metrics = createBootMetrics(root);
const scrapes: number[] = [];
// Scrapes until the counters stop moving: every host's boots counted.
let previous = "";
for (let i = 0; i < 200; i++) {
  let text = "";
  scrapes.push(time(() => (text = metrics.render())));
  if (text === previous) break;
  previous = text;
}
const metricsWarmMs = time(() => metrics.render());
Bun.gc(true);
const rss = process.memoryUsage().rss;
console.log(
  JSON.stringify({
    hosts: HOSTS,
    perHostFileCapBytes: HOST_FILE_MAX_BYTES,
    diskMB: +(diskBytes / 1048576).toFixed(1),
    writeS: +(writeMs / 1000).toFixed(1),
    farmPageLoadsUntilAllReadMs: coldLoads,
    farmPageWarmMs: warmMs,
    apiHostsWarmMs: apiMs,
    metricsScrapesUntilAllCounted: scrapes.length,
    metricsScrapeMaxMs: Math.max(...scrapes),
    metricsWarmScrapeMs: metricsWarmMs,
    rssBeforeReadsMB: +(rssBefore / 1048576).toFixed(0),
    rssAfterMB: +(rss / 1048576).toFixed(0),
  }),
);
rmSync(root, { recursive: true, force: true });
