/**
 * `pxeboot config show`: the effective serve settings as a TOML file that reads back the same:
 * every key with its description, its value (from a flag, a file, or the default, with where a
 * non-default came from), and the keys left unset as comments.
 */
import { COMMA_LISTS, serveArgs } from "./serve-config.ts";
import { describeOrigin, kindOf, type Settings, type Value } from "./settings.ts";

/** A TOML string: literal ('…') where it can be, so remap rules keep their backslashes readable. */
function tomlString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[^'\x00-\x1f\x7f]*$/.test(s) ? `'${s}'` : JSON.stringify(s);
}

function tomlScalar(s: string): string {
  return /^(0|[1-9][0-9]{0,14})(\.[0-9]+)?$/.test(s) ? s : tomlString(s);
}

export function tomlValue(key: string, value: Value): string {
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlString).join(", ")}]`;
  if (COMMA_LISTS.includes(key)) return `[${value.split(",").filter(Boolean).map(tomlString).join(", ")}]`;
  return tomlScalar(value);
}

export function renderToml(merged: Settings, sources: string[]): string {
  const out = [
    "# pxeboot serve settings, as resolved from the defaults, then " + [...sources, "the command line"].join(", then ") + ".",
    "# Keys are serve's long flags; `pxeboot config check FILE` validates a file like this one.",
    "",
  ];
  for (const [key, def] of Object.entries(serveArgs)) {
    const kind = kindOf(key);
    if (!kind || key === "config") continue;
    out.push(`# ${def.description}`);
    const set = merged.get(key);
    if (set) {
      out.push(`${key} = ${tomlValue(key, set.value)}  # ${describeOrigin(set.origin)}`);
    } else if ("default" in def && def.default !== undefined) {
      out.push(`${key} = ${tomlValue(key, def.default as Value)}`);
    } else if (kind === "boolean") out.push(`${key} = false`);
    else if (kind === "list") out.push(`${key} = []`);
    else out.push(`# ${key} =`);
    out.push("");
  }
  return out.join("\n");
}
