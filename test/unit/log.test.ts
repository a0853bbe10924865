/** What the logger writes: client-chosen control bytes never raw, a time on every pretty line. */
import { afterEach, describe, expect, test } from "bun:test";
import { fstatSync } from "node:fs";
import { createLogger, escapeControls } from "../../src/log.ts";

const written: string[] = [];
const realWrite = process.stdout.write.bind(process.stdout);
function capture() {
  written.length = 0;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    written.push(typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
    return true;
  }) as typeof process.stdout.write;
}
afterEach(() => {
  process.stdout.write = realWrite;
});

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
const HOSTILE = { file: "pxelinux.0\x1b]0;owned\x07", mode: "octet\x9b2J\x7f", reason: "a\nb" };

describe("log lines", () => {
  test("C0, DEL and C1 become \\xNN in pretty lines", () => {
    expect(escapeControls("a\x1b[2Jb\x07\x7f\x85\x9f ok é")).toBe("a\\x1b[2Jb\\x07\\x7f\\x85\\x9f ok é");
  });

  test("JSON lines escape them too (JSON.stringify alone leaves DEL and C1)", () => {
    capture();
    createLogger({ format: "json" }).warn("transfer failed", HOSTILE);
    const line = written.join("");
    expect(line.endsWith("\n")).toBe(true);
    expect(RAW_CONTROL.test(line.slice(0, -1))).toBe(false);
    expect(JSON.parse(line)).toMatchObject(HOSTILE); // still the same data once parsed
  });

  test("pretty lines carry an ISO time unless journald stamps them", () => {
    capture();
    createLogger({ timestamps: true }).info("transfer ok", HOSTILE);
    const line = written.join("");
    expect(line).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z transfer ok/);
    expect(RAW_CONTROL.test(line.replace(/\n$/, ""))).toBe(false);
    capture();
    createLogger({ timestamps: false }).info("transfer ok");
    expect(written.join("")).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
  });

  test("under journald (JOURNAL_STREAM names stdout) every line starts with its syslog priority, no time", () => {
    const saved = process.env.JOURNAL_STREAM;
    const st = fstatSync(1);
    process.env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
    try {
      for (const format of ["pretty", "json"] as const) {
        capture();
        const log = createLogger({ format, level: "debug" });
        log.debug("d");
        log.info("i", { file: "a\nb" });
        log.warn("w");
        log.error("e");
        const lines = written.join("").split("\n").slice(0, -1);
        expect(lines.map((l) => l.slice(0, 3))).toEqual(["<7>", "<6>", "<4>", "<3>"]);
        if (format === "pretty") expect(lines).toEqual(["<7>d", "<6>i file=a\\x0ab", "<4>w", "<3>e"]);
        else expect(JSON.parse(lines[2]!.slice(3))).toMatchObject({ level: "warn", msg: "w" });
      }
    } finally {
      // Inherited by a process whose stdout is something else: not journald.
      process.env.JOURNAL_STREAM = `${st.dev}:${st.ino + 1}`;
      capture();
      createLogger({ timestamps: false }).warn("w");
      expect(written.join("")).not.toContain("<4>");
      if (saved === undefined) delete process.env.JOURNAL_STREAM;
      else process.env.JOURNAL_STREAM = saved;
    }
  });
});
