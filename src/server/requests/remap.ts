/**
 * File name remapping in tftpd-hpa's `-m` rule syntax, so an existing map file keeps working:
 * Windows backslashes turned into slashes, case folded, a per-client prefix added. Pure: rules
 * are parsed from text once, and applying them is a function of the name, the request kind and
 * the client address. Semantics follow tftpd-hpa's remap.c: rules run top-down, each applies to
 * the name as the rules before it left it, and every rule runs unless one ends processing.
 *
 * Supported: the operations r g gg i e s a ~ 4 6 G P; replacement escapes \0-\9 \i \x \U \L \E
 * \\ and "\c" for a literal c. Refused at start-up with the line: j and :labels (jumps), E
 * (depends on the file system), and regex syntax with no JavaScript equivalent (posix-regex.ts).
 */
import { isIP } from "node:net";
import { compileEre, RegexSyntaxError } from "./posix-regex.ts";

export interface RemapRule {
  /** Line in its file, for errors and logs. */
  line: number;
  /** r: replace the match with `pattern`. */
  rewrite: boolean;
  /** g: repeat until the regex no longer matches; gg: sed-style, scanning on after each replacement. */
  global: "" | "g" | "gg";
  /** e: stop after this rule when it matched. */
  exit: boolean;
  /** s: start over from the first rule when it matched. */
  restart: boolean;
  /** a: refuse the request when it matched; `pattern` is the error message. */
  abort: boolean;
  /** ~: the rule fires when the regex does not match. */
  inverse: boolean;
  /** G / P: read requests only, write requests only. */
  only?: "get" | "put";
  /** 4 / 6: IPv4 clients only, IPv6 clients only. */
  family?: 4 | 6;
  /** Compiled with the g flag: matching starts at lastIndex. */
  regex: RegExp;
  pattern: string;
}

export interface RemapRequest {
  op: "get" | "put";
  /** The client's address, IPv4 as dotted quad (not ::ffff:-mapped). */
  address: string;
}

export type RemapResult =
  | { kind: "name"; name: string }
  /** An `a` rule matched: refuse with this message (undefined: the default one). */
  | { kind: "denied"; line: number; message?: string }
  /** The rules did not settle (a loop of s rules or a g rule that always matches). */
  | { kind: "failed"; reason: string };

export class RemapSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** tftpd-hpa's limit on rule steps per request, after which the request is refused. */
export const MAX_STEPS = 4096;

const BAD_COMBOS: [string, string][] = [
  ["r", "~"],
  ["r", "a"],
  ["a", "s"],
  ["a", "e"],
  ["e", "s"],
];

/**
 * The next whitespace-delimited word of a rule line, as tftpd-hpa reads it: a backslash keeps
 * the next character in the word (whitespace and # included) and stays in it; an unescaped #
 * starts a comment.
 */
function nextWord(line: string, from: number): [string, number] {
  let i = from;
  while (i < line.length && /\s/.test(line[i]!)) i++;
  const start = i;
  let escaped = false;
  while (i < line.length) {
    const c = line[i]!;
    if (!escaped && (/\s/.test(c) || c === "#")) break;
    escaped = !escaped && c === "\\";
    i++;
  }
  return [line.slice(start, i), i];
}

function parseLine(text: string, line: number): RemapRule | undefined {
  const [ops, afterOps] = nextWord(text, 0);
  if (ops === "") return undefined;
  if (ops.startsWith(":")) throw new RemapSyntaxError(line, `labels (${ops}) and j rules are not supported; write the rules without jumps`);
  const seen = new Set<string>();
  let global: RemapRule["global"] = "";
  let ignoreCase = false;
  let only: RemapRule["only"];
  let family: RemapRule["family"];
  for (const op of ops) {
    switch (op) {
      case "g":
        global = global ? "gg" : "g";
        break;
      case "i":
        ignoreCase = true;
        break;
      case "G":
      case "P":
        if (only) throw new RemapSyntaxError(line, "G and P together match no request");
        only = op === "G" ? "get" : "put";
        break;
      case "4":
      case "6":
        if (family) throw new RemapSyntaxError(line, "4 and 6 together match no client");
        family = op === "4" ? 4 : 6;
        break;
      case "r":
      case "e":
      case "s":
      case "a":
      case "~":
        break;
      case "j":
        throw new RemapSyntaxError(line, "j (jump to a label) is not supported; write the rules without jumps");
      case "E":
        throw new RemapSyntaxError(line, "E (apply only if the result names an existing file) is not supported");
      default:
        throw new RemapSyntaxError(line, `unknown operation '${op}' in '${ops}' (known: r g i e s a ~ 4 6 G P)`);
    }
    seen.add(op);
  }
  for (const [a, b] of BAD_COMBOS)
    if (seen.has(a) && seen.has(b)) throw new RemapSyntaxError(line, `operations ${a} and ${b} cannot be combined`);
  const [regexText, afterRegex] = nextWord(text, afterOps);
  if (regexText === "") throw new RemapSyntaxError(line, `'${ops}' has no regex`);
  const [pattern, afterPattern] = nextWord(text, afterRegex);
  const [extra] = nextWord(text, afterPattern);
  if (extra !== "") throw new RemapSyntaxError(line, `unexpected '${extra}' after the replacement (escape spaces as '\\ ')`);
  let regex: RegExp;
  try {
    regex = compileEre(regexText, { ignoreCase, global: true });
  } catch (err) {
    if (err instanceof RegexSyntaxError) throw new RemapSyntaxError(line, `regex ${regexText}: ${err.message}`);
    throw err;
  }
  const rewrite = seen.has("r");
  return {
    line,
    rewrite,
    global: rewrite ? global : "",
    exit: seen.has("e"),
    restart: seen.has("s"),
    abort: seen.has("a"),
    inverse: seen.has("~"),
    only,
    family,
    regex,
    pattern,
  };
}

/** Parses a rule file; `firstLine` numbers rules given one per string (the `remap` setting). */
export function parseRemapRules(text: string, firstLine = 1): RemapRule[] {
  const rules: RemapRule[] = [];
  // As tftpd-hpa reads lines: CR and NUL bytes are dropped.
  text.replace(/[\r\0]/g, "").split("\n").forEach((l, i) => {
    const rule = parseLine(l, firstLine + i);
    if (rule) rules.push(rule);
  });
  return rules;
}

/** The client address in \x form: 8 (IPv4) or 32 (IPv6) upper-case hex digits. */
export function hexAddress(address: string): string {
  if (isIP(address) === 4) return address.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join("").toUpperCase();
  const [head = "", tail] = address.replace(/%.*$/, "").split("::");
  const groups = (s: string) => (s ? s.split(":") : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return all.map((g) => g.padStart(4, "0")).join("").toUpperCase();
}

type Case = "" | "U" | "L";
const cased = (s: string, c: Case) => (c === "U" ? s.toUpperCase() : c === "L" ? s.toLowerCase() : s);

/** The replacement pattern with its escapes expanded for one match (undefined: none, as for ~ rules). */
export function expand(pattern: string, match: RegExpExecArray | undefined, req: RemapRequest): string {
  let out = "";
  let mode: Case = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c !== "\\") {
      out += cased(c, mode);
      continue;
    }
    const e = pattern[++i];
    if (e === undefined || e === "\\") out += "\\";
    else if (/[0-9]/.test(e)) out += cased(match?.[Number(e)] ?? "", mode);
    else if (e === "U" || e === "L") mode = e;
    else if (e === "E") mode = "";
    else if (e === "i") out += cased(req.address, mode);
    else if (e === "x") out += cased(hexAddress(req.address), mode);
    else out += cased(e, mode);
  }
  return out;
}

function applies(rule: RemapRule, req: RemapRequest): boolean {
  if (rule.only && rule.only !== req.op) return false;
  if (rule.family && rule.family !== (isIP(req.address) === 6 ? 6 : 4)) return false;
  return true;
}

function exec(rule: RemapRule, name: string, from: number): RegExpExecArray | undefined {
  rule.regex.lastIndex = from;
  return rule.regex.exec(name) ?? undefined;
}

/** Runs the rules over a requested name. */
export function remap(rules: readonly RemapRule[], name: string, req: RemapRequest, maxSteps = MAX_STEPS): RemapResult {
  let current = name;
  let steps = maxSteps;
  const tooMany = (): RemapResult => ({ kind: "failed", reason: `remap rules did not settle after ${maxSteps} steps (a loop of s or g rules?)` });
  for (let i = 0; i < rules.length; ) {
    const rule = rules[i]!;
    let next = i + 1;
    if (!applies(rule, req)) {
      i = next;
      continue;
    }
    if (steps-- <= 0) return tooMany();
    let m = exec(rule, current, 0);
    if (rule.inverse ? m !== undefined : m === undefined) {
      i = next;
      continue;
    }
    if (rule.inverse) m = undefined;
    if (rule.rewrite && m) {
      for (;;) {
        const replacement = expand(rule.pattern, m, req);
        const end = m.index + replacement.length;
        current = current.slice(0, m.index) + replacement + current.slice(m.index + m[0].length);
        if (!rule.global) break;
        if (rule.global === "gg" && end >= current.length) break;
        m = exec(rule, current, rule.global === "gg" ? end : 0);
        if (!m) break;
        if (steps-- <= 0) return tooMany();
      }
    }
    if (rule.abort) {
      const message = expand(rule.pattern, m, req);
      return { kind: "denied", line: rule.line, message: message || undefined };
    }
    if (rule.exit) return { kind: "name", name: current };
    if (rule.restart) next = 0;
    i = next;
  }
  return { kind: "name", name: current };
}
