/**
 * The farm page: every recorded host with its last boot as a bar of steps, the hosts booting
 * now first, then the ones whose last boot failed. Plain HTML with inline CSS and a meta refresh:
 * no script and no asset from anywhere (a boot network is often air-gapped). Every string that a
 * host or client chose (file names, reasons, addresses) is escaped.
 */
import { FAILED_VERDICTS, type Boot } from "./types.ts";

export interface FarmHost {
  /** The record's key: a MAC (aa-bb-cc-dd-ee-ff) or an address. */
  id: string;
  profile?: string;
  last: Boot;
}

export interface FarmPage {
  hosts: FarmHost[];
  now: number;
  /** The server's counters now, as name → value (active transfers, bytes sent, …). */
  server: Record<string, string | number>;
  /** Seconds between the page's refreshes. */
  refreshS?: number;
  /** Hosts whose records are still to be read (a cold start with many hosts). */
  unread?: number;
  /** Rows at most (booting and failed hosts come first); the counts cover every host. */
  limit?: number;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}


/** Booting now first, then failed, then the rest; newest first within each. */
export function farmOrder(hosts: FarmHost[]): FarmHost[] {
  const rank = (h: FarmHost) => (h.last.verdict === "in-progress" ? 0 : FAILED_VERDICTS.has(h.last.verdict) ? 1 : 2);
  return [...hosts].sort((a, b) => rank(a) - rank(b) || b.last.endedAt - a.last.endedAt);
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function stepClass(outcome: string, kind: string): string {
  if (outcome === "ok") return "ok";
  if (outcome === "probe" || kind === "config" || kind === "module") return "miss";
  return "bad";
}

function bar(boot: Boot): string {
  return boot.steps
    .map((s) => `<span class="s ${stepClass(s.outcome, s.kind)}" title="${escapeHtml(`${s.file}: ${s.outcome}${s.code !== undefined ? ` ${s.code}` : ""}`)}">${escapeHtml(s.kind === "offer" ? "D" : s.kind[0]!.toUpperCase())}</span>`)
    .join("");
}

export function renderFarmPage(p: FarmPage): string {
  const ordered = farmOrder(p.hosts);
  const shown = ordered.slice(0, p.limit ?? ordered.length);
  const rows = shown
    .map((h) => {
      const v = h.last.verdict;
      const cls = v === "in-progress" ? "run" : FAILED_VERDICTS.has(v) ? "fail" : "good";
      return `<tr class="${cls}"><td><a href="/api/hosts/${encodeURIComponent(h.id)}/boots">${escapeHtml(h.id)}</a></td><td>${escapeHtml(h.last.address)}</td><td>${escapeHtml(h.profile ?? "-")}</td><td class="v">${escapeHtml(v)}</td><td>${escapeHtml(h.last.detail ?? "")}</td><td>${escapeHtml(ago(p.now - h.last.endedAt))}</td><td class="bar">${bar(h.last)}</td></tr>`;
    })
    .join("\n");
  const server = Object.entries(p.server)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(String(v))}</dd>`)
    .join("");
  const booting = p.hosts.filter((h) => h.last.verdict === "in-progress").length;
  const failed = p.hosts.filter((h) => FAILED_VERDICTS.has(h.last.verdict)).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${p.refreshS ?? 5}">
<title>pxeboot farm</title>
<style>
body{font:14px system-ui,sans-serif;margin:1em 2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
tr.run .v{color:#06c;font-weight:bold}tr.fail .v{color:#b00;font-weight:bold}tr.good .v{color:#070}
.s{display:inline-block;width:1.3em;text-align:center;margin-right:1px;font:11px monospace;color:#fff;border-radius:2px}
.s.ok{background:#2a2}.s.miss{background:#aaa}.s.bad{background:#c22}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{color:#666}
</style></head><body>
<h1>pxeboot farm</h1>
<p id="summary">${p.hosts.length} hosts recorded${shown.length < p.hosts.length ? ` (the first ${shown.length} shown: booting and failed first)` : ""}, ${booting} booting now, ${failed} whose last boot failed.${p.unread ? ` ${p.unread} more not read yet: they appear over the next refreshes.` : ""} JSON: <a href="/api/hosts">/api/hosts</a>, <a href="/metrics">/metrics</a>.</p>
<dl id="server">${server}</dl>
<table id="hosts"><thead><tr><th>host</th><th>address</th><th>profile</th><th>last boot</th><th>where it stopped</th><th>when</th><th>steps (D proxy DHCP offer, L loader, M module, C config, K kernel, I initrd, O other)</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
