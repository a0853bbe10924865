/** The text of `pxeboot host log`: one block per boot, one line per step, times relative to the boot's start. */
import type { Boot } from "./types.ts";

const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z";
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** Client-chosen names are printed with control bytes escaped: a name must not drive the terminal. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export function formatBoot(boot: Boot, index: number): string {
  const head = `boot ${index}  ${time(boot.startedAt)}  ${seconds(boot.endedAt - boot.startedAt)}  ${boot.address}  ${boot.verdict}${boot.detail ? `  ${printable(boot.detail)}` : ""}`;
  const width = Math.min(48, Math.max(...boot.steps.map((s) => printable(s.file).length)));
  const lines = boot.steps.map((s) => {
    const what = s.outcome === "ok" ? `${s.bytes.toLocaleString("en")} B in ${s.ms} ms` : `${s.outcome}${s.code !== undefined ? ` ${s.code}` : ""}${s.reason ? ` (${printable(s.reason)})` : ""}`;
    const resent = s.retransmits ? `, ${s.retransmits} resent` : "";
    return `  +${seconds(s.at - boot.startedAt).padStart(8)}  ${s.via.padEnd(4)}  ${printable(s.file).padEnd(width)}  ${s.kind.padEnd(7)}  ${what}${resent}`;
  });
  return [head, ...lines].join("\n");
}
