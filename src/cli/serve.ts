/**
 * `pxeboot serve` and `pxeboot in.tftpd`: the commands that start the daemon. They read the
 * command line and the files it names into one ServeSettings (resolve-serve.ts), then run the
 * server as a process (daemon/run.ts) in the foreground until SIGTERM/SIGINT.
 */
import { defineCommand, type ArgsDef } from "citty";
import pkg from "../../package.json" with { type: "json" };
import { runDaemon } from "../daemon/run.ts";
import { fail } from "./args.ts";
import type { Mode } from "../config/sources/command-line.ts";
import { tftpdHelpArgs } from "../config/sources/tftpd-options.ts";
import { resolveServe } from "./resolve-serve.ts";
import { serveArgs } from "./serve-config.ts";
import { rereadServe } from "./serve-reload.ts";

/** in.tftpd's options as --help lists them, from the one option table; every serve flag is taken too. */
const inTftpdHelp: ArgsDef = {
  directory: { type: "positional", required: false, description: "the tftproot; without -s, requests for /DIRECTORY/FILE are served as FILE" },
  ...tftpdHelpArgs(),
};

/** `serve` and its alias `in.tftpd`: one server, two ways of reading the command line (command-line.ts). */
function serveCommand(mode: Mode) {
  return defineCommand({
    meta:
      mode === "serve"
        ? { name: "serve", description: "Serve a tftproot over TFTP (RFC 1350, 2347-2349, 7440); in.tftpd's short options work too" }
        : { name: "in.tftpd", description: "Serve with tftpd-hpa's in.tftpd command line (ExecStart=/usr/local/sbin/pxeboot in.tftpd -L -s /srv/tftp …); serve's long flags work too" },
    args: mode === "serve" ? serveArgs : inTftpdHelp,
    async run({ rawArgs }) {
      try {
        const resolved = resolveServe(rawArgs, mode);
        if (resolved.version) {
          process.stdout.write(`pxeboot ${pkg.version} (in.tftpd compatible, with remap)\n`);
          process.exit(0);
        }
        await runDaemon(resolved.settings, rereadServe(rawArgs, mode, resolved.settings, resolved.merged));
      } catch (err) {
        fail(err);
      }
    },
  });
}

export default serveCommand("serve");
export const inTftpd = serveCommand("in.tftpd");
