/**
 * `pxeboot get` against a server nobody here wrote: in.tftpd from tftpd-hpa, run in the
 * foreground on a loopback high port.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pxebootCommand } from "./pxeboot-command.ts";
import { IN_TFTPD, runPxeboot, startTftpd, type Tftpd } from "./tftpd-hpa.ts";
import { describeNeeding } from "../gate.ts";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const run = (args: string[]) => runPxeboot(pxebootCommand(), args);

let root: string;
let outDir: string;
let server: Tftpd | undefined;
let port = 0;
const file = randomBytes(3 * 1024 * 1024 + 777);

describeNeeding({ present: !!IN_TFTPD, what: "in.tftpd (Debian package tftpd-hpa)" }, "pxeboot get against tftpd-hpa", () => {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "pxeboot-get-root-"));
    outDir = mkdtempSync(join(tmpdir(), "pxeboot-get-out-"));
    writeFileSync(join(root, "blob.bin"), file);
    writeFileSync(join(root, "notes.txt"), "first line\nsecond\r\nbare CR\rend\n");
    server = await startTftpd(root);
    port = server.port;
  });
  afterAll(() => {
    server?.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  for (const blksize of [512, 1468, 65464]) {
    test(`blksize ${blksize}: the download's sha256 matches the source`, async () => {
      const out = join(outDir, `blob-${blksize}`);
      const r = await run(["get", `tftp://127.0.0.1:${port}/blob.bin`, "-o", out, "--blksize", String(blksize)]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(sha256(readFileSync(out))).toBe(sha256(file));
      const summary = new TextDecoder().decode(r.stdout);
      expect(summary).toContain(`${file.length} bytes`);
      expect(summary).toContain(`blksize ${blksize}`);
      expect(summary).toMatch(/MB\/s/);
    }, 60_000);
  }

  test("netascii (from the URI) turns CR LF and CR NUL back into the local text", async () => {
    const r = await run(["get", `tftp://localhost:${port}/notes.txt;mode=netascii`, "-o", "-"]);
    expect(r.code).toBe(0);
    expect(new TextDecoder().decode(r.stdout)).toBe("first line\nsecond\r\nbare CR\rend\n");
    expect(r.stderr).toContain("bytes → stdout");
  }, 30_000);

  test("a missing file: the server's message, exit status 1, no file left behind", async () => {
    const out = join(outDir, "missing");
    const r = await run(["get", `tftp://127.0.0.1:${port}/no/such/file`, "-o", out, "--timeout", "0.5"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("File not found");
    expect(r.stderr).toContain("TFTP error 1");
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(outDir).filter((n) => n.includes("missing"))).toEqual([]);
  }, 30_000);

  test("bad flags are refused with exit status 2", async () => {
    const r = await run(["get", `tftp://127.0.0.1:${port}/blob.bin`, "--blksize", "7"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--blksize");
  });
});
