/**
 * Reads the JSON summaries bench/compare.sh collected and prints one table, scenario × server,
 * with pxeboot's ratio to the best alternative and the goal of issue 5 for that row.
 *   bun bench/table.ts RESULTS_DIR [--write bench/RESULTS.md]
 * With --write, the generated part of RESULTS.md for this mode (quick or full, between its
 * markers) is replaced; notes written by hand around it stay.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchSummary } from "../src/bench/types.ts";

type Metric = "mbps" | "wall" | "p99" | "ok";

interface Goal {
  /** Which server the goal compares with; "best" = the best alternative. */
  ref?: string;
  /** pxeboot's primary metric ÷ ref's: at least (mbps) or at most (times). */
  ratio?: number;
  /** pxeboot's p99 ÷ ref's p99, at most. */
  p99Ratio?: number;
  p99MaxMs?: number;
  noFailures?: boolean;
  noRrqRetries?: boolean;
  rssMaxMiB?: number;
}

interface Scenario {
  title: (storm: number) => string;
  metric: Metric;
  goal: Goal;
}

const SCENARIOS: Record<string, Scenario> = {
  lockstep: {
    title: () => "1 client, 32 MiB, blksize 1468, lockstep, both on one CPU",
    metric: "mbps",
    goal: { ref: "tftpd-hpa", ratio: 1.2 },
  },
  big: { title: () => "1 client, 32 MiB, blksize 65464, one CPU", metric: "mbps", goal: { ref: "atftpd", ratio: 1.0 } },
  win16: {
    title: () => "1 client, 32 MiB, blksize 1468, windowsize 16, one CPU",
    metric: "mbps",
    goal: { ref: "atftpd", ratio: 2.5 },
  },
  storm: {
    title: (n) => `${n} clients × 4 MiB at once, blksize 1468`,
    metric: "mbps",
    goal: { ref: "dnsmasq", ratio: 1.5, p99Ratio: 0.6, noFailures: true },
  },
  "storm-w4": {
    title: (n) => `${n} clients × 4 MiB at once, blksize 1468, windowsize 4`,
    metric: "mbps",
    goal: { ref: "dnsmasq", ratio: 3, noFailures: true },
  },
  loss: {
    title: (n) => `${n} clients × 1 MiB, 2 % of DATA lost`,
    metric: "wall",
    goal: { ref: "tftpd-hpa", ratio: 0.5, noFailures: true },
  },
  probes: {
    title: (n) => `${n} simultaneous tsize probes (PXE ROM style)`,
    metric: "p99",
    goal: { p99MaxMs: 500, noRrqRetries: true, noFailures: true },
  },
  huge: {
    title: () => "10,000 clients × 1 MiB at once",
    metric: "ok",
    goal: { noFailures: true, rssMaxMiB: 256 },
  },
};
const SERVERS = ["pxeboot", "tftpd-hpa", "atftpd", "dnsmasq"];

interface Run {
  summary?: BenchSummary;
  error?: string;
  rssKiB: number;
  alive: boolean;
}

interface Meta {
  date: string;
  /** quick | full, plus the subset when only some scenarios or servers ran. */
  label?: string;
  /** /proc/loadavg at the start: other work on the machine moves every figure. */
  load?: string;
  mode: string;
  storm: number;
  rounds: number;
  nproc: number;
  cpu: string;
  kernel: string;
  os: string;
  versions: Record<string, string>;
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

function load(dir: string): Map<string, Map<string, Run[]>> {
  const runs = new Map<string, Map<string, Run[]>>();
  for (const name of readdirSync(dir)) {
    const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.([0-9]+)\.json$/.exec(name);
    if (!m) continue;
    const [, scenario, server, round] = m as unknown as [string, string, string, string];
    const raw = readJson<BenchSummary & { error?: string }>(join(dir, name));
    const side = readJson<{ rssKiB: number; alive: number }>(join(dir, `${scenario}.${server}.${round}.server.json`));
    const run: Run = {
      summary: raw && !raw.error && raw.uri ? raw : undefined,
      error: raw?.error ?? (raw ? undefined : "no summary"),
      rssKiB: side?.rssKiB ?? 0,
      alive: side ? side.alive === 1 : true,
    };
    if (!runs.has(scenario)) runs.set(scenario, new Map());
    const byServer = runs.get(scenario)!;
    if (!byServer.has(server)) byServer.set(server, []);
    byServer.get(server)!.push(run);
  }
  return runs;
}

const higherIsBetter = (m: Metric) => m === "mbps" || m === "ok";

function value(s: BenchSummary, metric: Metric): number {
  switch (metric) {
    case "mbps":
      return s.mbPerSec;
    case "wall":
      return s.wallMs;
    case "p99":
      return s.p99Ms;
    case "ok":
      return s.ok;
  }
}

const failures = (s: BenchSummary) => s.failed + s.timeouts + s.aborted;

/** Of several rounds, the best by the primary metric (single-client rows are best of N). */
function best(runs: Run[] | undefined, metric: Metric): Run | undefined {
  if (!runs?.length) return undefined;
  const ok = runs.filter((r) => r.summary);
  if (!ok.length) return runs[0];
  return ok.reduce((a, b) => {
    const va = value(a.summary!, metric);
    const vb = value(b.summary!, metric);
    return (higherIsBetter(metric) ? vb > va : vb < va) ? b : a;
  });
}

const secs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

function cell(run: Run | undefined, sc: Scenario): string {
  if (!run) return "–";
  const s = run.summary;
  if (!s) return `no result (${run.error ?? "?"})${run.alive ? "" : ", server died"}`;
  if (s.ok === 0) return `**all ${s.clients} failed**${run.alive ? "" : ", server died"}`;
  const parts: string[] = [];
  const storm = s.clients > 1;
  if (sc.metric === "mbps") parts.push(`${s.mbPerSec} MB/s`);
  if (sc.metric === "wall") parts.push(`${secs(s.wallMs)} wall`);
  if (storm && sc.metric !== "ok") parts.push(`p99 ${secs(s.p99Ms)}`);
  if (sc.metric === "ok") parts.push(`${s.ok} ok, ${s.mbPerSec} MB/s, p99 ${secs(s.p99Ms)}`);
  const bad = failures(s);
  if (bad) parts.push(`**${bad} failed**`);
  if (s.retransmits.requests && storm) parts.push(`${s.retransmits.requests} RRQ retries`);
  const n = s.negotiated;
  if (n && s.requested.windowsize && n.windowsize !== s.requested.windowsize) parts.push(`windowsize → ${n.windowsize}`);
  if (n && s.requested.blksize && n.blksize !== s.requested.blksize) parts.push(`blksize → ${n.blksize}`);
  if (sc.goal.rssMaxMiB && run.rssKiB) parts.push(`RSS ${Math.round(run.rssKiB / 1024)} MiB`);
  if (!run.alive) parts.push("server died");
  return parts.join(", ");
}

function ratioText(p: number, ref: number, metric: Metric): string {
  if (!(ref > 0) || !(p > 0)) return "–";
  const r = p / ref;
  return higherIsBetter(metric) ? `${r.toFixed(2)}×` : `${r.toFixed(2)}× the time`;
}

function goalText(sc: Scenario, mine: Run | undefined, all: Map<string, Run | undefined>, bestAlt?: string): string {
  const g = sc.goal;
  const s = mine?.summary;
  if (!s) return "no pxeboot result";
  const checks: string[] = [];
  let met = true;
  const check = (ok: boolean, text: string) => {
    met &&= ok;
    checks.push(`${text} ${ok ? "✔" : "✘"}`);
  };
  const refName = g.ref ?? bestAlt;
  const ref = refName ? all.get(refName)?.summary : undefined;
  if (g.ratio !== undefined && refName) {
    if (ref) {
      const r = value(s, sc.metric) / value(ref, sc.metric);
      const ok = higherIsBetter(sc.metric) ? r >= g.ratio : r <= g.ratio;
      check(ok, `${higherIsBetter(sc.metric) ? "≥" : "≤"} ${g.ratio}× ${refName} (${r.toFixed(2)})`);
    } else checks.push(`vs ${refName}: no result`);
  }
  if (g.p99Ratio !== undefined && ref) {
    const r = s.p99Ms / ref.p99Ms;
    check(r <= g.p99Ratio, `p99 ≤ ${g.p99Ratio}× ${refName} (${r.toFixed(2)})`);
  }
  if (g.p99MaxMs !== undefined) check(s.p99Ms <= g.p99MaxMs, `p99 ≤ ${secs(g.p99MaxMs)} (${secs(s.p99Ms)})`);
  if (g.noFailures) check(failures(s) === 0, `0 failures (${failures(s)})`);
  if (g.noRrqRetries) check(s.retransmits.requests === 0, `0 RRQs retried (${s.retransmits.requests})`);
  if (g.rssMaxMiB !== undefined) {
    const mib = (mine?.rssKiB ?? 0) / 1024;
    check(mib > 0 && mib <= g.rssMaxMiB, `RSS ≤ ${g.rssMaxMiB} MiB (${Math.round(mib)})`);
  }
  return `${met ? "**met**" : "**not met**"}: ${checks.join("; ")}`;
}

function render(dir: string): { table: string; meta?: Meta } {
  const meta = readJson<Meta>(join(dir, "meta.json"));
  const runs = load(dir);
  const servers = SERVERS.filter((s) => [...runs.values()].some((m) => m.has(s)));
  const alternatives = servers.filter((s) => s !== "pxeboot");
  const head = ["scenario", ...servers, "pxeboot ÷ best alternative", "goal (issue 5)"];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => " --- ").join("|")}|`];
  for (const [id, sc] of Object.entries(SCENARIOS)) {
    const byServer = runs.get(id);
    if (!byServer) continue;
    const chosen = new Map(servers.map((s) => [s, best(byServer.get(s), sc.metric)] as const));
    // The best alternative is chosen among those that served every client, if any did.
    const candidates = alternatives.filter((s) => chosen.get(s)?.summary);
    const clean = candidates.filter((s) => failures(chosen.get(s)!.summary!) === 0);
    const pool = clean.length ? clean : candidates;
    const bestAlt = pool.sort((a, b) => {
      const va = value(chosen.get(a)!.summary!, sc.metric);
      const vb = value(chosen.get(b)!.summary!, sc.metric);
      return higherIsBetter(sc.metric) ? vb - va : va - vb;
    })[0];
    const mine = chosen.get("pxeboot")?.summary;
    const ref = bestAlt ? chosen.get(bestAlt)?.summary : undefined;
    const ratio = mine && ref ? `${ratioText(value(mine, sc.metric), value(ref, sc.metric), sc.metric)} (${bestAlt})` : "–";
    const title = sc.title(meta?.storm ?? 0);
    const rounds = byServer.get(servers[0]!)?.length ?? 1;
    const row = [
      rounds > 1 ? `${title} (best of ${rounds})` : title,
      ...servers.map((s) => cell(chosen.get(s), sc)),
      ratio,
      servers.includes("pxeboot") ? goalText(sc, chosen.get("pxeboot"), chosen, bestAlt) : "–",
    ];
    lines.push(`| ${row.join(" | ")} |`);
  }
  return { table: lines.join("\n"), meta };
}

/** Each mode (quick, full) has its own generated block, so the latest run of each is kept. */
const markers = (mode: string) => ({
  begin: `<!-- compare.sh ${mode}: begin (generated by bench/table.ts; edit outside the markers) -->`,
  end: `<!-- compare.sh ${mode}: end -->`,
});

function generated(table: string, meta: Meta | undefined, BEGIN: string, END: string): string {
  const m = meta;
  const about = m
    ? [
        `Run ${m.date}, \`bench/compare.sh${m.mode === "quick" ? " --quick" : ""}\` (${m.label ?? m.mode}; storms of ${m.storm} clients; single-client rows best of ${m.rounds}).`,
        `Machine: ${m.nproc} × ${m.cpu}, ${m.os}, Linux ${m.kernel}; load average at the start ${m.load ?? "?"}.`,
        `Versions: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v || "?"}`).join(", ")}.`,
      ].join("  \n")
    : "";
  return [BEGIN, about, "", "MB = 10^6 bytes. Every download verified (size and sha256).", "", table, END].join("\n");
}

function main(argv: string[]): void {
  const dir = argv[0];
  if (!dir) {
    console.error("usage: bun bench/table.ts RESULTS_DIR [--write RESULTS.md]");
    process.exit(2);
  }
  const { table, meta } = render(dir);
  console.log(table);
  const w = argv.indexOf("--write");
  if (w < 0) return;
  const target = argv[w + 1]!;
  const { begin: BEGIN, end: END } = markers(meta?.label ?? meta?.mode ?? "full");
  const block = generated(table, meta, BEGIN, END);
  let text = existsSync(target) ? readFileSync(target, "utf8") : "# pxeboot vs tftpd-hpa, atftpd, dnsmasq\n\n";
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(target, text);
  console.error(`wrote ${target}`);
}

main(process.argv.slice(2));
