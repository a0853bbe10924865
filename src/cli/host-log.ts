/** `pxeboot host log HOST`: where each of a host's boots got to, step by step, with its verdict. */
import { defineCommand } from "citty";
import { statSync } from "node:fs";
import { formatBoot } from "../boots/format.ts";
import { hostBoots, keysOf, type HostQuery } from "../boots/host-boots.ts";
import { formatIPv4, parseClientName } from "../layout/hexip.ts";
import { guarded, UsageError } from "./args.ts";
import { DEFAULT_ROOT } from "../config/schema.ts";

const FOLLOW_POLL_MS = 1000;

function query(host: string): HostQuery {
  const client = parseClientName(host);
  if (client && "mac" in client) return { mac: client.mac };
  if (client && "ip" in client) return { address: formatIPv4(client.ip) };
  // An IPv6 client is keyed by its address as written.
  if (/^[0-9a-f:]+$/i.test(host) && host.includes(":")) return { address: host.toLowerCase() };
  throw new UsageError(`'${host}' is not a host: give its IPv4 or IPv6 address, or its MAC (aa:bb:cc:dd:ee:ff)`);
}

export const hostLog = guarded(
  "host log",
  defineCommand({
    meta: { name: "log", description: "Show HOST's last boots: each file it asked for, how that went, and where the boot stopped" },
    args: {
      host: { type: "positional", description: "The client's address or MAC", required: true },
      boots: { type: "string", description: "How many of the latest boots", default: "3", valueHint: "N" },
      json: { type: "boolean", description: "The boots as JSON (one array)" },
      follow: { type: "boolean", description: "Keep printing the boot as it goes (Ctrl-C stops)" },
      root: { type: "string", description: "The tftproot", default: DEFAULT_ROOT, valueHint: "DIR" },
    },
    async run({ args }) {
      try {
        if (!statSync(args.root).isDirectory()) throw new Error();
      } catch {
        throw new UsageError(`--root ${args.root} is not a directory: pass the root pxeboot serves with --root DIR`);
      }
      const n = Number(args.boots);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--boots must be a whole number of at least 1, got '${args.boots}'`);
      const keys = keysOf(args.root, query(args.host));
      const latest = () => hostBoots(args.root, keys, Date.now()).slice(-n);
      const boots = latest();
      if (args.json) {
        process.stdout.write(JSON.stringify(boots, null, 2) + "\n");
        return;
      }
      if (boots.length === 0 && !args.follow) {
        process.stdout.write(`no boots recorded for ${args.host} in ${args.root} (records are kept by pxeboot serve in .pxeboot/boots/)\n`);
        return;
      }
      const first = Math.max(0, hostBoots(args.root, keys, Date.now()).length - boots.length) + 1;
      process.stdout.write(boots.map((b, i) => formatBoot(b, first + i)).join("\n\n") + (boots.length ? "\n" : ""));
      if (!args.follow) return;
      // Follow: print what changed in the latest boot (a new step, a new verdict), or a new boot.
      let shown = boots.length ? formatBoot(boots[boots.length - 1]!, first + boots.length - 1) : "";
      let count = first + boots.length - 1;
      for (;;) {
        await Bun.sleep(FOLLOW_POLL_MS);
        const all = hostBoots(args.root, keys, Date.now());
        const last = all[all.length - 1];
        if (!last) continue;
        const text = formatBoot(last, all.length);
        if (all.length !== count || text !== shown) {
          process.stdout.write(`\n${text}\n`);
          shown = text;
          count = all.length;
        }
      }
    },
  }),
);
