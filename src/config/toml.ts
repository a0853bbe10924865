/**
 * TOML text to tables, for the config file and the quirks file alike: Bun's parser, with the
 * line a problem is on. Bun does not say where a syntax error is, so the line is found by parsing
 * ever longer prefixes of the file until one fails the same way. Knows no setting: the schema
 * reads what this returns, never the reverse.
 */
import { UsageError } from "../usage-error.ts";

/** The line of the first `key = …` (bare or quoted key) or `[key]` table, if it can be found. */
export function lineOfKey(text: string, key: string): number | undefined {
  const esc = key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`^\\s*(?:(?:${esc}|"${esc}"|'${esc}')\\s*=|\\[+\\s*${esc}\\s*[\\].])`);
  const i = text.split("\n").findIndex((l) => re.test(l));
  return i < 0 ? undefined : i + 1;
}

export function syntaxErrorLine(text: string, message: string): number | undefined {
  const lines = text.split("\n");
  for (let n = 1; n <= lines.length; n++) {
    try {
      Bun.TOML.parse(lines.slice(0, n).join("\n"));
    } catch (err) {
      if ((err as Error).message === message) return n;
    }
  }
  return undefined;
}

/** A TOML file's tables; a syntax error is one line naming the file and the line. */
export function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    return Bun.TOML.parse(text) as Record<string, unknown>;
  } catch (err) {
    const message = String((err as Error).message);
    const line = syntaxErrorLine(text, message);
    throw new UsageError(`${file}${line ? ` line ${line}` : ""}: ${message.replace(/^TOML Parse error: /, "TOML syntax error: ")}`);
  }
}
