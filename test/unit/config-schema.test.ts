/**
 * The setting rows (src/config/schema.ts) as a table: every row is complete and consistent, the
 * lists derived from them say what the rows say, and each source reports where a value came from.
 */
import { describe, expect, test } from "bun:test";
import { NAMES, NOT_IN_FILE, REPEATABLE, RESTART, ROWS, TOML_KEYS, defaults, type Row } from "../../src/config/schema.ts";
import { PROCESS_RESTART } from "../../src/config/reload.ts";
import { parseCommandLine } from "../../src/config/sources/command-line.ts";
import { configFileSettings } from "../../src/config/sources/toml-file.ts";
import { defaultsFileSettings } from "../../src/config/sources/defaults-file.ts";
import { TFTPD_OPTIONS } from "../../src/config/sources/tftpd-options.ts";
import { validate } from "../../src/config/validate.ts";
import type { Input } from "../../src/config/values.ts";
import { RESTART_FIELDS, SETTING_OF, serveArgs } from "../../src/cli/serve-config.ts";

const rows = NAMES.map((n) => [n, ROWS[n] as Row<unknown>] as const);

describe("every row", () => {
  test.each(rows)("%s: help, a default or explicitly optional, a parser that takes its default", (name, row) => {
    expect(row.help.trim().length).toBeGreaterThan(5);
    // Exactly one of the two: a default, or optional.
    expect([name, row.default !== undefined]).toEqual([name, !row.optional]);
    if (row.default !== undefined) expect(() => row.parse(row.default as Input, name)).not.toThrow();
    if (row.kind === "boolean") expect(typeof row.default).toBe("boolean");
    if (row.kind === "list") expect(row.default).toEqual([]);
    if (row.kind === "int" || row.kind === "seconds") expect(row.hint).toBeDefined();
    if (row.kind === "enum") expect(row.options).toContain(row.default as string);
    if (row.commaList) expect(row.kind).toBe("string");
    if (row.tftpd) expect(row.tftpd.short !== undefined || row.tftpd.long.length > 0).toBe(true);
  });

  test("a parser's error names the row's flag", () => {
    for (const [name, row] of rows) {
      if (row.kind === "boolean" || row.kind === "list") continue;
      try {
        row.parse("\u0001bogus", name);
      } catch (err) {
        expect((err as Error).message).toContain(`--${name}`);
      }
    }
  });

  test("the typed defaults are the rows' defaults, parsed", () => {
    const d = defaults();
    expect(d).toMatchObject({ port: 69, timeout: 1, "install-once": true, allow: [], "blksize-max": undefined, "log-format": "pretty" });
    expect(validate(new Map()).values).toEqual(d);
  });
});

describe("the lists derived from the rows", () => {
  test("serve's citty table has DIR and one entry per row, with the row's default shown", () => {
    expect(Object.keys(serveArgs)).toEqual(["dir", ...NAMES]);
    expect(serveArgs.port).toMatchObject({ type: "string", default: "69", valueHint: "PORT" });
    expect(serveArgs["install-once"]).toMatchObject({ type: "boolean", default: true });
    expect(serveArgs.verbose).toMatchObject({ type: "boolean", alias: ["v"] });
    expect(serveArgs["log-format"]).toMatchObject({ type: "string", valueHint: "pretty|json", default: "pretty" });
  });

  test("repeatable, not-in-file and TOML keys", () => {
    expect(REPEATABLE.sort()).toEqual(["allow", "deny", "metrics-allow", "refuse", "remap", "writable"]);
    expect(Object.keys(NOT_IN_FILE)).toEqual(["config"]);
    expect(TOML_KEYS).toEqual(NAMES.filter((n) => n !== "config"));
  });

  test("in.tftpd's direct options are the rows' aliases, each letter once", () => {
    for (const [name, row] of rows) {
      if (!row.tftpd) continue;
      const id = row.tftpd.short ?? row.tftpd.long[0]!;
      expect([id, TFTPD_OPTIONS[id]?.row]).toEqual([id, name]);
      expect(TFTPD_OPTIONS[id]!.help).toEndWith(`(--${name})`);
    }
  });

  test("every ServerConfig field names rows, and every server row has a field", () => {
    const named = new Set(Object.values(SETTING_OF).flatMap((s) => s.split("/")));
    for (const n of named) expect(NAMES).toContain(n as never);
    for (const [name, row] of rows) if (row.scope === "server") expect([name, named.has(name)]).toEqual([name, true]);
  });

  test("what waits for a restart is the rows' applies", () => {
    // A field waits when a row it comes from does.
    for (const [field, names] of Object.entries(SETTING_OF))
      expect([field, RESTART_FIELDS.has(field as never)]).toEqual([field, names.split("/").some((n) => RESTART.has(n as never))]);
    expect(PROCESS_RESTART).toEqual(NAMES.filter((n) => ROWS[n].scope === "process" && ROWS[n].applies === "restart"));
    expect([...RESTART_FIELDS].sort()).toContain("cacheBytes");
    expect(RESTART_FIELDS.has("perClientRate")).toBe(false);
  });
});

describe("each source reports where a value came from", () => {
  const flags = (words: string[], mode: "serve" | "in.tftpd" = "serve") =>
    parseCommandLine(words, mode, { origin: (_i, spelled) => ({ kind: "flag", flag: spelled || "DIR" }), prefix: () => "" }).settings;

  test("flags: as spelled (long, short, in.tftpd letter, the DIR operand)", () => {
    const s = flags(["--port", "70", "-v", "-B", "1024", "/srv/tftp"]);
    expect(s.get("port")).toEqual({ value: "70", origin: { kind: "flag", flag: "--port" } });
    expect(s.get("verbose")).toEqual({ value: true, origin: { kind: "flag", flag: "-v" } });
    expect(s.get("blksize-max")).toEqual({ value: "1024", origin: { kind: "flag", flag: "-B" } });
    expect(s.get("root")).toEqual({ value: "/srv/tftp", origin: { kind: "flag", flag: "DIR" } });
  });

  test("TOML: the file and line, values typed as TOML (a number stays a number)", () => {
    const s = configFileSettings('root = "/srv"\n\nport = 70\ntimeout = 0.5\nallow = ["10.0.0.0/8"]\n', "/etc/pxeboot.toml");
    expect(s.get("port")).toEqual({ value: 70, origin: { kind: "file", file: "/etc/pxeboot.toml", line: 3 } });
    expect(s.get("timeout")!.value).toBe(0.5);
    expect(s.get("allow")!.origin).toEqual({ kind: "file", file: "/etc/pxeboot.toml", line: 5 });
    expect(validate(s).values).toMatchObject({ port: 70, timeout: 0.5, root: "/srv" });
  });

  test("defaults file: the variable and the in.tftpd option in it", () => {
    const s = defaultsFileSettings('TFTP_USERNAME="tftp"\nTFTP_OPTIONS="--secure -B 1468"\nTFTP_DIRECTORY="/srv/tftp"\n', "/etc/default/tftpd-hpa");
    expect(s.get("blksize-max")!.origin).toEqual({ kind: "defaults-file", file: "/etc/default/tftpd-hpa", variable: "TFTP_OPTIONS", option: "-B" });
    expect(s.get("user")!.origin).toMatchObject({ kind: "defaults-file", variable: "TFTP_USERNAME" });
    expect(s.get("root")!.origin).toMatchObject({ kind: "defaults-file", variable: "TFTP_DIRECTORY" });
  });

  test("validation keeps the origins, and an error names the one that is wrong", () => {
    const merged = new Map([...configFileSettings("port = 70\nretries = 0\n", "f"), ...flags(["--timeout", "2"])]);
    expect(() => validate(merged)).toThrow("f line 2: retries must be from 1 to 100, got 0");
    merged.delete("retries");
    const v = validate(merged);
    expect(v.origins).toEqual({ port: { kind: "file", file: "f", line: 1 }, timeout: { kind: "flag", flag: "--timeout" } });
  });
});
