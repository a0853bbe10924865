/**
 * A small Prometheus registry and its text exposition (format 0.0.4), pure: no I/O, no clock.
 * Counters and histograms are plain numbers bumped at the end of a transfer or on a request
 * event; gauges are read from a callback at scrape time, so nothing is counted per datagram.
 */

export type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  /** Sample lines (without the metric family's constant labels applied yet). */
  samples(): Sample[];
}

interface Sample {
  /** Full name, e.g. with `_bucket` for a histogram. */
  name: string;
  labels: Labels;
  value: number;
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Histogram {
  observe(value: number): void;
}

/**
 * Label values: backslash, double quote and newline are the only escapes the format has. Other
 * control bytes (a client-chosen ESC, BEL, CR or C1 byte in a file name) would reach a terminal
 * running curl or `pxeboot status` raw, so they are written as \\xHH: text, not escapes.
 */
const escapeLabel = (v: string) =>
  v
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/g, (c) => `\\\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/** Label sets keyed in a fixed order so {a,b} and {b,a} are one series. */
const seriesKey = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export class Registry {
  private readonly families: Family[] = [];

  /** `constLabels` go on every sample (a worker's number when several processes serve). */
  constructor(private readonly constLabels: Labels = {}) {}

  counter(name: string, help: string): Counter {
    const series = new Map<string, { labels: Labels; value: number }>();
    this.families.push({
      name,
      help,
      type: "counter",
      samples: () => [...series.values()].map((s) => ({ name, labels: s.labels, value: s.value })),
    });
    return {
      inc(labels = {}, by = 1) {
        const key = seriesKey(labels);
        const s = series.get(key);
        if (s) s.value += by;
        else series.set(key, { labels: { ...labels }, value: by });
      },
    };
  }

  /** A counter whose total lives elsewhere (a cache's hit count): read at scrape time. */
  counterFrom(name: string, help: string, read: () => number | Array<{ labels: Labels; value: number }>): void {
    this.families.push({ name, help, type: "counter", samples: () => readSamples(name, read()) });
  }

  gauge(name: string, help: string, read: () => number | Array<{ labels: Labels; value: number }>): void {
    this.families.push({ name, help, type: "gauge", samples: () => readSamples(name, read()) });
  }

  /** `buckets`: upper bounds, ascending; +Inf is added. */
  histogram(name: string, help: string, buckets: number[]): Histogram {
    const bounds = [...buckets].sort((a, b) => a - b);
    const counts = new Array<number>(bounds.length).fill(0);
    let sum = 0;
    let count = 0;
    this.families.push({
      name,
      help,
      type: "histogram",
      samples: () => {
        // Stored per bucket, exposed cumulative as the format requires.
        let running = 0;
        const out: Sample[] = bounds.map((le, i) => {
          running += counts[i]!;
          return { name: `${name}_bucket`, labels: { le: formatValue(le) }, value: running };
        });
        out.push({ name: `${name}_bucket`, labels: { le: "+Inf" }, value: count });
        out.push({ name: `${name}_sum`, labels: {}, value: sum });
        out.push({ name: `${name}_count`, labels: {}, value: count });
        return out;
      },
    });
    return {
      observe(value) {
        sum += value;
        count++;
        const i = bounds.findIndex((le) => value <= le);
        if (i >= 0) counts[i]!++;
      },
    };
  }

  /** Every family's samples now, constant labels applied: plain data, for another process to merge. */
  snapshot(): FamilySnapshot[] {
    return this.families.map((f) => ({
      name: f.name,
      help: f.help,
      type: f.type,
      samples: f.samples().map((s) => ({ name: s.name, labels: { ...this.constLabels, ...s.labels }, value: s.value })),
    }));
  }

  render(): string {
    return renderSnapshots([this.snapshot()]);
  }
}

export interface FamilySnapshot {
  name: string;
  help: string;
  type: Family["type"];
  samples: Sample[];
}

/**
 * One exposition from several registries' snapshots (a server's worker processes, each sample
 * labelled with its worker): a family's HELP and TYPE once, then every process's samples.
 */
export function renderSnapshots(sets: FamilySnapshot[][]): string {
  const merged = new Map<string, FamilySnapshot>();
  for (const set of sets)
    for (const f of set) {
      const into = merged.get(f.name);
      if (into) into.samples.push(...f.samples);
      else merged.set(f.name, { ...f, samples: [...f.samples] });
    }
  const lines: string[] = [];
  for (const f of merged.values()) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${s.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return lines.join("\n") + "\n";
}

function readSamples(name: string, v: number | Array<{ labels: Labels; value: number }>): Sample[] {
  return typeof v === "number" ? [{ name, labels: {}, value: v }] : v.map((s) => ({ name, labels: s.labels, value: s.value }));
}

/**
 * Events in the last `seconds` seconds, from a ring of one-second buckets: memory is fixed and
 * an event costs one array write. Time is passed in (whole seconds), so this stays pure and a
 * test needs no wall clock.
 */
export class RecentCounter {
  private readonly counts: number[];
  /** The second each bucket last counted; a bucket from an older lap of the ring is stale. */
  private readonly stamps: number[];

  constructor(private readonly seconds = 60) {
    this.counts = new Array<number>(seconds).fill(0);
    this.stamps = new Array<number>(seconds).fill(-Infinity);
  }

  add(nowSecond: number, by = 1): void {
    const i = mod(nowSecond, this.seconds);
    if (this.stamps[i] !== nowSecond) {
      this.stamps[i] = nowSecond;
      this.counts[i] = 0;
    }
    this.counts[i]! += by;
  }

  /** Events in the window ending at `nowSecond` (that second included). */
  sum(nowSecond: number): number {
    let total = 0;
    for (let i = 0; i < this.seconds; i++) if (this.stamps[i]! > nowSecond - this.seconds && this.stamps[i]! <= nowSecond) total += this.counts[i]!;
    return total;
  }
}

const mod = (a: number, n: number) => ((a % n) + n) % n;

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
