/**
 * Where serve's settings come from, in rising precedence: the defaults, the config file
 * (--config, else /etc/pxeboot.toml when it exists), tftpd-hpa's defaults file (--defaults-file,
 * on the command line or in the config file), and the command line. Merged key by key and
 * validated once into ServeSettings; `serve`, `in.tftpd` and `config check|show` all start here.
 */
import { existsSync, readFileSync } from "node:fs";
import { UsageError } from "./args.ts";
import { parseCommandLine, type Mode } from "../config/sources/command-line.ts";
import { configFileSettings } from "../config/sources/toml-file.ts";
import { defaultsFileSettings } from "../config/sources/defaults-file.ts";
import { merge, type Settings } from "../config/settings.ts";
import { validate, type Validated } from "../config/validate.ts";
import { serveSettings, type ServeSettings } from "./serve-settings.ts";

export const DEFAULT_CONFIG = "/etc/pxeboot.toml";

export interface FileAccess {
  read(path: string): string;
  exists(path: string): boolean;
}

export const disk: FileAccess = { read: (p) => readFileSync(p, "utf8"), exists: (p) => existsSync(p) };

export interface Resolved {
  settings: ServeSettings;
  /** Every key given anywhere, with its origin (as given: what a reload compares). */
  merged: Settings;
  /** Every row's typed value and, where given, its origin (for `config show`). */
  validated: Validated;
  /** The files read, lowest precedence first. */
  sources: string[];
  /** -V / --version was asked for. */
  version: boolean;
}

export interface ResolveOptions {
  /** How errors name the command ("pxeboot serve"). */
  command?: string;
  files?: FileAccess;
  defaultConfig?: string;
}

function readOrFail(files: FileAccess, path: string, what: string): string {
  try {
    return files.read(path);
  } catch (err) {
    throw new UsageError(`${what} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** The command line's words and every file they lead to, as validated settings. */
export function resolveServe(rawArgs: string[], mode: Mode, opts: ResolveOptions = {}): Resolved {
  const command = opts.command ?? `pxeboot ${mode}`;
  const files = opts.files ?? disk;
  const cli = parseCommandLine(rawArgs, mode, {
    origin: (_i, spelled) => ({ kind: "flag", flag: spelled || "DIR" }),
    prefix: () => `${command}: `,
    hint: ` (see ${command} --help)`,
  });
  const flags = cli.settings;
  const sources: string[] = [];

  const explicit = flags.get("config")?.value as string | undefined;
  flags.delete("config");
  const defaultConfig = opts.defaultConfig ?? DEFAULT_CONFIG;
  const configPath = explicit ?? (files.exists(defaultConfig) ? defaultConfig : undefined);
  let fromFile: Settings = new Map();
  if (configPath !== undefined) {
    fromFile = configFileSettings(readOrFail(files, configPath, "--config"), configPath);
    sources.push(configPath);
  }

  const defaultsPath = (flags.get("defaults-file") ?? fromFile.get("defaults-file"))?.value as string | undefined;
  let fromDefaults: Settings = new Map();
  if (defaultsPath !== undefined) {
    fromDefaults = defaultsFileSettings(readOrFail(files, defaultsPath, "--defaults-file"), defaultsPath);
    sources.push(defaultsPath);
  }

  const merged = merge(fromFile, fromDefaults, flags);
  const validated = validate(merged);
  return { settings: serveSettings(validated), merged, validated, sources, version: cli.version };
}
