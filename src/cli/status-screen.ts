/**
 * `pxeboot status`'s screen, pure: parse two scrapes of the metrics endpoint and lay them out
 * for a person. Rates come from the difference of the two scrapes, so no history is kept.
 */

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Prometheus text format's sample lines; comments and blank lines are skipped. */
export function parseMetrics(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not Prometheus text: '${line.slice(0, 60)}'`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Summed over every series (and worker) whose labels include `match`. */
export function total(samples: MetricSample[], name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  return sum;
}

export function isPxebootMetrics(samples: MetricSample[]): boolean {
  return samples.some((s) => s.name === "pxeboot_build_info");
}

/** The names of RFC 1350 / 2347 error codes, as an admin knows them. */
const ERROR_NAMES: Record<string, string> = {
  "0": "not defined",
  "1": "file not found",
  "2": "access violation",
  "3": "disk full",
  "4": "illegal operation",
  "5": "unknown transfer ID",
  "6": "file exists",
  "7": "no such user",
  "8": "option refused",
};

export function humanBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[i]}`;
}

function humanDuration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}

/** Names come from clients: control characters would break the screen's lines. */
// eslint-disable-next-line no-control-regex
const printable = (name: string) => name.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/** How many of the most requested files the screen lists. */
const TOP_FILES = 5;

/** The most requested files (summed over workers), most transfers first, then most bytes. */
export function topFiles(samples: MetricSample[], n = TOP_FILES): Array<{ file: string; transfers: number; bytes: number }> {
  const files = new Map<string, { file: string; transfers: number; bytes: number }>();
  const entry = (file: string) => files.get(file) ?? files.set(file, { file, transfers: 0, bytes: 0 }).get(file)!;
  for (const s of samples) {
    if (s.labels.file === undefined) continue;
    if (s.name === "pxeboot_file_transfers_total") entry(s.labels.file).transfers += s.value;
    else if (s.name === "pxeboot_file_sent_bytes_total") entry(s.labels.file).bytes += s.value;
  }
  return [...files.values()].sort((a, b) => b.transfers - a.transfers || b.bytes - a.bytes || (a.file < b.file ? -1 : 1)).slice(0, n);
}

/** One screen from two scrapes `seconds` apart; `nowSeconds` is the second scrape's time. */
export function statusScreen(before: MetricSample[], after: MetricSample[], seconds: number, url: string, nowSeconds: number): string {
  const now = (name: string, match?: Record<string, string>) => total(after, name, match);
  const rate = (name: string, match?: Record<string, string>) => (now(name, match) - total(before, name, match)) / seconds;
  const perSec = (r: number) => `${r.toFixed(1)}/s`;
  const version = after.find((s) => s.name === "pxeboot_build_info")?.labels.version ?? "?";
  const workers = new Set(after.filter((s) => s.name === "pxeboot_build_info").map((s) => s.labels.worker)).size;
  const started = Math.min(...after.filter((s) => s.name === "process_start_time_seconds").map((s) => s.value));
  const lines: string[] = [];
  lines.push(`pxeboot ${version} at ${url}${workers > 1 ? ` (${workers} workers)` : ""}, up ${Number.isFinite(started) ? humanDuration(nowSeconds - started) : "?"}`);
  lines.push("");
  lines.push(`transfers   active ${now("pxeboot_transfers_active")}   queued ${now("pxeboot_transfers_queued")}`);
  const outcomes = ["ok", "probe", "error", "timeout"].map((o) => {
    const r = rate("pxeboot_transfers_total", { outcome: o });
    return `${o} ${now("pxeboot_transfers_total", { outcome: o })}${r > 0 ? ` (${perSec(r)})` : ""}`;
  });
  lines.push(`finished    ${outcomes.join("   ")}`);
  lines.push(
    `bytes       sent ${humanBytes(now("pxeboot_sent_bytes_total"))} (${humanBytes(rate("pxeboot_sent_bytes_total"))}/s)   received ${humanBytes(now("pxeboot_received_bytes_total"))}`,
  );
  lines.push(`retransmits ${now("pxeboot_retransmits_total")} (${perSec(rate("pxeboot_retransmits_total"))})`);
  lines.push(
    `requests    refused ${now("pxeboot_requests_refused_total")}   dropped (queue full) ${now("pxeboot_requests_dropped_total")}   denied ${now("pxeboot_requests_denied_total")}`,
  );
  const codes = [...new Set(after.filter((s) => s.name === "pxeboot_errors_total").map((s) => s.labels.code ?? "?"))].sort();
  const errors = codes.map((c) => `${c} ${ERROR_NAMES[c] ?? "?"}: ${now("pxeboot_errors_total", { code: c })}`);
  lines.push(`errors      ${errors.length ? errors.join("   ") : "none"}   in the last minute: ${now("pxeboot_errors_last_minute")}`);
  if (after.some((s) => s.name === "pxeboot_install_once_installed_total")) {
    const f = (reason: string) => now("pxeboot_install_once_failures_total", { reason });
    lines.push(
      `install-once installed ${now("pxeboot_install_once_installed_total")}   will reinstall: marker fetch failed ${f("marker_fetch_failed")}, unknown MAC ${f("unknown_mac")}, entries not removed ${f("remove_failed")}`,
    );
  } else lines.push("install-once off");
  const hits = now("pxeboot_cache_hits_total");
  const misses = now("pxeboot_cache_misses_total");
  const ratio = hits + misses > 0 ? `${((100 * hits) / (hits + misses)).toFixed(1)}%` : "-";
  lines.push(`cache       hit ratio ${ratio} (${hits} hits, ${misses} misses)   holds ${humanBytes(now("pxeboot_cache_bytes"))}`);
  const top = topFiles(after);
  if (top.length === 0) lines.push("top files   none yet");
  else {
    lines.push("top files   transfers   bytes sent   file");
    const width = "transfers".length;
    for (const t of top) lines.push(`            ${String(t.transfers).padStart(width)}   ${humanBytes(t.bytes).padStart(10)}   ${printable(t.file)}`);
  }
  return lines.join("\n") + "\n";
}
