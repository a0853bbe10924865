/**
 * Reads what bench/compare.sh collected (one JSON file per row, server and round, written from the
 * C generator's RESULT lines and the server's cgroup) and prints two tables: every row × server
 * with its figures and its ratios to dnsmasq and tftpd-hpa, then issue 14's (and 15's loss) goals.
 *   bun bench/table.ts RESULTS_DIR [--write bench/RESULTS.md]
 * With --write, the generated part of RESULTS.md for this mode (between its markers) is replaced;
 * notes written by hand around it stay.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What decides a row: MB/s or clients served (higher is better), wall or p99 (lower is better). */
export type Primary = "mbps" | "wall" | "p99" | "ok";

export interface ScenarioInfo {
  id: string;
  title: string;
  primary: Primary;
  clients: number;
  flags: string;
  /** Position in the run; rows without one (added by another script) go last. */
  order?: number;
}

/** One server in one round of one row (the keys bench/lib.sh's bench_summarize prints). */
export interface Run {
  scenario: string;
  server: string;
  round: number;
  clients: number;
  alive: number;
  cpuSource?: string;
  /** The machine's 1-minute load average when the run ended (other work skews the figures). */
  load?: string;
  error?: string;
  ok?: number;
  failed?: number;
  wall_s?: number;
  mbps?: number;
  p50_s?: number;
  p99_s?: number;
  max_s?: number;
  retransmits?: number;
  /** DATA datagrams the clients received (a DATA+ACK round trip each in lockstep). */
  data?: number;
  blksize?: number;
  window?: number;
  gen_cpu_s?: number;
  gens?: number;
  srv_cpu_s?: number;
  peak_rss_kib?: number;
}

export interface Meta {
  date: string;
  label?: string;
  load?: string;
  mode: string;
  storm: number;
  huge?: number;
  rounds: number;
  generators?: number;
  nproc: number;
  cpu: string;
  kernel: string;
  os: string;
  cpuSource?: string;
  versions: Record<string, string>;
}

/** Servers in table order; pxeboot-w1 is pxeboot with --workers 1. */
export const SERVERS = ["pxeboot", "pxeboot-w1", "tftpd-hpa", "atftpd", "dnsmasq"];
const SERVER_NAMES: Record<string, string> = { "pxeboot-w1": "pxeboot --workers 1" };
export const serverName = (s: string) => SERVER_NAMES[s] ?? s;
export const REFERENCES = ["dnsmasq", "tftpd-hpa"];

const higherIsBetter = (p: Primary) => p === "mbps" || p === "ok";

export const served = (r: Run | undefined): r is Run & { ok: number } => !!r && !r.error && (r.ok ?? 0) > 0;

/** The verified bytes a run delivered, from its MB/s and wall time (MB = 10^6 bytes). */
const gigabytes = (r: Run) => ((r.mbps ?? 0) * (r.wall_s ?? 0)) / 1000;

/** Server CPU seconds per GB delivered; undefined when nothing was delivered or measured. */
export function cpuPerGB(r: Run): number | undefined {
  const gb = gigabytes(r);
  return gb > 0 && r.srv_cpu_s !== undefined ? r.srv_cpu_s / gb : undefined;
}

/**
 * Server CPU µs per DATA datagram the clients received (per DATA+ACK round trip in lockstep); in
 * a row without DATA (the probe storm), per client served.
 */
export function cpuPerData(r: Run): number | undefined {
  if (r.srv_cpu_s === undefined) return undefined;
  if (r.data) return (r.srv_cpu_s * 1e6) / r.data;
  return r.ok ? (r.srv_cpu_s * 1e6) / r.ok : undefined;
}

export function value(r: Run, p: Primary): number | undefined {
  if (!served(r)) return undefined;
  switch (p) {
    case "mbps":
      return r.mbps;
    case "wall":
      return r.wall_s;
    case "p99":
      return r.p99_s;
    case "ok":
      return r.ok;
  }
}

/** Of several rounds, the best by the row's primary metric (a served run beats an unserved one). */
export function best(runs: Run[], p: Primary): Run | undefined {
  let chosen: Run | undefined;
  for (const r of runs) {
    const v = value(r, p);
    const c = chosen && value(chosen, p);
    if (!chosen || (v !== undefined && (c === undefined || (higherIsBetter(p) ? v > c : v < c)))) chosen = r;
  }
  return chosen;
}

/** a ÷ b as "1.23×", or "–" when either is missing. */
export function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : "–";
}

const fmt = (n: number | undefined, digits: number) => (n === undefined ? "–" : n.toFixed(digits));
const secs = (s: number | undefined) => (s === undefined ? "–" : s >= 10 ? s.toFixed(1) : s >= 1 ? s.toFixed(2) : s.toFixed(3));
const mib = (kib: number | undefined) => (kib ? String(Math.round(kib / 1024)) : "–");

/** The row's chosen run per server. */
export type Chosen = Map<string, Run>;

export function choose(runs: Run[], scenarios: ScenarioInfo[]): Map<string, Chosen> {
  const out = new Map<string, Chosen>();
  for (const sc of scenarios) {
    const chosen: Chosen = new Map();
    for (const server of SERVERS.concat([...new Set(runs.map((r) => r.server))].filter((s) => !SERVERS.includes(s)))) {
      const b = best(
        runs.filter((r) => r.scenario === sc.id && r.server === server),
        sc.primary,
      );
      if (b) chosen.set(server, b);
    }
    out.set(sc.id, chosen);
  }
  return out;
}

function outcome(r: Run): string {
  if (r.error) return `no result (${r.error.replaceAll("_", " ")})`;
  const parts = [`${r.ok ?? 0} ok`];
  if (r.failed) parts.push(`**${r.failed} failed**`);
  if (!r.alive) parts.push("**server died**");
  return parts.join(", ");
}

/** Ratios of one run to a reference server's run in the same row: the primary metric, CPU per GB. */
function vsCell(r: Run, ref: Run | undefined, sc: ScenarioInfo): string {
  if (!ref || ref === r) return "–";
  const main = ratio(value(r, sc.primary), ref && value(ref, sc.primary));
  const cpu = ratio(cpuPerGB(r), cpuPerGB(ref));
  const what = sc.primary === "mbps" ? "MB/s" : sc.primary === "ok" ? "served" : sc.primary === "wall" ? "wall" : "p99";
  const parts = [main === "–" ? "" : `${main} ${what}`, cpu === "–" || sc.primary === "p99" ? "" : `${cpu} CPU/GB`].filter(Boolean);
  return parts.length ? parts.join(", ") : "–";
}

export function figuresTable(scenarios: ScenarioInfo[], chosen: Map<string, Chosen>): string {
  const head = [
    "row",
    "server",
    "clients",
    "MB/s",
    "wall s",
    "p50 s",
    "p99 s",
    "server CPU s/GB",
    "server CPU µs/DATA (probes: /probe)",
    "peak RSS MiB",
    "granted blksize/window",
    "client retransmits",
    "generator CPU",
    "vs dnsmasq",
    "vs tftpd-hpa",
    "load",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => " --- ").join("|")}|`];
  for (const sc of scenarios) {
    const row = chosen.get(sc.id);
    if (!row?.size) continue;
    const rounds = Math.max(...[...row.values()].map((r) => r.round));
    let first = true;
    for (const [server, r] of row) {
      const title = first ? `${sc.title}${rounds > 1 ? ` (best of ${rounds})` : ""}` : "";
      first = false;
      const gen = r.gen_cpu_s !== undefined && r.wall_s ? `${Math.round((100 * r.gen_cpu_s) / r.wall_s / (r.gens ?? 1))} %` : "–";
      lines.push(
        `| ${[
          title,
          serverName(server),
          outcome(r),
          served(r) && sc.primary !== "p99" ? fmt(r.mbps, 1) : "–",
          secs(r.wall_s),
          served(r) ? secs(r.p50_s) : "–",
          served(r) ? secs(r.p99_s) : "–",
          fmt(cpuPerGB(r), 2),
          fmt(cpuPerData(r), 1),
          mib(r.peak_rss_kib),
          r.blksize && r.data ? `${r.blksize}/${r.window}` : "–",
          String(r.retransmits ?? "–"),
          gen,
          vsCell(r, row.get("dnsmasq"), sc),
          vsCell(r, row.get("tftpd-hpa"), sc),
          r.load ?? "–",
        ].join(" | ")} |`,
      );
    }
  }
  return lines.join("\n");
}

interface Goal {
  text: string;
  scenario: string;
  check: (row: Chosen) => { met: boolean | undefined; measured: string };
}

const bad = (r: Run) => (r.failed ?? 0) + (r.error ? r.clients : 0);

/** mine ÷ ref of the primary metric, with the rule for "met". */
function ratioGoal(server: string, ref: string, p: Primary, atLeast: boolean, limit: number, sc: string, text: string): Goal {
  return {
    text,
    scenario: sc,
    check: (row) => {
      const a = row.get(server);
      const b = row.get(ref);
      const va = a && value(a, p);
      const vb = b && value(b, p);
      if (va === undefined || vb === undefined) return { met: undefined, measured: `no result for ${va === undefined ? serverName(server) : ref}` };
      const r = va / vb;
      const clean = bad(a!) === 0;
      return { met: (atLeast ? r >= limit : r <= limit) && clean, measured: `${r.toFixed(2)}×${clean ? "" : `, ${bad(a!)} failed`}` };
    },
  };
}

export const GOALS: Goal[] = [
  ratioGoal("pxeboot-w1", "dnsmasq", "mbps", true, 1.0, "storm", "lockstep storm, one worker: MB/s ≥ 1.0× dnsmasq"),
  {
    text: "lockstep storm, one worker: server CPU per GB ≤ 1.0× dnsmasq",
    scenario: "storm",
    check: (row) => {
      const a = row.get("pxeboot-w1");
      const b = row.get("dnsmasq");
      const ca = a && cpuPerGB(a);
      const cb = b && cpuPerGB(b);
      if (ca === undefined || cb === undefined) return { met: undefined, measured: "no result" };
      return { met: ca / cb <= 1.0, measured: `${(ca / cb).toFixed(2)}× (${ca.toFixed(2)} vs ${cb.toFixed(2)} s/GB)` };
    },
  },
  ratioGoal("pxeboot", "dnsmasq", "mbps", true, 2.0, "storm-w4", "windowsize 4 storm, default flags: MB/s ≥ 2.0× dnsmasq"),
  ratioGoal("pxeboot", "tftpd-hpa", "mbps", true, 0.9, "lockstep", "one client, 32 MiB, lockstep: MB/s ≥ 0.9× tftpd-hpa"),
  {
    text: "many clients × 1 MiB at once, default flags: 0 failed, peak RSS of all workers ≤ 512 MiB",
    scenario: "huge",
    check: (row) => {
      const a = row.get("pxeboot");
      if (!a || a.error) return { met: undefined, measured: "no result" };
      const rss = (a.peak_rss_kib ?? 0) / 1024;
      return { met: bad(a) === 0 && rss > 0 && rss <= 512, measured: `${a.ok} ok, ${bad(a)} failed, ${Math.round(rss)} MiB` };
    },
  },
  {
    text: "probe storm: p99 ≤ 0.5 s, 0 failed",
    scenario: "probes",
    check: (row) => {
      const a = row.get("pxeboot");
      if (!served(a)) return { met: undefined, measured: "no result" };
      return { met: (a.p99_s ?? Infinity) <= 0.5 && bad(a) === 0, measured: `p99 ${secs(a.p99_s)} s, ${bad(a)} failed` };
    },
  },
  ratioGoal("pxeboot", "tftpd-hpa", "wall", false, 0.5, "loss", "2 % loss storm (issue 15): wall ≤ 0.5× tftpd-hpa, 0 failed"),
  {
    text: "stretch: lockstep storm, median client finishes well before the last (p50 ÷ wall)",
    scenario: "storm",
    check: (row) => {
      const a = row.get("pxeboot");
      if (!served(a) || !a.wall_s) return { met: undefined, measured: "no result" };
      return { met: undefined, measured: `${((a.p50_s ?? 0) / a.wall_s).toFixed(2)} (default flags)` };
    },
  },
];

export function goalsTable(chosen: Map<string, Chosen>): string {
  const lines = ["| goal (issue 14, loss row issue 15) | measured | met |", "| --- | --- | --- |"];
  for (const g of GOALS) {
    const row = chosen.get(g.scenario);
    if (!row) continue;
    const { met, measured } = g.check(row);
    lines.push(`| ${g.text} | ${measured} | ${met === undefined ? "–" : met ? "**met**" : "**not met**"} |`);
  }
  return lines.join("\n");
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

export function load(dir: string): { meta?: Meta; scenarios: ScenarioInfo[]; runs: Run[] } {
  const scenarios: ScenarioInfo[] = [];
  const runs: Run[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith(".scenario.json")) {
      const s = readJson<ScenarioInfo>(join(dir, name));
      if (s) scenarios.push(s);
    } else if (/^[a-z0-9-]+\.[a-z0-9-]+\.[0-9]+\.json$/.test(name)) {
      const r = readJson<Run>(join(dir, name));
      if (r) runs.push(r);
    }
  }
  scenarios.sort((a, b) => (a.order ?? 1e9) - (b.order ?? 1e9));
  return { meta: readJson<Meta>(join(dir, "meta.json")), scenarios, runs };
}

export function render(dir: string): { text: string; meta?: Meta } {
  const { meta, scenarios, runs } = load(dir);
  const chosen = choose(runs, scenarios);
  const text = [figuresTable(scenarios, chosen), "", goalsTable(chosen)].join("\n");
  return { text, meta };
}

const markers = (mode: string) => ({
  begin: `<!-- compare.sh ${mode}: begin (generated by bench/table.ts; edit outside the markers) -->`,
  end: `<!-- compare.sh ${mode}: end -->`,
});

export function about(m: Meta | undefined): string {
  if (!m) return "";
  return [
    `Run ${m.date}, \`bench/compare.sh${m.mode === "quick" ? " --quick" : ""}\` (${m.label ?? m.mode}; storms of ${m.storm} clients, ${m.huge ?? "?"} × 1 MiB; single-client row best of ${m.rounds}; ${m.generators ?? 1} generator process(es) per row).`,
    `Machine: nproc ${m.nproc}, ${m.cpu}, ${m.os}, Linux ${m.kernel}; load average at the start ${m.load ?? "?"}. Server CPU from ${m.cpuSource ?? "?"}.`,
    `Versions: ${Object.entries(m.versions)
      .map(([k, v]) => `${k} ${v || "?"}`)
      .join(", ")}.`,
  ].join("  \n");
}

function main(argv: string[]): void {
  const dir = argv[0];
  if (!dir) {
    console.error("usage: bun bench/table.ts RESULTS_DIR [--write RESULTS.md]");
    process.exit(2);
  }
  const { text, meta } = render(dir);
  console.log(text);
  const w = argv.indexOf("--write");
  if (w < 0) return;
  const target = argv[w + 1];
  if (!target) {
    console.error("table.ts: --write needs a file");
    process.exit(2);
  }
  const { begin, end } = markers(meta?.label ?? meta?.mode ?? "full");
  const block = [begin, about(meta), "", text, end].join("\n");
  let md = existsSync(target) ? readFileSync(target, "utf8") : "# pxeboot vs tftpd-hpa, atftpd, dnsmasq\n\n";
  const i = md.indexOf(begin);
  const j = md.indexOf(end);
  md = i >= 0 && j > i ? md.slice(0, i) + block + md.slice(j + end.length) : `${md.trimEnd()}\n\n${block}\n`;
  writeFileSync(target, md);
  console.error(`wrote ${target}`);
}

if (import.meta.main) main(process.argv.slice(2));
