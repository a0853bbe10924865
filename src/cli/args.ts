/**
 * Shared CLI plumbing: citty accepts any flag silently, so every command validates its raw
 * arguments here and fails with one line that names the fix.
 */
import type { ArgsDef, CommandDef } from "citty";
import { UsageError } from "../usage-error.ts";

export { UsageError };

/** Every spelling a flag may take (name, kebab-case, aliases, --no-…), mapped to its definition. */
function knownFlags(args: ArgsDef): Map<string, ArgsDef[string] | undefined> {
  const known = new Map<string, ArgsDef[string] | undefined>([["help", undefined], ["h", undefined]]);
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    known.set(name, def).set(kebab, def);
    if (def.type === "boolean") known.set(`no-${name}`, def).set(`no-${kebab}`, def);
    const alias = "alias" in def ? def.alias : undefined;
    for (const a of Array.isArray(alias) ? alias : alias ? [alias] : []) known.set(a, def);
  }
  return known;
}

/** Rejects flags the command does not define, and extra positionals beyond `maxPositionals`. */
export function rejectUnknown(cmd: string, rawArgs: string[], args: ArgsDef): void {
  const known = knownFlags(args);
  const positionals = Object.values(args).filter((d) => d.type === "positional").length;
  let seen = 0;
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") break;
    if (a.startsWith("-") && a !== "-") {
      const name = a.replace(/^--?/, "").split("=")[0]!;
      if (!known.has(name)) throw new UsageError(`${cmd}: unknown option ${a.split("=")[0]} (see ${cmd} --help)`);
      const def = known.get(name);
      if (def && def.type !== "boolean" && !a.includes("=")) i++; // skip the option's value
      continue;
    }
    if (++seen > positionals) throw new UsageError(`${cmd}: unexpected argument '${a}' (see ${cmd} --help)`);
  }
}

/**
 * citty keeps only the last value of a repeated string flag, so repeatable flags (--profile,
 * --allow, --deny) are collected from the raw arguments; "--profile a,b" is accepted too, unless
 * `split` is off (a value that may hold commas itself, such as a remap rule).
 */
export function repeatedFlag(rawArgs: string[], names: string[], example = "VALUE", split = true): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") break;
    const flag = a.split("=")[0]!.replace(/^--?/, "");
    if (!a.startsWith("-") || !names.includes(flag)) continue;
    const value = a.includes("=") ? a.slice(a.indexOf("=") + 1) : rawArgs[++i];
    if (value === undefined || value === "") throw new UsageError(`${a} needs a value, e.g. --${names[0]} ${example}`);
    values.push(...(split ? value.split(",").filter(Boolean) : [value]));
  }
  return values;
}

// The value parsers are the setting rows' (config/values.ts); other commands' flags use them too.
export { intArg, secondsArg } from "../config/values.ts";

/** Wraps a command's run so usage errors print one line and exit 2, other failures exit 1. */
export function guarded<T extends ArgsDef>(name: string, def: CommandDef<T>): CommandDef<T> {
  const run = def.run;
  return {
    ...def,
    async run(ctx) {
      try {
        rejectUnknown(`pxeboot ${name}`, ctx.rawArgs, (await resolveArgs(def.args)) ?? {});
        return await run?.(ctx);
      } catch (err) {
        fail(err);
      }
    },
  };
}

async function resolveArgs(args: CommandDef["args"]): Promise<ArgsDef | undefined> {
  return typeof args === "function" ? await args() : await args;
}

export function fail(err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(msg.startsWith("pxeboot") ? `${msg}\n` : `pxeboot: ${msg}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
}
