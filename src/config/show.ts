/**
 * `pxeboot config show`: the effective serve settings as a TOML file that reads back the same:
 * every row with its help text, its value and where that came from (`# default`, a flag as
 * spelled, `FILE line N`, a defaults-file variable), and the rows left unset as comments.
 */
import { NAMES, ROWS, rowOf, TOML_KEYS, type Row } from "./schema.ts";
import { describeOrigin, type Settings, type Value } from "./settings.ts";

/** A TOML string: literal ('…') where it can be, so remap rules keep their backslashes readable. */
function tomlString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[^'\x00-\x1f\x7f]*$/.test(s) ? `'${s}'` : JSON.stringify(s);
}

function tomlScalar(s: string): string {
  return /^(0|[1-9][0-9]{0,14})(\.[0-9]+)?$/.test(s) ? s : tomlString(s);
}

export function tomlValue(key: string, value: Value): string {
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlString).join(", ")}]`;
  if (!rowOf(key)?.commaList) return tomlScalar(value);
  return `[${value.split(",").filter(Boolean).map(tomlString).join(", ")}]`;
}

/** `merged`: the values as given, each with its origin; a row not in it shows its default. */
export function renderToml(merged: Settings, sources: string[]): string {
  const out = [
    "# pxeboot serve settings, as resolved from the defaults, then " + [...sources, "the command line"].join(", then ") + ".",
    "# Keys are serve's long flags; `pxeboot config check FILE` validates a file like this one.",
    "",
  ];
  for (const key of NAMES) {
    if (!TOML_KEYS.includes(key)) continue;
    const row: Row<unknown> = ROWS[key];
    out.push(`# ${row.help}`);
    const set = merged.get(key);
    if (set) out.push(`${key} = ${tomlValue(key, set.value)}  # ${describeOrigin(set.origin)}`);
    else if (row.default !== undefined) out.push(`${key} = ${tomlValue(key, row.default as Value)}  # ${describeOrigin(undefined)}`);
    else out.push(`# ${key} =`);
    out.push("");
  }
  return out.join("\n");
}
