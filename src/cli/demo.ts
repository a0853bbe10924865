/**
 * `pxeboot demo` (what `npm start` runs): a newcomer's first minute. Scaffolds a tftproot with
 * `init` if there is none, adds a small demo file, and serves it on an unprivileged port on
 * loopback, printing the commands that fetch from it.
 */
import { defineCommand } from "citty";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { initLayout } from "../layout/init.ts";
import { createInstallOnce } from "../layout/install-once.ts";
import { createLogger } from "../log.ts";
import { guarded, intArg } from "./args.ts";
import { serveConfig } from "./serve-config.ts";
import { asFlags } from "../config/settings.ts";
import { validate } from "../config/validate.ts";
import { serveUntilSignal } from "../daemon/lifecycle.ts";
import { DEFAULT_MARKER } from "../layout/paths.ts";

export default defineCommand(
  guarded("demo", {
    meta: { name: "demo", description: "Serve a demo tftproot (created with init if missing) on 127.0.0.1:6969" },
    args: {
      dir: { type: "positional", description: "demo tftproot (default ./demo-tftproot)", required: false },
      port: { type: "string", description: "UDP port", default: "6969" },
      address: { type: "string", description: "address to listen on", default: "127.0.0.1" },
    },
    async run({ args }) {
      const root = resolve(args.dir ?? "demo-tftproot");
      const port = intArg("port", args.port, 1, 65535);
      const log = createLogger({ level: "info" });
      if (!existsSync(join(root, "pxelinux.cfg"))) {
        const report = await initLayout(root, { profiles: ["demo"] });
        log.info(`created a demo tftproot with pxeboot init`, { root, files: report.steps.length });
        for (const m of report.missing) log.info(`boot loader ${m.path} not installed here: ${m.install}`);
      }
      const hello = join(root, "hello.txt");
      if (!existsSync(hello)) writeFileSync(hello, "Hello from pxeboot. This file was served over TFTP.\n");
      const config = serveConfig(validate(asFlags({ root, address: args.address, port, "cache-mb": 64, workers: 1 })));
      const host = args.address.includes(":") ? `[${args.address}]` : args.address;
      process.stderr.write(
        [
          ``,
          `  Serving ${root} on ${host}:${port}. Try, from another terminal:`,
          `    curl -s tftp://${host}:${port}/hello.txt`,
          `    tftp ${args.address} ${port} -c get pxelinux.cfg/default /dev/stdout`,
          `    node_modules/.bin/bun src/cli/main.ts get tftp://${host}:${port}/hello.txt -o -`,
          `  Ctrl-C stops it.`,
          ``,
          ``,
        ].join("\n"),
      );
      await serveUntilSignal({
        config,
        log,
        observers: [createInstallOnce({ root, marker: DEFAULT_MARKER, log })],
        dualStackDefault: false,
      });
      process.exit(0);
    },
  }),
);
