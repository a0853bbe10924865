/**
 * `pxeboot bench` against tftpd-hpa on loopback: many clients in one process, every download
 * verified, wrong content caught, size probes, the JSON summary's shape.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchSummary } from "../../src/bench/types.ts";
import { pxebootCommand } from "./pxeboot-command.ts";
import { IN_TFTPD, runPxeboot, startTftpd, type Tftpd } from "./tftpd-hpa.ts";
import { describeNeeding } from "../gate.ts";

let root: string;
let server: Tftpd | undefined;
const content = randomBytes(300_000);

async function bench(args: string[]) {
  const r = await runPxeboot(pxebootCommand(), ["bench", `tftp://127.0.0.1:${server!.port}/f.bin`, "--json", ...args]);
  return { ...r, summary: JSON.parse(new TextDecoder().decode(r.stdout)) as BenchSummary };
}

describeNeeding({ present: !!IN_TFTPD, what: "in.tftpd (Debian package tftpd-hpa)" }, "pxeboot bench against tftpd-hpa", () => {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "pxeboot-bench-"));
    writeFileSync(join(root, "f.bin"), content);
    const other = Buffer.from(content);
    other[123_456] = other[123_456]! ^ 1; // same size, one bit different
    writeFileSync(join(root, "other.bin"), other);
    server = await startTftpd(root);
  });
  afterAll(() => {
    server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  for (const verify of ["sha256", "bytes"]) {
    test(`100 clients, 50 at once, verified by ${verify}`, async () => {
      const { summary, code } = await bench(
        ["--clients", "100", "--concurrency", "50", "--blksize", "1468", "--local", join(root, "f.bin"), "--verify", verify],
      );
      expect(code).toBe(0);
      expect(summary).toMatchObject({ clients: 100, concurrency: 50, ok: 100, failed: 0, timeouts: 0, bytes: 100 * content.length });
      expect(summary.negotiated).toEqual({ blksize: 1468, windowsize: 1, tsize: content.length, oack: true });
      expect(summary.mbPerSec).toBeGreaterThan(0);
      expect(summary.p99Ms).toBeGreaterThanOrEqual(summary.p50Ms);
    }, 60_000);
  }

  for (const verify of ["sha256", "bytes"]) {
    test(`a download that differs by one bit fails (${verify}) and the exit status says so`, async () => {
      const { summary, code } = await bench(["--clients", "3", "--local", join(root, "other.bin"), "--verify", verify]);
      expect(code).toBe(1);
      expect(summary.ok).toBe(0);
      expect(summary.failed).toBe(3);
      expect(summary.failures[0]!.reason).toMatch(/sha256 mismatch|differs/);
    }, 30_000);
  }

  test("size probes read tsize and end with ERROR 8", async () => {
    const { summary, code } = await bench(["--clients", "50", "--concurrency", "50", "--probe", "--local", join(root, "f.bin")]);
    expect(code).toBe(0);
    expect(summary).toMatchObject({ ok: 50, bytes: 0, requested: { probe: true } });
    expect(summary.negotiated?.tsize).toBe(content.length);
  }, 30_000);

  test("simulated loss is counted and recovered from", async () => {
    // tftpd-hpa re-sends only on its own timer (~1 s, doubling), so leave the clients a long budget.
    const sha = new Bun.CryptoHasher("sha256").update(content).digest("hex");
    const { summary } = await bench(
      ["--clients", "4", "--blksize", "1468", "--loss", "2", "--timeout", "0.5", "--retries", "10", "--expect-sha256", sha],
    );
    expect(summary).toMatchObject({ ok: 4, failed: 0, timeouts: 0 });
    expect(summary.retransmits.dropped).toBeGreaterThan(0);
  }, 60_000);
});
