/**
 * `pxeboot quirks [serve flags…]`: what serve pins per client (--quirks FILE, from the same flags
 * and config files serve reads) and what a running server learned about picky clients (from
 * the /quirks document of its --metrics endpoint, which asks every worker).
 */
import { defineCommand, type ArgsDef } from "citty";
import { fail } from "./args.ts";
import { describeRule } from "./quirks-file.ts";
import { resolveServe } from "./resolve-serve.ts";
import { serveArgs } from "./serve-config.ts";

interface LearnedEntry {
  client: string;
  offer: string;
  reason: string;
  file: string;
  forgottenInSec: number;
}

async function learned(url: string): Promise<LearnedEntry[] | string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return `${url}: HTTP ${res.status} (a pxeboot older than the /quirks document?)`;
    return (await res.json()) as LearnedEntry[];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return `${url}: ${code === "ConnectionRefused" || code === "ECONNREFUSED" ? "connection refused (is serve running?)" : (err as Error).message}`;
  }
}

export default defineCommand({
  meta: { name: "quirks", description: "Show the per-client quirks serve pins (--quirks) and what a running server learned (through --metrics)" },
  args: serveArgs,
  async run({ rawArgs }) {
    try {
      const r = resolveServe(rawArgs, "serve", { command: "pxeboot quirks" });
      const rules = r.settings.server.quirks ?? [];
      const file = r.merged.get("quirks")?.value as string | undefined;
      const out: string[] = [];
      out.push(file ? `pinned (${file}):` : "pinned: nothing (no --quirks file)");
      for (const rule of rules) out.push(`  ${describeRule(rule)}`);
      if (file && rules.length === 0) out.push("  (the file has no [[client]] rules)");
      const m = r.settings.metrics;
      if (!m) out.push("learned: not shown (serve runs without --metrics, and what it learns lives only in its memory)");
      else {
        const host = m.address === "0.0.0.0" ? "127.0.0.1" : m.address === "::" ? "[::1]" : m.address.includes(":") ? `[${m.address}]` : m.address;
        const url = `http://${host}:${m.port}/quirks`;
        const got = await learned(url);
        if (typeof got === "string") out.push(`learned: not available (${got})`);
        else {
          out.push(`learned (${url}):${got.length === 0 ? " nothing" : ""}`);
          for (const e of got) out.push(`  ${e.client}: ${e.offer}, ${e.forgottenInSec} s more (${e.reason || "confirmed"}; ${e.file})`);
        }
      }
      process.stdout.write(out.join("\n") + "\n");
    } catch (err) {
      fail(err);
    }
  },
});
