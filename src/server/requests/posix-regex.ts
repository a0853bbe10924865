/**
 * POSIX extended regular expressions (what egrep and tftpd-hpa's remap files are written in) as
 * JavaScript RegExps. Most of the syntax is shared; what differs is translated here: bracket
 * expressions (a backslash is literal inside them, `]` first is a member, `[:alpha:]` classes)
 * and escapes (GNU regex reads an unknown `\d` as a plain `d`, JavaScript as a digit). What has
 * no translation is refused with the reason rather than run with another meaning.
 * Matching is leftmost-first, not POSIX leftmost-longest: `(a|ab)` matches "a" of "ab".
 */

const CLASSES: Record<string, string> = {
  alpha: "A-Za-z",
  digit: "0-9",
  alnum: "0-9A-Za-z",
  upper: "A-Z",
  lower: "a-z",
  space: " \\t\\n\\r\\f\\v",
  blank: " \\t",
  punct: "!-\\/:-@\\[-`{-~",
  print: "\\x20-\\x7e",
  graph: "\\x21-\\x7e",
  cntrl: "\\x00-\\x1f\\x7f",
  xdigit: "0-9A-Fa-f",
};

/** Escapes GNU regex gives a meaning beyond the character itself, with their JavaScript form. */
const GNU_ESCAPES: Record<string, string> = {
  w: "\\w",
  W: "\\W",
  s: "\\s",
  S: "\\S",
  b: "\\b",
  B: "\\B",
  "<": "\\b(?=\\w)",
  ">": "\\b(?<=\\w)",
  "`": "^",
  "'": "$",
};

export class RegexSyntaxError extends Error {}

/** The bracket expression starting at `source[start]` ("["), as JS, and the index after it. */
function bracket(source: string, start: number): [string, number] {
  let i = start + 1;
  let out = "[";
  if (source[i] === "^") {
    out += "^";
    i++;
  }
  // A "]" right after "[" or "[^" is a member, not the end.
  if (source[i] === "]") {
    out += "\\]";
    i++;
  }
  while (i < source.length && source[i] !== "]") {
    const c = source[i]!;
    if (c === "[" && (source[i + 1] === ":" || source[i + 1] === "=" || source[i + 1] === ".")) {
      const kind = source[i + 1]!;
      const end = source.indexOf(`${kind}]`, i + 2);
      if (end < 0) throw new RegexSyntaxError(`unterminated [${kind} in a bracket expression`);
      const name = source.slice(i + 2, end);
      if (kind !== ":") throw new RegexSyntaxError(`[${kind}${name}${kind}] (collating elements and equivalence classes) is not supported`);
      const cls = CLASSES[name];
      if (cls === undefined) throw new RegexSyntaxError(`unknown character class [:${name}:]`);
      out += cls;
      i = end + 2;
      continue;
    }
    out += c === "\\" ? "\\\\" : c;
    i++;
  }
  if (i >= source.length) throw new RegexSyntaxError("unterminated bracket expression [");
  return [out + "]", i + 1];
}

/** The JavaScript source for a POSIX ERE. */
export function ereSource(source: string): string {
  let out = "";
  for (let i = 0; i < source.length; ) {
    const c = source[i]!;
    if (c === "[") {
      const [cls, next] = bracket(source, i);
      out += cls;
      i = next;
      continue;
    }
    if (c === "\\") {
      const e = source[i + 1];
      if (e === undefined) throw new RegexSyntaxError("trailing backslash");
      if (/[1-9]/.test(e)) out += `\\${e}`;
      else if (e in GNU_ESCAPES) out += GNU_ESCAPES[e];
      // GNU regex takes any other escaped letter or digit as itself.
      else if (/[A-Za-z0-9]/.test(e)) out += e;
      else out += `\\${e}`;
      i += 2;
      continue;
    }
    if (c === "(" && source[i + 1] === "?") throw new RegexSyntaxError("'(?' is not POSIX ERE (no lookaround or non-capturing groups)");
    out += c;
    i++;
  }
  return out;
}

/** Compiles a POSIX ERE; `global` for scanning on from an offset (lastIndex). */
export function compileEre(source: string, opts: { ignoreCase?: boolean; global?: boolean } = {}): RegExp {
  const js = ereSource(source);
  try {
    return new RegExp(js, `${opts.ignoreCase ? "i" : ""}${opts.global ? "g" : ""}`);
  } catch (err) {
    throw new RegexSyntaxError(String((err as Error).message).replace(/^Invalid regular expression: /, ""));
  }
}
