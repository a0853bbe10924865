/**
 * Command-line words split the way GNU getopt_long does, since in.tftpd's options are written
 * for it: short flags cluster (`-vvv`, `-lsc`), a short option's value may be attached (`-B1468`)
 * or the next word, a long option's value follows `=` or is the next word, options and operands
 * mix in any order, and `--` ends the options. Which names exist is the caller's table.
 */
import { UsageError } from "../../usage-error.ts";

export interface OptionSpec {
  /** The caller's name for the option, whatever it was spelled as. */
  id: string;
  takesValue: boolean;
}

export interface OptionTable {
  short(letter: string): OptionSpec | undefined;
  /** A long name without its dashes; may throw a UsageError (an ambiguous abbreviation). */
  long(name: string): OptionSpec | undefined;
}

export type Item =
  | { kind: "option"; id: string; spelled: string; value?: string; index: number }
  | { kind: "operand"; value: string; index: number };

/** A bad command line, with the word it is about (for callers that say where the words came from). */
export class GetoptError extends UsageError {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

export function getopt(words: string[], table: OptionTable): Item[] {
  const items: Item[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === "--") {
      for (let j = i + 1; j < words.length; j++) items.push({ kind: "operand", value: words[j]!, index: j });
      break;
    }
    if (w.startsWith("--")) {
      const eq = w.indexOf("=");
      const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
      let spec: OptionSpec | undefined;
      try {
        spec = table.long(name);
      } catch (err) {
        throw err instanceof UsageError ? new GetoptError(err.message, i) : err;
      }
      if (!spec) throw new GetoptError(`unknown option --${name}`, i);
      const spelled = `--${name}`;
      if (!spec.takesValue) {
        if (eq >= 0) throw new GetoptError(`${spelled} takes no value`, i);
        items.push({ kind: "option", id: spec.id, spelled, index: i });
        continue;
      }
      const value = eq >= 0 ? w.slice(eq + 1) : words[++i];
      if (value === undefined) throw new GetoptError(`${spelled} needs a value`, i - 1);
      items.push({ kind: "option", id: spec.id, spelled, value, index: i });
      continue;
    }
    if (w.startsWith("-") && w !== "-") {
      for (let k = 1; k < w.length; k++) {
        const letter = w[k]!;
        const spec = table.short(letter);
        const spelled = `-${letter}`;
        if (!spec) throw new GetoptError(`unknown option ${spelled}${w.length > 2 ? ` (in ${w})` : ""}`, i);
        if (!spec.takesValue) {
          items.push({ kind: "option", id: spec.id, spelled, index: i });
          continue;
        }
        const attached = w.slice(k + 1);
        const value = attached !== "" ? attached : words[++i];
        if (value === undefined) throw new GetoptError(`${spelled} needs a value`, i - 1);
        items.push({ kind: "option", id: spec.id, spelled, value, index: i });
        break;
      }
      continue;
    }
    items.push({ kind: "operand", value: w, index: i });
  }
  return items;
}
