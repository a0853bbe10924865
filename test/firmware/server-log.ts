/**
 * What the server says it served, read from its own log: the proof that a boot went through the
 * pxelinux.cfg file the test meant, rather than a lucky fallback. pxeboot runs with
 * `--log-format json --verbose` (one object per finished transfer, misses included); the dnsmasq
 * stand-in logs "sent <path> to <ip>".
 */
import { expect } from "bun:test";
import type { Lab } from "./harness.ts";

export interface ServedLine {
  msg: string;
  file: string;
  client?: string;
  options?: string;
  outcome?: string;
  bytes?: number;
  ms?: number;
}

export function parseServerLog(text: string, root: string): ServedLine[] {
  const out: ServedLine[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("{")) {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (typeof o.file === "string") {
          out.push({
            msg: String(o.msg),
            file: o.file,
            client: o.client as string | undefined,
            options: o.options as string | undefined,
            outcome: o.outcome as string | undefined,
            bytes: o.bytes as number | undefined,
            ms: o.ms as number | undefined,
          });
        }
      } catch {
        // A partial last line while the server is still writing.
      }
      continue;
    }
    const sent = /dnsmasq-tftp\[\d+\]: sent (\S+) to (\S+)/.exec(line);
    if (sent) {
      const file = sent[1]!.startsWith(root + "/") ? sent[1]!.slice(root.length + 1) : sent[1]!;
      out.push({ msg: "transfer ok", file, client: sent[2], outcome: "ok" });
    }
  }
  return out;
}

/** Files the server completed, in order. */
export function servedFiles(lab: Lab): string[] {
  return parseServerLog(lab.serverLog(), lab.opts.root)
    .filter((l) => l.outcome === "ok")
    .map((l) => l.file);
}

/** Every file named was sent to the end, in this order (other transfers may come between). */
export function expectServed(lab: Lab, files: string[]): void {
  const served = servedFiles(lab);
  let at = 0;
  for (const f of served) if (f === files[at]) at++;
  if (at < files.length) {
    expect(`served in order: ${served.join(", ")}`).toBe(`served in order: ${files.join(", ")} (missing from ${files[at]})`);
  }
}

/** A one-line-per-transfer summary for the test output: what each firmware asked and got. */
export function transferSummary(lab: Lab): string {
  return parseServerLog(lab.serverLog(), lab.opts.root)
    .map((l) => `  ${l.outcome ?? l.msg} ${l.file}${l.options ? ` [${l.options}]` : ""}${l.bytes !== undefined ? ` ${l.bytes} B` : ""}${l.ms !== undefined ? ` ${l.ms} ms` : ""}`)
    .join("\n");
}

/** The options the server sent in its OACK for the first completed transfer of `file`. */
export function grantedOptions(lab: Lab, file: string): Record<string, string> {
  const line = parseServerLog(lab.serverLog(), lab.opts.root).find((l) => l.file === file && l.outcome === "ok");
  if (!line) throw new Error(`no completed transfer of ${file} in the server log`);
  return Object.fromEntries((line.options ?? "").split(",").filter(Boolean).map((kv) => kv.split("=") as [string, string]));
}
