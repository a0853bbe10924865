/**
 * The install marker with every TFTP client people put in an installer's %post, against the
 * compiled binary: each one must complete the fetch (and so switch the host to local boot), for
 * the marker `init` writes and for an empty marker an admin made with `touch` (curl 7.88 rejects
 * an OACK with "tsize 0", which used to leave the host reinstalling forever).
 *
 * These clients cannot pick a source address, so the host is 127.0.0.1 (7F000001) and is
 * registered again before each fetch.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { markerFetchCommand } from "../../src/layout/templates.ts";
import { BINARY, eventually, pathExists, pxeboot, run, scratchRoot, type ServerProcess, startServer } from "./harness.ts";

const tree = scratchRoot("marker-clients");
const out = join(tree.root, "..", `${tree.root.split("/").pop()}-out`);
let server: ServerProcess;

const HOST_ENTRY = "pxelinux.cfg/7F000001";
const exists = (rel: string) => pathExists(join(tree.root, rel));



type Client = { name: string; argv: (file: string, dest: string) => string[] };
const CLIENTS: Client[] = [
  // Exactly what the product's files used to recommend: tsize and blksize asked.
  { name: "curl", argv: (f, d) => ["curl", "-s", `tftp://127.0.0.1:${server.port}/${f}`, "-o", d] },
  { name: "tftp-hpa", argv: (f, d) => ["tftp", "-m", "binary", "127.0.0.1", String(server.port), "-c", "get", f, d] },
  { name: "atftp", argv: (f, d) => ["atftp", "-g", "-r", f, "-l", d, "127.0.0.1", String(server.port)] },
  { name: "atftp with tsize", argv: (f, d) => ["atftp", "--option", "tsize 0", "-g", "-r", f, "-l", d, "127.0.0.1", String(server.port)] },
  { name: "busybox", argv: (f, d) => ["busybox", "tftp", "-g", "-r", f, "-l", d, "127.0.0.1", String(server.port)] },
  { name: "busybox with blksize", argv: (f, d) => ["busybox", "tftp", "-b", "1468", "-g", "-r", f, "-l", d, "127.0.0.1", String(server.port)] },
  { name: "pxeboot get", argv: (f, d) => [BINARY, "get", `tftp://127.0.0.1:${server.port}/${f}`, "-o", d] },
];

const installLines = () => server.log().split("\n").filter((l) => l.includes("installed: netboot entries removed"));

beforeAll(async () => {
  mkdirSync(out, { recursive: true });
  await pxeboot("init", tree.root, "--profile", "7.2");
  writeFileSync(join(tree.root, "Empty_end"), "");
  server = await startServer(tree.root, ["--install-marker", "Kickstart_end"]);
});

afterAll(async () => {
  await server?.stop();
  tree.cleanup();
  await run(["rm", "-rf", out]);
});

describe("every client completes the install marker", () => {
  for (const c of CLIENTS) {
    test(`${c.name}: the marker init wrote switches the host to local boot`, async () => {
      await pxeboot("host", "add", "127.0.0.1", "7.2", "--root", tree.root);
      expect(exists(HOST_ENTRY)).toBe(true);
      const before = installLines().length;
      const r = await run(c.argv("Kickstart_end", join(out, `${c.name}.marker`)), 30_000);
      expect(r.code).toBe(0);
      expect(await eventually(() => !exists(HOST_ENTRY))).toBe(true);
      // The log line may reach us a moment after the link is gone.
      expect(await eventually(() => installLines().length === before + 1)).toBe(true);
    });
  }

  for (const c of CLIENTS) {
    test(`${c.name}: an empty file completes (no OACK: an empty DATA 1)`, async () => {
      const dest = join(out, `${c.name}.empty`);
      const completed = () => server.log().split("\n").filter((l) => /transfer ok .*file=Empty_end .*outcome=ok/.test(l)).length;
      const before = completed();
      const r = await run(c.argv("Empty_end", dest), 30_000);
      expect(r.code).toBe(0);
      expect(Bun.file(dest).size).toBe(0);
      expect(await eventually(() => completed() === before + 1)).toBe(true);
    });
  }

  test("an empty marker works too: the admin may have made it with touch", async () => {
    const s = await startServer(tree.root, ["--install-marker", "Empty_end"]);
    try {
      await pxeboot("host", "add", "127.0.0.1", "7.2", "--root", tree.root);
      const r = await run(["curl", "-s", `tftp://127.0.0.1:${s.port}/Empty_end`, "-o", "/dev/null"], 30_000);
      expect(r.code).toBe(0);
      expect(await eventually(() => !exists(HOST_ENTRY))).toBe(true);
    } finally {
      await s.stop();
    }
  });
});

describe("the %post line the generated README gives", () => {
  // Each variant has one client on PATH: an installer image with curl, with busybox only, with tftp-hpa only.
  for (const tool of ["curl", "busybox", "tftp"]) {
    test(`works with only ${tool} in the installer`, async () => {
      const bin = join(out, `path-${tool}`);
      mkdirSync(bin, { recursive: true });
      const found = (await run(["sh", "-c", `command -v ${tool}`])).stdout.trim();
      expect(found).not.toBe("");
      try {
        symlinkSync(found, join(bin, tool));
      } catch {
        // made by an earlier run of this test
      }
      chmodSync(bin, 0o755);
      await pxeboot("host", "add", "127.0.0.1", "7.2", "--root", tree.root);
      const line = markerFetchCommand("127.0.0.1", "Kickstart_end", server.port);
      const proc = Bun.spawn(["/bin/sh", "-c", line], { env: { PATH: bin }, stdout: "pipe", stderr: "pipe" });
      const code = await Promise.race([proc.exited, Bun.sleep(30_000).then(() => -1)]);
      expect(code).toBe(0);
      expect(await eventually(() => !exists(HOST_ENTRY))).toBe(true);
    });
  }
});
