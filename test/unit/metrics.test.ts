/**
 * The metrics registry and pxeboot's metric set, checked against the text format with a parser
 * of this test's own (not the one `pxeboot status` uses), and with promtool where installed.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { RecentCounter, Registry, renderSnapshots } from "../../src/server/observe/metrics.ts";
import { createServerMetrics, DURATION_BUCKETS, MAX_FILE_LABELS, OTHER_FILE } from "../../src/server/observe/server-metrics.ts";
import type { TransferRecord } from "../../src/records/transfer-record.ts";
import { parseMetricsListen } from "../../src/config/values.ts";
import { parseMetrics, statusScreen, topFiles } from "../../src/cli/status-screen.ts";
import { testNeeding } from "../gate.ts";

interface Parsed {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Strict: every line is HELP, TYPE or `name{labels} value`, and every sample has a family. */
function parseExposition(text: string): Parsed {
  const out: Parsed = { help: new Map(), type: new Map(), samples: [] };
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.slice(0, -1).split("\n")) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (m) {
      out.help.set(m[1]!, m[2]!);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      out.type.set(m[1]!, m[2]!);
      continue;
    }
    // A label value is any run of characters but `"`, `\` and newline, or the escapes \\, \" and \n.
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$/.exec(line);
    if (!m) throw new Error(`bad line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g)) {
      if (lm[1]! in labels) throw new Error(`label ${lm[1]} twice in: ${line}`);
      labels[lm[1]!] = lm[2]!.replace(/\\([\\"n])/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    out.samples.push({ name: m[1]!, labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return out;
}

const familyOf = (p: Parsed, sample: string) => (p.type.has(sample) ? sample : sample.replace(/_(bucket|sum|count)$/, ""));

function checkWellFormed(text: string): Parsed {
  const p = parseExposition(text);
  for (const s of p.samples) {
    const fam = familyOf(p, s.name);
    expect(p.type.has(fam)).toBe(true);
    expect(p.help.has(fam)).toBe(true);
    if (p.type.get(fam) === "counter") expect(fam.endsWith("_total")).toBe(true);
  }
  for (const [fam, type] of p.type) {
    if (type !== "histogram") continue;
    const buckets = p.samples.filter((s) => s.name === `${fam}_bucket`);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.at(-1)!.labels.le).toBe("+Inf");
    expect(buckets.at(-1)!.value).toBe(p.samples.find((s) => s.name === `${fam}_count`)!.value);
  }
  return p;
}

const value = (p: Parsed, name: string, labels: Record<string, string> = {}) =>
  p.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);

function record(over: Partial<TransferRecord>): TransferRecord {
  return {
    direction: "read",
    clientAddress: "10.0.0.5",
    clientPort: 2000,
    requested: "vmlinuz",
    file: "vmlinuz",
    mode: "octet",
    options: {},
    bytes: 0,
    size: -1,
    durationMs: 10,
    outcome: "ok",
    retransmits: 0,
    ...over,
  };
}

function sampleMetrics() {
  const io = { installed: 2, failedMarkerFetches: 1, unknownMac: 0, removeFailures: 0 };
  const m = createServerMetrics({ version: "1.2.3", startTimeSeconds: 1_700_000_000, installOnce: io });
  m.attach(() => ({ activeTransfers: 3, queuedRequests: 4, cache: { hits: 9, misses: 1, bytesHeld: 4096 } }));
  m.observe(record({ bytes: 1000, durationMs: 5, retransmits: 2 }));
  m.observe(record({ bytes: 500, durationMs: 1500 }));
  m.observe(record({ outcome: "error", errorCode: 1, durationMs: 0.3 }));
  m.observe(record({ outcome: "timeout", durationMs: 400_000 }));
  m.observe(record({ direction: "write", bytes: 77, durationMs: 20 }));
  m.events.refused();
  m.events.dropped();
  m.events.dropped();
  m.events.denied();
  m.events.answered(5);
  return m;
}

describe("Registry", () => {
  test("histogram buckets are cumulative and +Inf equals _count", () => {
    const r = new Registry();
    const h = r.histogram("x_seconds", "x", [1, 0.1, 10]);
    for (const v of [0.05, 0.5, 0.5, 5, 50]) h.observe(v);
    const p = checkWellFormed(r.render());
    expect(p.samples.filter((s) => s.name === "x_seconds_bucket").map((s) => [s.labels.le, s.value])).toEqual([
      ["0.1", 1],
      ["1", 3],
      ["10", 4],
      ["+Inf", 5],
    ]);
    expect(value(p, "x_seconds_sum")).toBeCloseTo(56.05);
  });

  test("label values are escaped, and {a,b} and {b,a} are one series", () => {
    const r = new Registry({ worker: "2" });
    const c = r.counter("y_total", "help with \\ and\nnewline");
    c.inc({ a: '"q"\\', b: "x" });
    c.inc({ b: "x", a: '"q"\\' }, 2);
    const text = r.render();
    expect(text).toContain("# HELP y_total help with \\\\ and\\nnewline\n");
    expect(text).toContain('y_total{worker="2",a="\\"q\\"\\\\",b="x"} 3\n');
    expect(parseMetrics(text).find((s) => s.name === "y_total")!.labels.a).toBe('"q"\\');
  });
});

describe("RecentCounter", () => {
  test("sums the last 60 one-second buckets; a lap of the ring clears a bucket", () => {
    const r = new RecentCounter(60);
    r.add(100);
    r.add(100);
    r.add(159);
    expect(r.sum(159)).toBe(3);
    expect(r.sum(160)).toBe(1);
    r.add(160, 5); // the bucket second 100 used: its old count must not add in
    expect(r.sum(160)).toBe(6);
    expect(r.sum(219)).toBe(5);
    expect(r.sum(220)).toBe(0);
    expect(r.sum(10_000)).toBe(0);
  });
});

describe("pxeboot metrics", () => {
  test("transfers are counted by direction and outcome, bytes and retransmits summed", () => {
    const p = checkWellFormed(sampleMetrics().render());
    expect(value(p, "pxeboot_transfers_total", { direction: "read", outcome: "ok" })).toBe(2);
    expect(value(p, "pxeboot_transfers_total", { direction: "read", outcome: "error" })).toBe(1);
    expect(value(p, "pxeboot_transfers_total", { direction: "read", outcome: "timeout" })).toBe(1);
    expect(value(p, "pxeboot_transfers_total", { direction: "write", outcome: "ok" })).toBe(1);
    expect(value(p, "pxeboot_transfers_total", { outcome: "probe" })).toBe(0);
    expect(value(p, "pxeboot_sent_bytes_total")).toBe(1500);
    expect(value(p, "pxeboot_received_bytes_total")).toBe(77);
    expect(value(p, "pxeboot_retransmits_total")).toBe(2);
    expect(value(p, "pxeboot_errors_total", { code: "1" })).toBe(1);
    expect(value(p, "pxeboot_errors_total", { code: "5" })).toBe(1);
    expect(value(p, "pxeboot_requests_refused_total")).toBe(1);
    expect(value(p, "pxeboot_requests_dropped_total")).toBe(2);
    expect(value(p, "pxeboot_requests_denied_total")).toBe(1);
  });

  test("gauges and cache counters are read at scrape time", () => {
    const p = checkWellFormed(sampleMetrics().render());
    expect(value(p, "pxeboot_transfers_active")).toBe(3);
    expect(value(p, "pxeboot_transfers_queued")).toBe(4);
    expect(value(p, "pxeboot_cache_hits_total")).toBe(9);
    expect(value(p, "pxeboot_cache_misses_total")).toBe(1);
    expect(value(p, "pxeboot_cache_bytes")).toBe(4096);
    expect(value(p, "pxeboot_install_once_installed_total")).toBe(2);
    expect(value(p, "pxeboot_install_once_failures_total", { reason: "marker_fetch_failed" })).toBe(1);
    expect(value(p, "process_start_time_seconds")).toBe(1_700_000_000);
    expect(p.type.get("process_start_time_seconds")).toBe("gauge");
  });

  test("the duration histogram has the documented buckets, the slowest transfer only in +Inf", () => {
    const p = checkWellFormed(sampleMetrics().render());
    const buckets = p.samples.filter((s) => s.name === "pxeboot_transfer_duration_seconds_bucket");
    expect(buckets.map((b) => b.labels.le)).toEqual([...DURATION_BUCKETS.map(String), "+Inf"]);
    expect(buckets.find((b) => b.labels.le === "0.01")!.value).toBe(2);
    expect(buckets.find((b) => b.labels.le === "300")!.value).toBe(4);
    expect(value(p, "pxeboot_transfer_duration_seconds_count")).toBe(5);
  });

  test("a worker labels every sample", () => {
    const m = createServerMetrics({ version: "1", startTimeSeconds: 1, worker: "3" });
    const p = checkWellFormed(m.render());
    for (const s of p.samples) expect(s.labels.worker).toBe("3");
    expect(p.type.has("pxeboot_install_once_installed_total")).toBe(false);
  });

  test("per-file counters: reads by file as requested, probes left out, bytes summed", () => {
    const m = createServerMetrics({ version: "1", startTimeSeconds: 1 });
    m.observe(record({ bytes: 1000 }));
    m.observe(record({ bytes: 500, outcome: "timeout" }));
    m.observe(record({ outcome: "probe" }));
    m.observe(record({ requested: "/missing", file: "", outcome: "error", errorCode: 1 }));
    m.observe(record({ direction: "write", requested: "up", file: "up", bytes: 9 }));
    // A name that is UTF-8 on the wire is shown decoded: "ü" arrives as the bytes c3 bc.
    m.observe(record({ requested: "k\u00c3\u00bc", file: "k\u00c3\u00bc", bytes: 3 }));
    const p = checkWellFormed(m.render());
    expect(value(p, "pxeboot_file_transfers_total", { file: "vmlinuz" })).toBe(2);
    expect(value(p, "pxeboot_file_sent_bytes_total", { file: "vmlinuz" })).toBe(1500);
    // A miss is no file served: pxelinux's config search would otherwise top the list.
    expect(p.samples.some((s) => s.labels.file === "/missing")).toBe(false);
    expect(value(p, "pxeboot_file_transfers_total", { file: "kü" })).toBe(1);
    expect(p.samples.some((s) => s.labels.file === "up")).toBe(false);
    expect(value(p, "pxeboot_file_transfers_total")).toBe(3);
  });

  test("per-host config names count as one series per directory, outside the cap on names", () => {
    const m = createServerMetrics({ version: "1", startTimeSeconds: 1 });
    for (let i = 0; i < 2 * MAX_FILE_LABELS; i++) {
      const hex = (0xc0a80000 + i).toString(16).toUpperCase();
      m.observe(record({ requested: `pxelinux.cfg/${hex}`, file: `pxelinux.cfg/${hex}`, bytes: 100 }));
      m.observe(record({ requested: `grub/grub.cfg-${hex}`, file: `grub/grub.cfg-${hex}`, bytes: 10 }));
    }
    m.observe(record({ requested: "pxelinux.cfg/01-52-54-00-aa-bb-cc", file: "pxelinux.cfg/01-52-54-00-aa-bb-cc", bytes: 100 }));
    m.observe(record({ requested: "pxelinux.cfg/default", file: "pxelinux.cfg/default", bytes: 50 }));
    const p = checkWellFormed(m.render());
    expect(value(p, "pxeboot_file_transfers_total", { file: "pxelinux.cfg/(per-host)" })).toBe(2 * MAX_FILE_LABELS + 1);
    expect(value(p, "pxeboot_file_sent_bytes_total", { file: "grub/(per-host)" })).toBe(20 * MAX_FILE_LABELS);
    expect(value(p, "pxeboot_file_transfers_total", { file: "pxelinux.cfg/default" })).toBe(1);
    expect(p.samples.some((s) => s.labels.file === OTHER_FILE)).toBe(false);
  });

  test(`at most ${MAX_FILE_LABELS} file names get a series; later ones count under ${OTHER_FILE}`, () => {
    const m = createServerMetrics({ version: "1", startTimeSeconds: 1 });
    for (let i = 0; i < MAX_FILE_LABELS + 20; i++) m.observe(record({ requested: `img${i}`, file: `img${i}`, bytes: 10 }));
    m.observe(record({ requested: "img0", file: "img0", bytes: 10 }));
    m.observe(record({ requested: "img999", file: "img999", bytes: 10 }));
    const p = checkWellFormed(m.render());
    for (const name of ["pxeboot_file_transfers_total", "pxeboot_file_sent_bytes_total"]) {
      const files = new Set(p.samples.filter((s) => s.name === name).map((s) => s.labels.file));
      expect(files.size).toBe(MAX_FILE_LABELS + 1);
      expect(files.has(OTHER_FILE)).toBe(true);
      expect(files.has(`img${MAX_FILE_LABELS}`)).toBe(false);
    }
    expect(value(p, "pxeboot_file_transfers_total", { file: "img0" })).toBe(2);
    expect(value(p, "pxeboot_file_transfers_total", { file: OTHER_FILE })).toBe(21);
    expect(value(p, "pxeboot_file_sent_bytes_total", { file: OTHER_FILE })).toBe(210);
    expect(value(p, "pxeboot_file_transfers_total")).toBe(MAX_FILE_LABELS + 22);
    expect(p.help.get("pxeboot_file_transfers_total")).toContain(`first ${MAX_FILE_LABELS} distinct files`);
  });

  test("a file name with a quote, a backslash and a newline is escaped in its label", () => {
    const m = createServerMetrics({ version: "1", startTimeSeconds: 1, worker: "2" });
    const name = 'a"b\\c\nd';
    m.observe(record({ requested: name, file: name, bytes: 7 }));
    const text = m.render();
    expect(text).toContain('pxeboot_file_transfers_total{worker="2",file="a\\"b\\\\c\\nd"} 1\n');
    const p = checkWellFormed(text);
    expect(value(p, "pxeboot_file_sent_bytes_total", { file: name, worker: "2" })).toBe(7);
    expect(parseMetrics(text).find((s) => s.name === "pxeboot_file_transfers_total")!.labels.file).toBe(name);
  });

  test("errors in the last minute: error and timeout outcomes, forgotten after 60 s", () => {
    let ms = 1_700_000_000_000;
    const m = createServerMetrics({ version: "1", startTimeSeconds: 1, now: () => ms });
    const recent = () => value(checkWellFormed(m.render()), "pxeboot_errors_last_minute");
    expect(recent()).toBe(0);
    m.observe(record({ outcome: "error", errorCode: 1 }));
    m.observe(record({ outcome: "ok" }));
    m.observe(record({ outcome: "probe" }));
    ms += 30_000;
    m.observe(record({ outcome: "timeout" }));
    m.observe(record({ outcome: "error", errorCode: 2 }));
    expect(recent()).toBe(3);
    ms += 29_999;
    expect(recent()).toBe(3);
    ms += 1;
    expect(recent()).toBe(2);
    ms += 30_000;
    expect(recent()).toBe(0);
    expect(checkWellFormed(m.render()).type.get("pxeboot_errors_last_minute")).toBe("gauge");
  });

  testNeeding({ present: !!Bun.which("promtool"), what: "promtool", optionalInCi: "CI does not install Debian's prometheus" }, "promtool check metrics finds nothing to say", () => {
    const r = spawnSync("promtool", ["check", "metrics"], { input: sampleMetrics().render(), encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("one endpoint for every worker", () => {
  test("workers' snapshots merge into one exposition: each family's HELP and TYPE once, every worker's samples", () => {
    const w1 = createServerMetrics({ version: "1", startTimeSeconds: 1, worker: "1" });
    const w2 = createServerMetrics({ version: "1", startTimeSeconds: 1, worker: "2" });
    w1.observe(record({ requested: "pxelinux.0", file: "pxelinux.0", bytes: 10 }));
    w2.observe(record({ requested: "pxelinux.0", file: "pxelinux.0", bytes: 10 }));
    w2.observe(record({ requested: "vmlinuz", file: "vmlinuz", bytes: 10 }));
    // What crosses the IPC channel is JSON.
    const text = renderSnapshots([w1.snapshot(), JSON.parse(JSON.stringify(w2.snapshot()))]);
    expect(text.match(/^# TYPE pxeboot_transfers_total /gm)!.length).toBe(1);
    expect(text.match(/^# HELP pxeboot_build_info /gm)!.length).toBe(1);
    const samples = parseMetrics(text).filter((x) => x.name === "pxeboot_transfers_total");
    const byWorker = (w: string) => samples.filter((x) => x.labels.worker === w).reduce((n, x) => n + x.value, 0);
    expect([byWorker("1"), byWorker("2")]).toEqual([1, 2]);
    // One process alone renders as before.
    expect(renderSnapshots([w1.snapshot()])).toBe(w1.render());
  });
});

describe("--metrics", () => {
  test("takes PORT, ADDR:PORT and [IPv6]:PORT", () => {
    // What it shows is private to the farm: a bare port is loopback, exposing it takes an address.
    expect(parseMetricsListen("9169")).toEqual({ address: "127.0.0.1", port: 9169 });
    expect(parseMetricsListen("0.0.0.0:9169")).toEqual({ address: "0.0.0.0", port: 9169 });
    expect(parseMetricsListen("127.0.0.1:9200")).toEqual({ address: "127.0.0.1", port: 9200 });
    expect(parseMetricsListen("[::1]:9169")).toEqual({ address: "::1", port: 9169 });
    expect(() => parseMetricsListen("::1:9169")).toThrow(/\[ADDR:\]PORT/);
    expect(() => parseMetricsListen("70000")).toThrow(/from 0 to 65535/);
  });
});

describe("status screen", () => {
  test("shows active and queued, totals with rates, errors by name, install-once, cache ratio", () => {
    const m = sampleMetrics();
    const before = parseMetrics(m.render());
    m.observe(record({ bytes: 2_000_000, durationMs: 100 }));
    const screen = statusScreen(before, parseMetrics(m.render()), 1, "http://x/metrics", 1_700_003_700);
    expect(screen).toContain("pxeboot 1.2.3 at http://x/metrics, up 1h 1m");
    expect(screen).toContain("active 3   queued 4");
    expect(screen).toContain("ok 4 (1.0/s)");
    expect(screen).toContain("sent 2.0 MB (2.0 MB/s)");
    expect(screen).toContain("1 file not found: 1");
    expect(screen).toContain("5 unknown transfer ID: 1");
    expect(screen).toContain("install-once installed 2");
    expect(screen).toContain("hit ratio 90.0% (9 hits, 1 misses)");
    expect(screen).toContain("in the last minute: 2");
    expect(screen).toMatch(/top files +transfers +bytes sent +file\n +5 +2\.0 MB +vmlinuz\n/);
  });

  test("top files: most transfers first, summed over workers, at most five, control characters shown escaped", () => {
    const w1 = createServerMetrics({ version: "1", startTimeSeconds: 1, worker: "1" });
    const w2 = createServerMetrics({ version: "1", startTimeSeconds: 1, worker: "2" });
    const fetch = (m: typeof w1, file: string, times: number, bytes = 100) => {
      for (let i = 0; i < times; i++) m.observe(record({ requested: file, file, bytes }));
    };
    fetch(w1, "pxelinux.0", 3);
    fetch(w2, "pxelinux.0", 3);
    fetch(w1, "ldlinux.c32", 5);
    fetch(w1, "bad\nname", 4);
    for (const f of ["g", "h", "i"]) fetch(w2, f, 1);
    const after = parseMetrics(renderSnapshots([w1.snapshot(), w2.snapshot()]));
    expect(topFiles(after).map((t) => [t.file, t.transfers, t.bytes])).toEqual([
      ["pxelinux.0", 6, 600],
      ["ldlinux.c32", 5, 500],
      ["bad\nname", 4, 400],
      ["g", 1, 100],
      ["h", 1, 100],
    ]);
    const screen = statusScreen(after, after, 1, "u", 2);
    expect(screen).toContain("bad\\x0aname");
    expect(screen).not.toContain("bad\nname");
    expect(screen).not.toMatch(/ i\n/);
    expect(screen.split("\n").length).toBeLessThan(24);
  });
});
