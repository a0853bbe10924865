/**
 * The command tree (one sub-command per job, loaded on demand) and how a command line runs on
 * it: help and version as citty does them, everything else through runCommand so that a usage
 * mistake citty itself catches (a missing argument, a bad enum, an unknown command) is one line
 * and exit 2, like every other usage error of ours, instead of the whole usage and exit 1.
 */
import { defineCommand, renderUsage, runCommand, runMain, type CommandDef } from "citty";
import pkg from "../../package.json" with { type: "json" };

const main = defineCommand({
  meta: { name: "pxeboot", version: pkg.version, description: "TFTP server for PXE boot farms" },
  subCommands: {
    serve: () => import("./serve.ts").then((m) => m.default),
    "in.tftpd": () => import("./serve.ts").then((m) => m.inTftpd),
    config: () => import("./config.ts").then((m) => m.default),
    get: () => import("./get.ts").then((m) => m.default),
    init: () => import("./init.ts").then((m) => m.default),
    host: () => import("./host.ts").then((m) => m.default),
    doctor: () => import("./doctor.ts").then((m) => m.default),
    loaders: () => import("./loaders.ts").then((m) => m.default),
    bench: () => import("./bench.ts").then((m) => m.default),
    demo: () => import("./demo.ts").then((m) => m.default),
    "systemd-unit": () => import("./systemd-unit.ts").then((m) => m.default),
    status: () => import("./status.ts").then((m) => m.default),
    quirks: () => import("./quirks.ts").then((m) => m.default),
  },
});

// `pxeboot host list | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

/** "host add", "config check", "serve": the leading words that name a (sub-)command. */
async function commandPath(words: string[]): Promise<string> {
  const path: string[] = [];
  let cmd: CommandDef = main;
  for (const w of words) {
    const subs = typeof cmd.subCommands === "function" ? await cmd.subCommands() : await cmd.subCommands;
    const next = subs?.[w];
    if (!next) break;
    path.push(w);
    cmd = (typeof next === "function" ? await next() : await next) as CommandDef;
  }
  return ["pxeboot", ...path].join(" ");
}

const rawArgs = process.argv.slice(2);
if (rawArgs.length === 1 && (rawArgs[0] === "-V" || rawArgs[0] === "version")) {
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}
if (rawArgs.length === 0 || rawArgs.some((a) => a === "--help" || a === "-h") || (rawArgs.length === 1 && rawArgs[0] === "--version")) {
  if (rawArgs.length === 0) {
    process.stderr.write("pxeboot: which command? (see pxeboot --help)\n");
    process.exit(2);
  }
  const where = await commandPath(rawArgs);
  await runMain(main, {
    // citty names a command by its parent's name and its own, so `config check` would lose
    // `pxeboot`: every usage line is given the whole path of words that led to it instead.
    showUsage: async (cmd, parent) => {
      const parentPath = where.split(" ").slice(0, -1).join(" ");
      const usage = await renderUsage(cmd, parent && parentPath ? { meta: { name: parentPath, version: pkg.version } } : undefined);
      console.log(usage + "\n");
      // What a command's flags cannot say in one line each.
      if (where === "pxeboot serve" || where === "pxeboot in.tftpd")
        console.log((await import("../layout/install-once.ts")).hookEnvironmentHelp());
    },
  });
} else {
  try {
    await runCommand(main, { rawArgs });
  } catch (err) {
    const where = await commandPath(rawArgs);
    // citty's own checks throw CLIError: a usage mistake, not a failure of the command.
    if ((err as Error)?.name === "CLIError") {
      process.stderr.write(`${where}: ${(err as Error).message} (see ${where} --help)\n`);
      process.exit(2);
    }
    process.stderr.write(`${where}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
