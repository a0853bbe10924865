/**
 * bench/compare.sh's arithmetic: how bench/lib.sh sums the generators' RESULT lines, and how
 * bench/table.ts picks rounds, derives CPU per GB and per DATA, and checks issue 14's goals.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { best, choose, cpuPerData, cpuPerGB, figuresTable, goalsTable, ratio, type Run, type ScenarioInfo } from "../../bench/table.ts";

const LIB = resolve(import.meta.dir, "../../bench/lib.sh");

const run = (over: Partial<Run>): Run => ({
  scenario: "storm",
  server: "pxeboot",
  round: 1,
  clients: 100,
  alive: 1,
  ok: 100,
  failed: 0,
  wall_s: 10,
  mbps: 100,
  p50_s: 9,
  p99_s: 10,
  data: 1000,
  srv_cpu_s: 4,
  peak_rss_kib: 102400,
  gen_cpu_s: 5,
  gens: 1,
  ...over,
});

const storm: ScenarioInfo = { id: "storm", title: "storm", primary: "mbps", clients: 100, flags: "-b 1468" };

describe("bench_summarize (bench/lib.sh)", () => {
  function summarize(outputs: string[], cpuUsec: number, rssKib: number): Record<string, string> {
    const dir = mkdtempSync(join(tmpdir(), "bench-summarize-"));
    try {
      const files = outputs.map((text, i) => {
        const f = join(dir, `out.gen${i + 1}`);
        writeFileSync(f, text);
        return f;
      });
      const p = Bun.spawnSync(["bash", "-c", `. "${LIB}"; bench_summarize "$@"`, "_", String(cpuUsec), String(rssKib), ...files]);
      expect(p.exitCode).toBe(0);
      return Object.fromEntries(
        p.stdout
          .toString()
          .trim()
          .split(" ")
          .map((kv) => kv.split("=") as [string, string]),
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  }

  const gen = (ok: number, wall: number, mbps: number, p50: number, p99: number, data: number) =>
    `  packets   : rx ${data} (DATA ${data}), ACKs sent ${data}, dup DATA 0, gaps 0, dropped(sim) 0\n` +
    `RESULT ok=${ok} failed=1 wall_s=${wall} MBps=${mbps} p50_s=${p50} p99_s=${p99} max_s=${p99} retransmits=2 dups=0 gaps=0 dropped=0 rxq_drops=0 blksize=1468 window=4 gen_cpu_s=0.5\n`;

  test("sums counts and bytes over generators, takes the slowest wall and the worst percentiles", () => {
    const s = summarize([gen(10, 2, 50, 1.5, 1.9, 300), gen(20, 4, 40, 3.5, 3.9, 700)], 2_500_000, 4096);
    expect(s.ok).toBe("30");
    expect(s.failed).toBe("2");
    expect(s.wall_s).toBe("4.000");
    // (50 MB/s × 2 s + 40 MB/s × 4 s) ÷ 4 s
    expect(s.mbps).toBe("65.00");
    expect(s.p50_s).toBe("3.5000");
    expect(s.p99_s).toBe("3.9000");
    expect(s.data).toBe("1000");
    expect(s.retransmits).toBe("4");
    expect(s.window).toBe("4");
    expect(s.gen_cpu_s).toBe("1.00");
    expect(s.gens).toBe("2");
    expect(s.srv_cpu_s).toBe("2.500");
    expect(s.peak_rss_kib).toBe("4096");
  });

  test("a generator that printed no RESULT line makes the summary an error", () => {
    const s = summarize([gen(10, 2, 50, 1, 1, 1), "tftpstorm: cannot open socket\n"], 0, 0);
    expect(s.error).toBe("generator_without_RESULT");
  });
});

describe("bench/table.ts", () => {
  test("server CPU per GB and per DATA datagram; per probe where no DATA flowed", () => {
    // 100 MB/s for 10 s = 1 GB; 4 s of server CPU.
    expect(cpuPerGB(run({}))).toBeCloseTo(4);
    expect(cpuPerData(run({}))).toBeCloseTo(4000);
    expect(cpuPerGB(run({ mbps: 0 }))).toBeUndefined();
    expect(cpuPerData(run({ data: 0, ok: 200, srv_cpu_s: 0.02 }))).toBeCloseTo(100);
  });

  test("best of rounds: highest MB/s, lowest wall; a served round beats one that failed to start", () => {
    const rounds = [run({ round: 1, mbps: 80, wall_s: 9 }), run({ round: 2, mbps: 120, wall_s: 12 }), run({ round: 3, error: "server_did_not_start", ok: undefined })];
    expect(best(rounds, "mbps")?.round).toBe(2);
    expect(best(rounds, "wall")?.round).toBe(1);
    expect(best([rounds[2]!, rounds[0]!], "mbps")?.round).toBe(1);
    expect(best([rounds[2]!], "mbps")?.error).toBe("server_did_not_start");
  });

  test("ratio text", () => {
    expect(ratio(3, 2)).toBe("1.50×");
    expect(ratio(undefined, 2)).toBe("–");
    expect(ratio(1, 0)).toBe("–");
  });

  test("the figures table gives each server's ratios to dnsmasq and tftpd-hpa", () => {
    const runs = [
      run({ server: "pxeboot", mbps: 200, srv_cpu_s: 4 }),
      run({ server: "dnsmasq", mbps: 100, srv_cpu_s: 4 }),
      run({ server: "tftpd-hpa", mbps: 50, srv_cpu_s: 5 }),
    ];
    const table = figuresTable([storm], choose(runs, [storm]));
    const pxe = table.split("\n").find((l) => l.includes("| pxeboot |"))!;
    // vs dnsmasq: 2× the MB/s; CPU per GB: 4 s ÷ 2 GB = 2 vs 4 ÷ 1 GB = 4 → 0.5×.
    expect(pxe).toContain("2.00× MB/s, 0.50× CPU/GB");
    // vs tftpd-hpa: 4×; 2 vs 5 ÷ 0.5 GB = 10 → 0.2×.
    expect(pxe).toContain("4.00× MB/s, 0.20× CPU/GB");
  });

  test("goals: met, not met when a client failed, and no verdict without a result", () => {
    const scenarios: ScenarioInfo[] = [storm, { ...storm, id: "huge", primary: "ok" }];
    const runs = [
      run({ server: "pxeboot-w1", mbps: 110, srv_cpu_s: 3 }),
      run({ server: "dnsmasq", mbps: 100, srv_cpu_s: 4 }),
      run({ scenario: "huge", server: "pxeboot", ok: 9990, failed: 10, peak_rss_kib: 300 * 1024 }),
    ];
    const goals = goalsTable(choose(runs, scenarios)).split("\n");
    expect(goals.find((l) => l.includes("one worker: MB/s"))).toContain("1.10× | **met**");
    expect(goals.find((l) => l.includes("CPU per GB"))).toContain("**met**");
    expect(goals.find((l) => l.includes("peak RSS"))).toContain("9990 ok, 10 failed, 300 MiB | **not met**");
    // No windowsize-4 row ran: its goal is left out rather than judged.
    expect(goals.some((l) => l.includes("windowsize 4"))).toBe(false);

    const slow = [run({ server: "pxeboot-w1", mbps: 90 }), run({ server: "dnsmasq", mbps: 100 })];
    expect(goalsTable(choose(slow, [storm]))).toContain("0.90× | **not met**");
    const failing = [run({ server: "pxeboot-w1", mbps: 150, failed: 3 }), run({ server: "dnsmasq", mbps: 100 })];
    expect(goalsTable(choose(failing, [storm]))).toContain("1.50×, 3 failed | **not met**");
    expect(goalsTable(choose([run({ server: "dnsmasq" })], [storm]))).toContain("no result for pxeboot --workers 1 | – |");
  });
});
