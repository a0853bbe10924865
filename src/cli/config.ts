/**
 * `pxeboot config check [FILE]` validates a config file as `serve` would read it (keys, values,
 * the remap and defaults files it names, users); `pxeboot config show [serve flags…]` prints the
 * settings `serve` would run with, as TOML.
 */
import { defineCommand, type ArgsDef } from "citty";
import { existsSync } from "node:fs";
import { fail, UsageError } from "./args.ts";
import { renderToml } from "./config-show.ts";
import { DEFAULT_CONFIG, resolveServe } from "./resolve-serve.ts";
import { serveArgs } from "./serve-config.ts";

const check = defineCommand({
  meta: { name: "check", description: `Validate a config file (default ${DEFAULT_CONFIG}) and the files it names; exit 2 with one line if it is wrong` },
  args: { file: { type: "positional", required: false, description: `the file (default ${DEFAULT_CONFIG})` } },
  async run({ rawArgs }) {
    try {
      if (rawArgs.length > 1 || rawArgs[0]?.startsWith("-"))
        throw new UsageError(`pxeboot config check takes one FILE (default ${DEFAULT_CONFIG}), got '${rawArgs.join(" ")}'`);
      const file = rawArgs[0] ?? DEFAULT_CONFIG;
      if (!existsSync(file)) throw new UsageError(`${file}: no such file${rawArgs[0] ? "" : " (pass the file to check: pxeboot config check FILE)"}`);
      const r = resolveServe(["--config", file], "serve", { command: "pxeboot config check" });
      const keys = [...r.merged.values()].filter((s) => s.origin.kind === "file").length;
      process.stdout.write(`${r.sources.join(" + ")}: ok (${keys} setting${keys === 1 ? "" : "s"}, root ${r.settings.server.root})\n`);
    } catch (err) {
      fail(err);
    }
  },
});

const show = defineCommand({
  meta: { name: "show", description: "Print the settings serve would run with (defaults, config file, defaults file, flags) as TOML" },
  args: Object.fromEntries(Object.entries(serveArgs).map(([k, d]) => [k, d.type === "enum" ? { ...d, type: "string" } : d])) as ArgsDef,
  async run({ rawArgs }) {
    try {
      const r = resolveServe(rawArgs, "serve", { command: "pxeboot config show" });
      process.stdout.write(renderToml(r.merged, r.sources));
    } catch (err) {
      fail(err);
    }
  },
});

export default defineCommand({
  // The name nested usage lines start with ("pxeboot config check"), not the key main.ts lists it under.
  meta: { name: "pxeboot config", description: "Check a config file, or show the effective serve settings" },
  subCommands: { check, show },
});
