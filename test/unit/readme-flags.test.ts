/**
 * README's `pxeboot serve` flag table against serve's flag rows: every flag has a line, every
 * line names a flag that exists, and a flag whose row has a default shows that default first.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { serveArgs } from "../../src/cli/serve-config.ts";
import { TOML_KEYS } from "../../src/config/schema.ts";
import { TFTPD_OPTIONS } from "../../src/config/sources/tftpd-options.ts";

const README = readFileSync(resolve(import.meta.dir, "../../README.md"), "utf8");

/** The table under "## `pxeboot serve [DIR]`": [flag cell, default cell] per line. */
function serveTable(): [string, string][] {
  const from = README.indexOf("## `pxeboot serve [DIR]`");
  const lines = README.slice(from).split("\n").slice(1);
  const start = lines.findIndex((l) => l.startsWith("| flag |"));
  const rows: [string, string][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith("|")) break;
    const cells = l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    rows.push([cells[0]!, cells[1]!]);
  }
  return rows;
}

/** Long flags a cell names: `--no-x` is the row x; DIR is the positional. */
const flagsIn = (cell: string) => [...cell.matchAll(/--(?:no-)?([a-z0-9-]+)/g)].map((m) => m[1]!);

describe("README's serve flag table matches the flag rows", () => {
  const table = serveTable();
  const rows = Object.entries(serveArgs).filter(([, d]) => d.type !== "positional");

  test("the table is found", () => {
    expect(table.length).toBeGreaterThan(30);
  });

  test("every flag has a line, and every line's flags exist", () => {
    const documented = new Set(table.flatMap(([flags]) => flagsIn(flags)));
    expect(rows.map(([name]) => name).filter((n) => !documented.has(n))).toEqual([]);
    expect([...documented].filter((n) => !(n in serveArgs))).toEqual([]);
  });

  test("a default written in a row is the default the README shows", () => {
    const wrong: string[] = [];
    for (const [name, def] of rows) {
      if (def.type === "boolean" || !("default" in def)) continue;
      const line = table.find(([flags]) => flagsIn(flags).includes(name));
      if (line && !line[1].startsWith(`\`${def.default}\``)) wrong.push(`--${name}: row ${def.default}, README ${line[1]}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe("README's in.tftpd table and TOML example match the rows", () => {
  /** The first cells of the table headed "| in.tftpd | pxeboot | notes |". */
  function tftpdCells(): string[] {
    const lines = README.split("\n");
    const start = lines.findIndex((l) => l.startsWith("| in.tftpd | pxeboot |"));
    const cells: string[] = [];
    for (const l of lines.slice(start + 2)) {
      if (!l.startsWith("|")) break;
      cells.push(l.split(/(?<!\\)\|/)[1]!);
    }
    return cells;
  }

  test("every in.tftpd option is in the table, and every option there exists", () => {
    const cells = tftpdCells();
    expect(cells.length).toBeGreaterThan(15);
    const named = new Set(cells.flatMap((c) => [...c.matchAll(/`(--?[A-Za-z0-9-]+)/g)].map((m) => m[1]!)));
    const spellings = (id: string) => [...(id.length === 1 ? [`-${id}`] : []), ...TFTPD_OPTIONS[id]!.long.map((l) => `--${l}`)];
    expect(Object.keys(TFTPD_OPTIONS).filter((id) => !spellings(id).some((s) => named.has(s)))).toEqual([]);
    const known = new Set(Object.keys(TFTPD_OPTIONS).flatMap(spellings));
    expect([...named].filter((n) => !known.has(n))).toEqual([]);
  });

  test("the example config file uses only TOML keys the rows allow", () => {
    const from = README.indexOf("# /etc/pxeboot.toml");
    const block = README.slice(from, README.indexOf("```", from));
    const keys = [...block.matchAll(/^#?\s*([a-z][a-z0-9-]*) =/gm)].map((m) => m[1]!);
    expect(keys.length).toBeGreaterThan(5);
    expect(keys.filter((k) => !(TOML_KEYS as string[]).includes(k))).toEqual([]);
  });
});
