/**
 * `pxeboot status`'s hosts: those booting now and those whose last boot failed, from the farm
 * page's JSON (`/api/hosts`, on the same listener as /metrics).
 */
import { printable } from "../boots/format.ts";
import { FAILED_VERDICTS } from "../boots/types.ts";

export interface ApiHost {
  id: string;
  address: string;
  verdict: string;
  detail: string | null;
  endedAt: string;
  steps: { file: string }[];
}

/** Lines per section at most: the farm page has them all. */
const SHOWN = 10;

export function hostsSection(hosts: ApiHost[], nowMs: number): string {
  const booting = hosts.filter((h) => h.verdict === "in-progress").sort((a, b) => Date.parse(b.endedAt) - Date.parse(a.endedAt));
  const failed = hosts.filter((h) => FAILED_VERDICTS.has(h.verdict)).sort((a, b) => Date.parse(b.endedAt) - Date.parse(a.endedAt));
  const ago = (iso: string) => `${Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000))} s ago`;
  const lines = [`hosts: ${hosts.length} recorded, ${booting.length} booting now, ${failed.length} whose last boot failed`];
  if (booting.length) {
    lines.push("  booting now:");
    for (const h of booting.slice(0, SHOWN)) lines.push(`    ${printable(h.id).padEnd(18)} ${printable(h.address).padEnd(15)} at ${printable(h.steps.at(-1)?.file ?? "-")} (${ago(h.endedAt)})`);
  }
  if (failed.length) {
    lines.push("  last boot failed (pxeboot host log HOST says where):");
    for (const h of failed.slice(0, SHOWN)) lines.push(`    ${printable(h.id).padEnd(18)} ${printable(h.address).padEnd(15)} ${h.verdict} ${printable(h.detail ?? "")} (${ago(h.endedAt)})`);
  }
  return lines.join("\n") + "\n";
}

/** The hosts from the listener serving `metricsUrl`; undefined when it has no farm API (an older server). */
export async function fetchHosts(metricsUrl: string): Promise<ApiHost[] | undefined> {
  try {
    const u = new URL(metricsUrl);
    u.pathname = "/api/hosts";
    const res = await fetch(u, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return undefined;
    return (await res.json()) as ApiHost[];
  } catch {
    return undefined;
  }
}
