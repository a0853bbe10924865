/**
 * Boots as Prometheus series, from the records at scrape time (so every worker's and every
 * server's records count, once): `pxeboot_boots_total{verdict}` counts boots whose verdict is
 * final (a later boot followed, or the quiet gap passed, or it booted or installed), and
 * `pxeboot_boot_seconds` is the time from a boot's first request to its kernel and initrd (or
 * marker). A boot is counted once, by host and start; the remembered ones are bounded.
 */
import { QUIET_GAP_MS } from "./fold.ts";
import { statSync } from "node:fs";
import { join } from "node:path";
import { BOOTS_DIR, hostFileName, listHostKeys, readEvents } from "./store.ts";
import { foldBoots } from "./fold.ts";
import type { Verdict } from "./types.ts";

const BUCKETS_S = [5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];
const COUNTED_MAX = 200_000;
/**
 * Host files read at most per scrape (whole files, changed ones only): a first scrape of 10,000
 * full rings took 4 s of the serving process; this many take about a fifth of a second, and the
 * counters catch up over the next scrapes.
 */
const READS_PER_SCRAPE = 500;

export interface BootMetrics {
  render(now?: number): string;
}

export function createBootMetrics(root: string): BootMetrics {
  const counted = new Set<string>();
  const byVerdict = new Map<Verdict, number>();
  const buckets = new Array<number>(BUCKETS_S.length).fill(0);
  let sum = 0;
  let count = 0;

  /** Per host: the file's mtime when last read, and when its last unfinished boot turns final. */
  const seen = new Map<string, { mtimeMs: number; recheckAt: number }>();

  /** Where the last scrape's reading stopped: files are read at most READS_PER_SCRAPE a scrape. */
  let resumeAt = 0;

  const take = (now: number) => {
    const keys = listHostKeys(root);
    let reads = 0;
    const start = resumeAt >= keys.length ? 0 : resumeAt;
    for (let n = 0; n < keys.length && reads < READS_PER_SCRAPE; n++) {
      const key = keys[(start + n) % keys.length]!;
      // Only files that changed, or whose pending boot the quiet gap has now ended, are read again.
      const mtimeMs = statSync(join(root, BOOTS_DIR, hostFileName(key)), { throwIfNoEntry: false })?.mtimeMs ?? 0;
      const prev = seen.get(key);
      if (prev && prev.mtimeMs === mtimeMs && now < prev.recheckAt) continue;
      reads++;
      resumeAt = (start + n + 1) % keys.length;
      const boots = foldBoots(readEvents(root, key), { now });
      const last = boots[boots.length - 1];
      seen.set(key, { mtimeMs, recheckAt: last && last.verdict !== "booted" && last.verdict !== "installed" ? last.endedAt + QUIET_GAP_MS + 1 : Infinity });
      boots.forEach((b, i) => {
        const final = i < boots.length - 1 || now - b.endedAt > QUIET_GAP_MS || b.verdict === "booted" || b.verdict === "installed";
        if (!final || b.verdict === "in-progress") return;
        const id = `${key}@${b.startedAt}`;
        if (counted.has(id)) return;
        if (counted.size >= COUNTED_MAX) counted.clear(); // a restart's worth of forgetting: old boots are past the rings anyway
        counted.add(id);
        byVerdict.set(b.verdict, (byVerdict.get(b.verdict) ?? 0) + 1);
        if (b.verdict === "booted" || b.verdict === "installed") {
          const s = (b.endedAt - b.startedAt) / 1000;
          sum += s;
          count++;
          BUCKETS_S.forEach((le, j) => {
            if (s <= le) buckets[j]!++;
          });
        }
      });
    }
  };

  return {
    render(now = Date.now()) {
      take(now);
      const lines = [
        "# HELP pxeboot_boots_total Boots whose verdict is final, by verdict (from the boot records).",
        "# TYPE pxeboot_boots_total counter",
        ...[...byVerdict].map(([v, n]) => `pxeboot_boots_total{verdict="${v}"} ${n}`),
        "# HELP pxeboot_boot_seconds Time from a boot's first request to its kernel and initrd (or the marker).",
        "# TYPE pxeboot_boot_seconds histogram",
        ...BUCKETS_S.map((le, j) => `pxeboot_boot_seconds_bucket{le="${le}"} ${buckets[j]}`),
        `pxeboot_boot_seconds_bucket{le="+Inf"} ${count}`,
        `pxeboot_boot_seconds_sum ${sum}`,
        `pxeboot_boot_seconds_count ${count}`,
      ];
      return lines.join("\n") + "\n";
    },
  };
}
