/**
 * The compiled server against TFTP clients nobody here wrote: curl, tftp-hpa, atftp, busybox.
 * Every download is checked by sha256 against the source file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomFile, run, scratchRoot, sha256, sha256File, startServer, type ServerProcess } from "./harness.ts";

const MiB = 1024 * 1024;
let server: ServerProcess;
let server6: ServerProcess | undefined;
const { root, cleanup } = scratchRoot("clients");
const out = join(root, "..", `${root.split("/").pop()}-out`);
const sums: Record<string, string> = {};

beforeAll(async () => {
  mkdirSync(out, { recursive: true });
  sums["r10m"] = sha256(randomFile(join(root, "r10m"), 10 * MiB, 10));
  sums["r100m"] = sha256(randomFile(join(root, "r100m"), 100 * MiB, 100));
  // Not a multiple of any block size, and one that is exactly 512 × n (ends with an empty block).
  sums["odd"] = sha256(randomFile(join(root, "odd"), 1_000_003, 3));
  sums["exact"] = sha256(randomFile(join(root, "exact"), 512 * 2048, 4));
  writeFileSync(join(root, "text.cfg"), "DEFAULT local\nLABEL local\r\n  LOCALBOOT 0\nbare\rcr\n\n");
  server = await startServer(root);
});

afterAll(async () => {
  await server?.stop();
  await server6?.stop();
  cleanup();
  await run(["rm", "-rf", out]);
});

const url = (file: string, host = "127.0.0.1", port = server.port) => `tftp://${host}:${port}/${file}`;

async function expectFile(path: string, name: string): Promise<void> {
  expect(await sha256File(path)).toBe(sums[name]!);
}

describe("curl tftp://", () => {
  for (const blksize of [512, 1468, 65464]) {
    test(`10 MiB at blksize ${blksize}`, async () => {
      const dest = join(out, `curl-${blksize}`);
      const r = await run(["curl", "-sS", "--tftp-blksize", String(blksize), "-o", dest, url("r10m")]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      await expectFile(dest, "r10m");
    }, 60_000);
  }
  test("100 MiB at blksize 512 (block numbers roll over)", async () => {
    const dest = join(out, "curl-100m");
    const r = await run(["curl", "-sS", "--tftp-blksize", "512", "-o", dest, url("r100m")], 170_000);
    expect(r.code).toBe(0);
    await expectFile(dest, "r100m");
  }, 180_000);
  test("odd sizes and an exact multiple of the block size", async () => {
    for (const name of ["odd", "exact"]) {
      const dest = join(out, `curl-${name}`);
      expect((await run(["curl", "-sS", "-o", dest, url(name)])).code).toBe(0);
      await expectFile(dest, name);
    }
  }, 60_000);
  test("a missing file is reported as TFTP file not found", async () => {
    const r = await run(["curl", "-sS", "-o", join(out, "nothing"), url("no-such-file")]);
    expect(r.code).toBe(68); // CURLE_TFTP_NOTFOUND
  });
  test("over IPv6 (::1)", async () => {
    server6 = await startServer(root, [], "::1");
    const dest = join(out, "curl-v6");
    const r = await run(["curl", "-sS", "-o", dest, url("r10m", "[::1]", server6.port)]);
    expect(r.code).toBe(0);
    await expectFile(dest, "r10m");
  }, 60_000);
});

describe("tftp-hpa client", () => {
  const tftp = (mode: string, file: string, dest: string, timeoutMs = 120_000) =>
    run(["tftp", "127.0.0.1", String(server.port), "-m", mode, "-c", "get", file, dest], timeoutMs);
  test("10 MiB octet", async () => {
    const dest = join(out, "hpa-10m");
    const r = await tftp("binary", "r10m", dest);
    expect(r.stdout + r.stderr).not.toContain("Error");
    await expectFile(dest, "r10m");
  }, 60_000);
  test("100 MiB octet (rollover at 512)", async () => {
    const dest = join(out, "hpa-100m");
    await tftp("binary", "r100m", dest, 170_000);
    await expectFile(dest, "r100m");
  }, 180_000);
  test("netascii: the client gets back the same text after CR LF / CR NUL on the wire", async () => {
    const dest = join(out, "hpa-text");
    await tftp("ascii", "text.cfg", dest);
    expect(readFileSync(dest, "utf8")).toBe(readFileSync(join(root, "text.cfg"), "utf8"));
  });
  test("a missing file prints the server's error", async () => {
    const r = await tftp("binary", "no/such/file", join(out, "hpa-missing"));
    expect(r.stdout + r.stderr).toContain("File not found");
  });
});

describe("atftp", () => {
  const atftp = (opts: string[], file: string, dest: string, timeoutMs = 120_000) =>
    run(["atftp", ...opts.flatMap((o) => ["--option", o]), "-g", "-r", file, "-l", dest, "127.0.0.1", String(server.port)], timeoutMs);
  test("10 MiB with windowsize 16 (RFC 7440)", async () => {
    const dest = join(out, "atftp-w16");
    const r = await atftp(["windowsize 16", "blksize 1468"], "r10m", dest);
    expect(r.code).toBe(0);
    await expectFile(dest, "r10m");
  }, 60_000);
  test("10 MiB plain", async () => {
    const dest = join(out, "atftp-10m");
    expect((await atftp([], "r10m", dest)).code).toBe(0);
    await expectFile(dest, "r10m");
  }, 60_000);
  test("100 MiB at blksize 512 (rollover)", async () => {
    const dest = join(out, "atftp-100m");
    expect((await atftp(["blksize 512"], "r100m", dest, 170_000)).code).toBe(0);
    await expectFile(dest, "r100m");
  }, 180_000);
  test("100 MiB with windowsize 16 at blksize 512 (rollover inside windows)", async () => {
    const dest = join(out, "atftp-100m-w16");
    expect((await atftp(["blksize 512", "windowsize 16"], "r100m", dest, 170_000)).code).toBe(0);
    await expectFile(dest, "r100m");
  }, 180_000);
});

describe("busybox tftp", () => {
  const bb = (opts: string[], file: string, dest: string, timeoutMs = 120_000) =>
    run(["busybox", "tftp", ...opts, "-g", "-r", file, "-l", dest, "127.0.0.1", String(server.port)], timeoutMs);
  test("10 MiB with -b 1468", async () => {
    const dest = join(out, "bb-1468");
    expect((await bb(["-b", "1468"], "r10m", dest)).code).toBe(0);
    await expectFile(dest, "r10m");
  }, 60_000);
  test("100 MiB at 512 (rollover)", async () => {
    const dest = join(out, "bb-100m");
    expect((await bb(["-b", "512"], "r100m", dest, 170_000)).code).toBe(0);
    await expectFile(dest, "r100m");
  }, 180_000);
  test("a missing file fails with the server's message", async () => {
    const r = await bb([], "missing", join(out, "bb-missing"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("File not found");
  });
});
