/**
 * tftpd-hpa's /etc/default/tftpd-hpa, read as its init script reads it: the file is shell
 * (`NAME="value"` assignments, quotes, comments, $VAR of earlier assignments), and the daemon is
 * started as
 *   in.tftpd --listen --user $TFTP_USERNAME --address $TFTP_ADDRESS $TFTP_OPTIONS $TFTP_DIRECTORY
 * with the unquoted variables split into words. Those words are parsed as in.tftpd's command
 * line (command-line.ts), so TFTP_OPTIONS means what it meant to in.tftpd. Shell beyond
 * assignments (commands, $(…), backquotes) is refused with its line.
 */
import { UsageError } from "../../usage-error.ts";
import { parseCommandLine } from "./command-line.ts";
import type { Settings } from "../settings.ts";

export interface Assignment {
  value: string;
  line: number;
}

/** The variables of the four the init script uses, in its order. */
export const DEFAULTS_VARIABLES = ["TFTP_USERNAME", "TFTP_ADDRESS", "TFTP_OPTIONS", "TFTP_DIRECTORY"];

/** Shell variable assignments, in order; `file` names the errors. */
export function parseAssignments(text: string, file: string): Map<string, Assignment> {
  const vars = new Map<string, Assignment>();
  let i = 0;
  let line = 1;
  const fail = (why: string): never => {
    throw new UsageError(`${file} line ${line}: ${why}`);
  };
  const peek = () => text[i];
  const take = () => {
    const c = text[i++]!;
    if (c === "\n") line++;
    return c;
  };
  const expandVar = (): string => {
    // At "$": $NAME, ${NAME}; anything fancier is a program, not a setting.
    take();
    if (peek() === "{") {
      const end = text.indexOf("}", i);
      const name = text.slice(i + 1, end);
      if (end < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail("only ${NAME} expansions are supported");
      i = end + 1;
      return vars.get(name)?.value ?? "";
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (!m) {
      if (peek() === "(") fail("command substitution $(…) is not supported: write the value");
      return "$";
    }
    i += m[0].length;
    return vars.get(m[0])?.value ?? "";
  };
  /** One shell word (the value after "="), quotes removed and variables expanded. */
  const word = (): string => {
    let out = "";
    for (;;) {
      const c = peek();
      if (c === undefined || c === " " || c === "\t" || c === "\n" || c === ";") return out;
      if (c === "`") fail("command substitution `…` is not supported: write the value");
      if (c === "\\") {
        take();
        const e = take();
        if (e !== "\n") out += e ?? "";
      } else if (c === "'") {
        take();
        const end = text.indexOf("'", i);
        if (end < 0) fail("unterminated '");
        while (i < end) out += take();
        take();
      } else if (c === '"') {
        take();
        for (;;) {
          const d = peek();
          if (d === undefined) fail('unterminated "');
          if (d === '"') {
            take();
            break;
          }
          if (d === "`") fail("command substitution `…` is not supported: write the value");
          if (d === "$") out += expandVar();
          else if (d === "\\" && ['"', "\\", "$", "`", "\n"].includes(text[i + 1] ?? "")) {
            take();
            const e = take();
            if (e !== "\n") out += e;
          } else out += take();
        }
      } else if (c === "$") out += expandVar();
      else out += take();
    }
  };

  while (i < text.length) {
    const c = peek()!;
    if (c === " " || c === "\t" || c === "\n" || c === ";") {
      take();
      continue;
    }
    if (c === "#") {
      while (i < text.length && peek() !== "\n") take();
      continue;
    }
    const m = /^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=/.exec(text.slice(i));
    if (!m) {
      const what = text.slice(i).split("\n")[0]!.trim();
      fail(`'${what}' is not a NAME=value assignment (only assignments are read, as settings)`);
    }
    i += m![0].length;
    const at = line;
    vars.set(m![1]!, { value: word(), line: at });
  }
  return vars;
}

/** The in.tftpd words the init script would pass, each with the variable it came from. */
export function initScriptWords(vars: Map<string, Assignment>): { word: string; variable: string; line?: number }[] {
  const split = (name: string) => (vars.get(name)?.value ?? "").split(/[ \t\n]+/).filter(Boolean);
  const words: { word: string; variable: string; line?: number }[] = [{ word: "--listen", variable: "the init script" }];
  for (const [flag, name] of [["--user", "TFTP_USERNAME"], ["--address", "TFTP_ADDRESS"]] as const) {
    const value = split(name);
    // The init script would pass "--user" with nothing after it and in.tftpd would take the next
    // word; an unset variable here means "the default".
    if (value.length > 0) words.push({ word: flag, variable: name, line: vars.get(name)!.line }, ...value.map((w) => ({ word: w, variable: name, line: vars.get(name)!.line })));
  }
  for (const name of ["TFTP_OPTIONS", "TFTP_DIRECTORY"]) for (const w of split(name)) words.push({ word: w, variable: name, line: vars.get(name)!.line });
  return words;
}

/** The serve settings a tftpd-hpa defaults file makes. */
export function defaultsFileSettings(text: string, file: string): Settings {
  const words = initScriptWords(parseAssignments(text, file));
  const at = (index: number) => words[index] ?? words[words.length - 1]!;
  return parseCommandLine(
    words.map((w) => w.word),
    "in.tftpd",
    {
      origin: (index, spelled) => ({ kind: "defaults-file", file, variable: at(index).variable, option: spelled || undefined }),
      prefix: (index) => `${file}${at(index).line ? ` line ${at(index).line}` : ""}: ${at(index).variable}: `,
    },
  ).settings;
}
