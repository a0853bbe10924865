/**
 * `serve --metrics` against the compiled binary: a real fetch and a miss move the counters and
 * the histogram, and `pxeboot status` turns a scrape into its screen.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, RawPeer, run, scratchRoot, startServer, type ServerProcess } from "./harness.ts";

const tree = scratchRoot("metrics");
writeFileSync(join(tree.root, "file"), new Uint8Array(100_000).fill(7));
// A name with a C1 byte (0x9b, CSI) on disk: a client can fetch it, so its label must be escaped.
writeFileSync(Buffer.from(join(tree.root, "c1\x9bname"), "latin1"), "x");
chmodSync(Buffer.from(join(tree.root, "c1\x9bname"), "latin1"), 0o644);
chmodSync(join(tree.root, "file"), 0o644);
let server: ServerProcess | undefined;

afterAll(async () => {
  await server?.stop();
  tree.cleanup();
});

/** Summed over label sets that include `match`. */
function metric(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

describe("serve --metrics", () => {
  test("counts a fetch and a miss; status shows them", async () => {
    // Port 0: the endpoint picks a free port and logs its URL, so parallel runs never collide.
    server = await startServer(tree.root, ["--metrics", "127.0.0.1:0"]);
    const url = (await server.waitForLog(/http:\/\/127\.0\.0\.1:\d+\/metrics/)).trim();
    const scrape = async () => {
      const res = await fetch(url);
      expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
      return res.text();
    };
    const before = await scrape();
    expect((await run(["curl", "-s", `tftp://127.0.0.1:${server.port}/file`, "-o", "/dev/null"], 30_000)).code).toBe(0);
    expect((await run(["curl", "-s", `tftp://127.0.0.1:${server.port}/missing-kernel`, "-o", "/dev/null"], 30_000)).code).not.toBe(0);
    const after = await scrape();

    const moved = (name: string, match?: Record<string, string>) => metric(after, name, match) - metric(before, name, match);
    expect(moved("pxeboot_transfers_total", { direction: "read", outcome: "ok" })).toBe(1);
    expect(moved("pxeboot_transfers_total", { direction: "read", outcome: "error" })).toBe(1);
    expect(moved("pxeboot_errors_total", { code: "1" })).toBe(1);
    expect(moved("pxeboot_sent_bytes_total")).toBe(100_000);
    expect(moved("pxeboot_transfer_duration_seconds_count")).toBe(2);
    expect(moved("pxeboot_transfer_duration_seconds_bucket", { le: "+Inf" })).toBe(2);
    expect(metric(after, "pxeboot_cache_misses_total")).toBeGreaterThanOrEqual(1);
    expect(metric(after, "pxeboot_transfers_active")).toBe(0);
    expect(metric(after, "process_start_time_seconds")).toBeGreaterThan(Date.now() / 1000 - 600);
    expect(moved("pxeboot_file_transfers_total", { file: "file" })).toBe(1);
    expect(moved("pxeboot_file_sent_bytes_total", { file: "file" })).toBe(100_000);
    // A miss is counted (errors, transfers) but is no file served.
    expect(after).not.toContain(`file="missing-kernel"`);
    expect(metric(after, "pxeboot_errors_last_minute")).toBeGreaterThanOrEqual(1);

    const status = await run([BINARY, "status", url], 30_000);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("active 0   queued 0");
    expect(status.stdout).toMatch(new RegExp(`finished +ok ${metric(after, "pxeboot_transfers_total", { outcome: "ok" })} `));
    expect(status.stdout).toContain("1 file not found:");
    expect(status.stdout).toContain("cache       hit ratio");
    expect(status.stdout).toMatch(/in the last minute: [1-9]/);
    expect(status.stdout).toMatch(/top files +transfers +bytes sent +file\n/);
    expect(status.stdout).toMatch(/\n +1 +100\.0 kB +file\n/);
    // Top files count only files served: the miss is not among them.
    expect(status.stdout).not.toMatch(/\n +1 +0 B +missing-kernel\n/);
    // The hosts, from the farm API on the same listener: this client's boot is still going.
    expect(status.stdout).toContain("hosts: 1 recorded, 1 booting now, 0 whose last boot failed");
    expect(status.stdout).toMatch(/booting now:\n +127\.0\.0\.1 +127\.0\.0\.1 +at missing-kernel/);
    // As serve's --metrics took it (ADDR:PORT), and as a base URL: /metrics is added.
    const hostPort = new URL(url).host;
    for (const given of [hostPort, `http://${hostPort}`]) {
      const short = await run([BINARY, "status", given], 30_000);
      expect([given, short.code, short.stderr]).toEqual([given, 0, ""]);
      expect(short.stdout).toContain("active 0   queued 0");
    }
  }, 60_000);

  test("status against nothing listening is one line and exit 1", async () => {
    const r = await run([BINARY, "status", "http://127.0.0.1:1/metrics"], 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("cannot read http://127.0.0.1:1/metrics");
  });

  test("who may read it: --metrics-allow, else the server's --allow/--deny; others get 403", async () => {
    const own = await startServer(tree.root, ["--metrics", "127.0.0.1:0", "--metrics-allow", "127.0.0.2/32"]);
    const byFlags = await startServer(tree.root, ["--metrics", "127.0.0.1:0", "--deny", "127.0.0.3"]);
    try {
      const status = async (s: ServerProcess, from: string) => {
        const url = (await s.waitForLog(/http:\/\/127\.0\.0\.1:\d+\/metrics/)).trim();
        return (await run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", from, url], 30_000)).stdout;
      };
      expect(await status(own, "127.0.0.2")).toBe("200");
      expect(await status(own, "127.0.0.1")).toBe("403");
      expect(await status(byFlags, "127.0.0.1")).toBe("200");
      expect(await status(byFlags, "127.0.0.3")).toBe("403");
    } finally {
      await own.stop();
      await byFlags.stop();
    }
  }, 60_000);

  test("a bare port listens on loopback only", async () => {
    // A port picked here: the bare form has no port 0 of its own to log.
    const port = 20000 + Math.floor(Math.random() * 40000);
    const s = await startServer(tree.root, ["--metrics", String(port)]);
    try {
      expect(await s.waitForLog(/metrics served url=\S+/)).toContain(`http://127.0.0.1:${port}/metrics`);
      // `ss -ltnH`: State Recv-Q Send-Q Local Peer; every local address on that port is loopback.
      const locals = (await run(["ss", "-ltnH", `sport = :${port}`], 10_000)).stdout.trim().split("\n").map((l) => l.trim().split(/\s+/)[3]);
      expect(locals).toEqual([`127.0.0.1:${port}`]);
    } finally {
      await s.stop();
    }
  }, 60_000);

  test("client-chosen control bytes in label values are escaped, never raw", async () => {
    const s = await startServer(tree.root, ["--metrics", "127.0.0.1:0"]);
    try {
      const url = (await s.waitForLog(/http:\/\/127\.0\.0\.1:\d+\/metrics/)).trim();
      const peer = await RawPeer.open("127.0.0.1");
      try {
        // ESC [ 31 m, BEL, CR and the C1 CSI: a terminal showing a raw scrape would obey them.
        // C0 bytes never name a file (refused, so not counted by file); C1 bytes can, on disk.
        peer.send(encodeRequest(Opcode.RRQ, "evil\x1b[31m\x07\r\x9bname", "octet"), s.port);
        expect(await peer.recv(3000)).toBeDefined();
      } finally {
        peer.close();
      }
      // curl sends %9B as the byte itself.
      expect((await run(["curl", "-s", `tftp://127.0.0.1:${s.port}/c1%9Bname`, "-o", "/dev/null"], 30_000)).code).toBe(0);
      const body = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const text = new TextDecoder().decode(body);
      expect(text).toContain('file="c1\\\\x9bname"');
      // eslint-disable-next-line no-control-regex
      expect(text.match(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/g)).toBeNull();
    } finally {
      await s.stop();
    }
  }, 60_000);
});
