/**
 * The words of `pxeboot serve …`, `pxeboot in.tftpd …` or a defaults file's in.tftpd line, as
 * serve settings. Both commands take every native long flag and in.tftpd's short options; they
 * differ where the two disagree:
 *   serve     --address and --timeout are pxeboot's (an address list; the retransmission
 *             timeout); DIR is the root.
 *   in.tftpd  every in.tftpd long option is in.tftpd's (--address [ADDR][:PORT], --timeout the
 *             inetd idle time) and may be abbreviated; one of -l, -L or -a is required (inetd
 *             mode is not supported); with -s the directory is the root, without -s too, and
 *             clients naming "/DIR/FILE" get FILE (--strip-prefix), as in.tftpd served them.
 */
import { UsageError } from "../../usage-error.ts";
import { getopt, GetoptError, type Item, type OptionSpec, type OptionTable } from "./getopt.ts";
import { NAMES, ROWS, rowOf } from "../schema.ts";
import type { Origin, Settings, Value } from "../settings.ts";
import { isTftpdShort, TFTPD_LONG, TFTPD_OPTIONS, tftpdEffect } from "./tftpd-options.ts";

export type Mode = "serve" | "in.tftpd";

export interface CommandLine {
  settings: Settings;
  /** -V / --version: print the version and exit. */
  version: boolean;
}

export interface WordSource {
  /** Where the option (or operand) at `index`, spelled so, came from. */
  origin(index: number, spelled: string): Origin;
  /** Put before an error about the word at `index`. */
  prefix(index: number): string;
  /** Put after an unknown-option error. */
  hint?: string;
}

/** Native long flags (with --no- forms of the boolean ones) and their aliases. */
function nativeLong(name: string): OptionSpec | undefined {
  const negated = name.startsWith("no-") ? name.slice(3) : undefined;
  const kind = rowOf(negated ?? name)?.kind;
  if (!kind || (negated && kind !== "boolean")) return undefined;
  return { id: negated ? `n!${negated}` : `n:${name}`, takesValue: kind !== "boolean" };
}

function nativeAlias(letter: string): OptionSpec | undefined {
  for (const name of NAMES) if ((ROWS[name] as { alias?: string[] }).alias?.includes(letter)) return nativeLong(name);
  return undefined;
}

function tftpdLong(name: string, abbreviations: boolean): OptionSpec | undefined {
  let id = TFTPD_LONG[name];
  if (id === undefined && abbreviations) {
    const matches = [...new Set(Object.keys(TFTPD_LONG).filter((n) => n.startsWith(name)).map((n) => TFTPD_LONG[n]!))];
    if (matches.length > 1) throw new UsageError(`--${name} is ambiguous (${Object.keys(TFTPD_LONG).filter((n) => n.startsWith(name)).map((n) => `--${n}`).join(", ")})`);
    id = matches[0];
  }
  return id === undefined ? undefined : { id: `t:${id}`, takesValue: TFTPD_OPTIONS[id]!.takesValue };
}

export function optionTable(mode: Mode): OptionTable {
  return {
    short: (letter) => (isTftpdShort(letter) ? { id: `t:${letter}`, takesValue: TFTPD_OPTIONS[letter]!.takesValue } : nativeAlias(letter)),
    long: (name) =>
      mode === "serve" ? (nativeLong(name) ?? tftpdLong(name, false)) : (tftpdLong(name, false) ?? nativeLong(name) ?? tftpdLong(name, true)),
  };
}

export function parseCommandLine(words: string[], mode: Mode, source: WordSource): CommandLine {
  let items: Item[];
  try {
    items = getopt(words, optionTable(mode));
  } catch (err) {
    if (err instanceof GetoptError)
      throw new UsageError(`${source.prefix(err.index)}${err.message}${err.message.startsWith("unknown option") && source.hint ? source.hint : ""}`);
    throw err;
  }
  const settings: Settings = new Map();
  const set = (key: string, value: Value, origin: Origin) => settings.set(key, { value, origin });
  const add = (key: string, values: string[], origin: Origin) => {
    const prev = settings.get(key)?.value;
    set(key, [...(Array.isArray(prev) ? prev : []), ...values], origin);
  };
  let version = false;
  let secure = false;
  let standalone = false;
  const operands: { value: string; index: number }[] = [];
  const listen: { host: string; port?: string; index: number; spelled: string }[] = [];

  for (const item of items) {
    if (item.kind === "operand") {
      operands.push(item);
      continue;
    }
    const origin = source.origin(item.index, item.spelled);
    const [ns, key] = [item.id.slice(0, 2), item.id.slice(2)];
    if (ns === "n!") set(key, false, origin);
    else if (ns === "n:") {
      const kind = rowOf(key)?.kind;
      if (kind === "boolean") set(key, true, origin);
      else if (kind === "list") add(key, [item.value!], origin);
      else set(key, item.value!, origin);
    } else {
      let effect;
      try {
        effect = tftpdEffect(key, item.value);
      } catch (err) {
        if (err instanceof UsageError) throw new UsageError(`${source.prefix(item.index)}${err.message}`);
        throw err;
      }
      for (const [k, v] of Object.entries(effect.set ?? {})) set(k, v, origin);
      for (const [k, v] of Object.entries(effect.add ?? {})) add(k, v, origin);
      if (effect.listen) listen.push({ ...effect.listen, index: item.index, spelled: item.spelled });
      secure ||= !!effect.secure;
      standalone ||= !!effect.standalone;
      version ||= !!effect.version;
    }
  }

  if (listen.length > 0) {
    const last = listen[listen.length - 1]!;
    const origin = source.origin(last.index, last.spelled);
    const hosts = listen.map((l) => l.host);
    set("address", hosts.includes("") ? "" : hosts.join(","), origin);
    const ports = [...new Set(listen.map((l) => l.port).filter((p) => p !== undefined))];
    if (ports.length > 1) throw new UsageError(`${source.prefix(last.index)}-a: one port for every address, got ${ports.join(" and ")}`);
    if (ports[0] !== undefined) set("port", ports[0], origin);
  }

  const root = settings.get("root");
  if (mode === "serve") {
    if (operands.length > 1) throw new UsageError(`${source.prefix(operands[1]!.index)}unexpected argument '${operands[1]!.value}'${source.hint ?? ""}`);
    const dir = operands[0];
    if (dir && root && root.value !== dir.value) throw new UsageError(`${source.prefix(dir.index)}two roots given ('${dir.value}' and --root '${root.value}'); pass one`);
    if (dir) set("root", dir.value, source.origin(dir.index, ""));
    return { settings, version };
  }

  if (!standalone && !version)
    throw new UsageError(`${source.prefix(0)}without -l, -L or -a in.tftpd runs under inetd (the socket on stdin), which pxeboot does not do: add -L to run standalone in the foreground`);
  if (operands.length > 1) {
    const why = secure ? `-s takes exactly one directory, got ${operands.length}` : `pxeboot serves one root, got ${operands.length} directories: make them subdirectories of one and pass that with -s`;
    throw new UsageError(`${source.prefix(operands[1]!.index)}${why}`);
  }
  const dir = operands[0];
  if (dir) {
    const origin = source.origin(dir.index, "");
    set("root", dir.value, origin);
    // Without -s in.tftpd serves absolute names under the directory; with pxeboot the root is
    // always a chroot, so those names are mapped into it.
    if (!secure && dir.value.startsWith("/")) set("strip-prefix", dir.value, origin);
  }
  return { settings, version };
}
