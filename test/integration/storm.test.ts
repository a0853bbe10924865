/**
 * A small boot storm in the test suite: 500 clients start at once against the compiled server
 * (loopback), PXE-style (size probe, then the download), and every one must finish with intact
 * data. The full-size storms with timings live in bench/, not here.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { download } from "../../src/client/download.ts";
import { randomFile, scratchRoot, sha256, startServer, type ServerProcess } from "./harness.ts";

let server: ServerProcess;
const { root, cleanup } = scratchRoot("storm");
let sums: string[];

beforeAll(async () => {
  sums = [0, 1, 2].map((i) => sha256(randomFile(join(root, `file${i}`), 64 * 1024 + i * 777, 50 + i)));
  // A deliberately small slot count so the admission queue is part of what is tested; the
  // per-host limits and the worker count are the defaults.
  server = await startServer(root, ["--max-transfers", "200", "--quiet"]);
});
afterAll(async () => {
  await server?.stop();
  cleanup();
});

test("500 clients at once: size probe then download, 0 failures, intact data", async () => {
  const N = 500;
  const failures: string[] = [];
  const one = async (i: number) => {
    const file = `file${i % 3}`;
    // Each client a host of its own, as in a rack: one address sending 1000 requests would reuse
    // its source ports within seconds, and a retried RRQ of a finished transfer could then reach
    // the server looking like a new client's request, which no TFTP server can tell apart.
    const localAddress = `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const common = { server: { address: "127.0.0.1", port: server.port }, localAddress, filename: file, mode: "octet" as const, timeoutMs: 500, timeoutMaxMs: 2000, retries: 8 };
    const probe = await download({ ...common, blockSize: 1432, probe: true });
    if (!probe.outcome.ok) return void failures.push(`${i} probe: ${probe.outcome.reason}`);
    const h = new Bun.CryptoHasher("sha256");
    const r = await download({
      ...common,
      blockSize: [512, 1432, 1468, 8192][i % 4],
      windowSize: i % 2 ? 4 : undefined,
      tsize: true,
      onChunk: (c) => void h.update(c),
    });
    if (!r.outcome.ok) return void failures.push(`${i} download: ${r.outcome.reason}`);
    if (h.digest("hex") !== sums[i % 3]) failures.push(`${i}: sha256 mismatch`);
  };
  await Promise.all(Array.from({ length: N }, (_, i) => one(i)));
  expect(failures).toEqual([]);
  expect(server.proc.exitCode).toBeNull();
}, 120_000);

test("out of file descriptors: requests wait for a slot instead of failing", async () => {
  // 150 descriptors for 300 simultaneous clients: each transfer holds a socket and, until the
  // file is cached, a file. None may get an ERROR or time out.
  const limited = await startServer(root, ["--quiet", "--per-client-max", "0", "--per-client-rate", "0"], "127.0.0.1", ["prlimit", "--nofile=150"]);
  try {
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const h = new Bun.CryptoHasher("sha256");
        const r = await download({
          server: { address: "127.0.0.1", port: limited.port },
          filename: "file1",
          mode: "octet",
          blockSize: 1468,
          timeoutMs: 500,
          timeoutMaxMs: 2000,
          retries: 8,
          onChunk: (c) => void h.update(c),
        });
        if (!r.outcome.ok) failures.push(`${i}: ${r.outcome.reason}`);
        else if (h.digest("hex") !== sums[1]) failures.push(`${i}: sha256 mismatch`);
      }),
    );
    expect(failures).toEqual([]);
    await limited.waitForLog(/out of file descriptors/, 3000); // the shortage did happen, and was told
  } finally {
    await limited.stop();
  }
}, 120_000);
