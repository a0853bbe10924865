/**
 * Picky firmware against the compiled server: scripted clients (picky-client.ts) that negotiate
 * and then choke. Each must end up with its file intact, and the server must log the fallback
 * for its address, with the reason. Each client sends from its own 127.0.0.X, so what the server
 * remembers of one does not help another.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pickyGet, type PickyBehaviour } from "./picky-client.ts";
import { pxeboot, randomFile, scratchRoot, sha256, startServer, type ServerProcess } from "./harness.ts";

const { root, cleanup } = scratchRoot("picky");
const file = randomFile(join(root, "kernel"), 40_000, 11);
const other = randomFile(join(root, "initrd"), 9_000, 12);
let server: ServerProcess;

beforeAll(async () => {
  server = await startServer(root, ["--verbose", "--log-format", "json"]);
});
afterAll(async () => {
  await server?.stop();
  cleanup();
});

const base = { timeoutMs: 400, restartAfter: 8, attempts: 4 };

/** The server's fallback lines for `client`, as [offer, reason]. */
function fallbacks(client: string): [string, string][] {
  return server
    .log()
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes("more conservative offer"))
    .map((l) => JSON.parse(l) as Record<string, string>)
    .filter((r) => r.client === client)
    .map((r) => [r.offer!, r.reason!]);
}

async function get(name: string, b: PickyBehaviour) {
  return pickyGet({ address: "127.0.0.1", port: server.port }, name, b);
}

describe("picky firmware gets a more conservative offer, and its file", () => {
  test("never answers an OACK with a big blksize: the 1024 offer, and its next file starts there", async () => {
    const b: PickyBehaviour = {
      ...base,
      from: "127.0.0.21",
      options: { blksize: "1468", tsize: "0" },
      takesOack: (o) => Number(o.get("blksize")) <= 1024,
    };
    const r = await get("kernel", b);
    expect(sha256(r.data!)).toBe(sha256(file));
    expect(r.oacks[0]!.blksize).toBe("1468");
    expect(r.oacks.at(-1)!.blksize).toBe("1024");
    expect(fallbacks("127.0.0.21")).toEqual([["blksize at most 1024, no windowsize", expect.stringMatching(/OACK/)]]);
    // Remembered: the next file's first OACK is already the one it takes.
    const again = await get("initrd", b);
    expect(sha256(again.data!)).toBe(sha256(other));
    expect(again.oacks).toEqual([{ blksize: "1024", tsize: String(other.length) }]);
  }, 60_000);

  test("ignores the OACK and waits for DATA 1: plain RFC 1350 in the end", async () => {
    const r = await get("kernel", { ...base, from: "127.0.0.22", options: { blksize: "1468", windowsize: "4", tsize: "0" }, takesOack: () => false });
    expect(sha256(r.data!)).toBe(sha256(file));
    expect(fallbacks("127.0.0.22").map(([offer]) => offer)).toEqual(["blksize at most 1024, no windowsize", "no options (RFC 1350)"]);
  }, 60_000);

  test("drops every datagram larger than 1000 bytes: starts over until the blocks fit", async () => {
    const r = await get("kernel", {
      ...base,
      from: "127.0.0.23",
      options: { blksize: "1468", tsize: "0" },
      takesOack: () => true,
      dropAbove: 1000,
      restartAfter: 3,
      attempts: 5,
    });
    expect(sha256(r.data!)).toBe(sha256(file));
    expect(r.attempts).toBe(3); // 1468, then 1024 (still too big), then 512
    const lines = fallbacks("127.0.0.23");
    expect(lines.map(([offer]) => offer)).toEqual(["blksize at most 1024, no windowsize", "no options (RFC 1350)"]);
    expect(lines[0]![1]).toMatch(/DATA 1 \(blksize 1468\) was never acknowledged/);
  }, 60_000);

  test("answers the OACK only when it has no windowsize: the offer without it", async () => {
    const r = await get("kernel", {
      ...base,
      from: "127.0.0.24",
      options: { blksize: "1468", windowsize: "8", tsize: "0" },
      takesOack: (o) => !o.has("windowsize"),
    });
    expect(sha256(r.data!)).toBe(sha256(file));
    expect(r.oacks.at(-1)).toEqual({ blksize: "1024", tsize: String(file.length) });
    expect(fallbacks("127.0.0.24").length).toBe(1);
  }, 60_000);
});

describe("--quirks FILE: pinned per client block, re-read on SIGHUP, listed by pxeboot quirks", () => {
  const q = scratchRoot("quirks-file");
  const quirksFile = join(q.root, "quirks.toml");
  const metricsPort = 20000 + Math.floor(Math.random() * 40000);
  let pinned: ServerProcess;

  beforeAll(async () => {
    writeFileSync(quirksFile, '[[client]]\nmatch = "127.0.0.31/32"\nno-options = true\n');
    pinned = await startServer(root, ["--verbose", "--log-format", "json", "--quirks", quirksFile, "--metrics", `127.0.0.1:${metricsPort}`]);
  });
  afterAll(async () => {
    await pinned?.stop();
    q.cleanup();
  });

  const client = (from: string, takesOack: PickyBehaviour["takesOack"] = () => true): PickyBehaviour => ({
    ...base,
    from,
    options: { blksize: "1468", windowsize: "4", tsize: "0" },
    takesOack,
  });

  test("no-options: DATA 1 answers at once; after SIGHUP the new rule (blksize-max 1024) applies", async () => {
    const r = await pickyGet({ address: "127.0.0.1", port: pinned.port }, "kernel", client("127.0.0.31"));
    expect(sha256(r.data!)).toBe(sha256(file));
    expect(r.oacks).toEqual([]);
    writeFileSync(quirksFile, '[[client]]\nmatch = "127.0.0.31/32"\nblksize-max = 1024\n');
    pinned.proc.kill("SIGHUP");
    await pinned.waitForLog(/configuration re-read.*quirks/);
    const again = await pickyGet({ address: "127.0.0.1", port: pinned.port }, "kernel", client("127.0.0.31"));
    expect(sha256(again.data!)).toBe(sha256(file));
    expect(again.oacks[0]!.blksize).toBe("1024");
  }, 60_000);

  test("pxeboot quirks shows the pinned rules and what the server learned", async () => {
    const r = await pickyGet({ address: "127.0.0.1", port: pinned.port }, "kernel", client("127.0.0.32", () => false));
    expect(sha256(r.data!)).toBe(sha256(file));
    const out = await pxeboot("quirks", "--quirks", quirksFile, "--metrics", `127.0.0.1:${metricsPort}`);
    expect(out).toContain(`pinned (${quirksFile}):\n  127.0.0.31/32: blksize at most 1024\n`);
    expect(out).toMatch(/learned \(http:\/\/127\.0\.0\.1:\d+\/quirks\):\n {2}127\.0\.0\.32: no options \(RFC 1350\), \d+ s more \(asked again without answering the OACK|OACK unanswered/);
    const none = await pxeboot("quirks", "--quirks", quirksFile);
    expect(none).toContain("learned: not shown (serve runs without --metrics");
  }, 60_000);
});
