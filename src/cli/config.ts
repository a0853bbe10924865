/**
 * `pxeboot config check [FILE]` validates a config file as `serve` would read it (keys, values,
 * the remap and defaults files it names, users); `pxeboot config show [serve flags…]` prints the
 * settings `serve` would run with, as TOML.
 */
import { defineCommand, type ArgsDef } from "citty";
import { existsSync, statSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { fail, UsageError } from "./args.ts";
import { renderToml } from "../config/show.ts";
import { DEFAULT_CONFIG, resolveServe, type Resolved } from "./resolve-serve.ts";
import { describeOrigin } from "../config/settings.ts";
import { serveArgs } from "./serve-config.ts";
import { serviceIdentity } from "../daemon/privileges.ts";
import { unreadableBy } from "./readable-after-drop.ts";
import type { Identity } from "../layout/writable.ts";

/** Addresses a socket can bind here: every interface's, and the wildcards. */
function localAddresses(): Set<string> {
  const out = new Set(["0.0.0.0", "::"]);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ""));
  return out;
}

/**
 * What would make `serve` fail at start though every value parses: a root that is not a
 * directory, an address this host does not have. Said as serve would, naming where it was set.
 */
function startProblem(r: Resolved): void {
  const where = (key: string) => {
    const s = r.merged.get(key);
    return s ? ` (${describeOrigin(s.origin)})` : "";
  };
  const root = r.settings.server.root;
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // said below
  }
  if (!isDir) throw new UsageError(`root ${root}${where("root")} is not a directory: create it with pxeboot init ${root}, or name another`);
  const local = localAddresses();
  for (const a of r.settings.server.addresses)
    if (!local.has(a)) throw new UsageError(`address ${a}${where("address")} is not an address of this host (it has ${[...local].join(", ")})`);
  readableAfterDrop(r, where);
}

/**
 * What serve reads again as the user it runs as: the root on every request, the files a SIGHUP
 * re-reads. Checked as that user: the one serve drops to when started as root (systemd), else
 * whoever runs this check.
 */
function readableAfterDrop(r: Resolved, where: (key: string) => string): void {
  const { user, group } = r.settings;
  const asRoot = process.getuid?.() === 0;
  const who: Identity | undefined =
    asRoot || user !== undefined || group !== undefined
      ? serviceIdentity(user, group, 0).drop
      : { name: `uid ${process.getuid?.()}`, uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
  if (!who) return; // --user root: reads as root
  const { server } = r.settings;
  const reread: [string, string | undefined, string][] = [
    ["root", server.root, "every request would fail"],
    // check is always given the config file: it comes first, the defaults file it names after.
    ...r.sources.map((f, i): [string, string, string] => [i === 0 ? "config file" : "defaults-file", f, "every SIGHUP would fail to re-read it"]),
    ["map-file", r.settings.remapSources.mapFile, "every SIGHUP would fail to re-read it"],
    ["quirks", r.merged.get("quirks")?.value as string | undefined, "every SIGHUP would fail to re-read it"],
  ];
  for (const [key, path, consequence] of reread) {
    if (path === undefined) continue;
    const why = unreadableBy(path, who);
    const named = key === "config file" ? "" : where(key);
    if (why) throw new UsageError(`${key} ${path}${named}: ${who.name} (uid ${who.uid}, gid ${who.gid}), whom serve runs as after binding the port, ${why.problem}, so ${consequence}; fix: ${why.fix}`);
  }
}

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
      startProblem(r);
      const keys = [...r.merged.values()].filter((s) => s.origin.kind === "file").length;
      process.stdout.write(`${r.sources.join(" + ")}: ok (${keys} setting${keys === 1 ? "" : "s"}, root ${r.settings.server.root})\n`);
    } catch (err) {
      fail(err);
    }
  },
});

const show = defineCommand({
  meta: { name: "show", description: "Print the settings serve would run with (defaults, config file, defaults file, flags) as TOML" },
  args: serveArgs,
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
  meta: { name: "config", description: "Check a config file, or show the effective serve settings" },
  subCommands: { check, show },
});
