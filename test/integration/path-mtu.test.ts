/**
 * The MTU cap end to end, as root: a veth pair with MTU 1400 into a network namespace this test
 * creates and removes. A client behind it asking blksize 65464 is granted what fits 1400 bytes,
 * and its file arrives intact; on loopback (MTU 65536) the same request still gets 65464.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BINARY, randomFile, run, scratchRoot, sha256, sha256File, startServer, type ServerProcess } from "./harness.ts";
import { describeNeeding } from "../gate.ts";

const isRoot = process.getuid?.() === 0;
const tag = `pxq${process.pid % 100000}`;
const ns = `${tag}ns`;
const hostIf = `${tag}h`;
const nsIf = `${tag}n`;
const subnet = `10.${77 + (process.pid % 50)}.${process.pid % 250}`;
const hostAddr = `${subnet}.1`;
const clientAddr = `${subnet}.2`;

async function sh(...cmd: string[]): Promise<void> {
  const r = await run(cmd, 20_000);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
}

describeNeeding({ present: isRoot, what: "root (it makes a veth pair in network namespaces)" }, "MTU-aware block size (veth pair, MTU 1400)", () => {
  const { root, cleanup } = scratchRoot("path-mtu");
  const file = randomFile(join(root, "kernel"), 300_000, 7);
  let server: ServerProcess;
  let loop: ServerProcess;

  beforeAll(async () => {
    await sh("ip", "netns", "add", ns);
    await sh("ip", "link", "add", hostIf, "mtu", "1400", "type", "veth", "peer", "name", nsIf, "mtu", "1400");
    await sh("ip", "link", "set", nsIf, "netns", ns);
    await sh("ip", "addr", "add", `${hostAddr}/24`, "dev", hostIf);
    await sh("ip", "link", "set", hostIf, "up");
    await sh("ip", "netns", "exec", ns, "ip", "addr", "add", `${clientAddr}/24`, "dev", nsIf);
    await sh("ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up");
    await sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
    server = await startServer(root, ["--verbose", "--log-format", "json"], hostAddr);
    loop = await startServer(root, ["--verbose", "--log-format", "json"]);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await loop?.stop();
    await run(["ip", "link", "del", hostIf]);
    await run(["ip", "netns", "del", ns]);
    cleanup();
  });

  /** The blksize granted in the server's transfer line for `client`'s download. */
  function grantedBlksize(s: ServerProcess, client: string): string | undefined {
    for (const line of s.log().split("\n")) {
      if (!line.startsWith("{")) continue;
      const rec = JSON.parse(line) as Record<string, unknown>;
      // The transfer line: client "ADDR:PORT", options "blksize=N,tsize=…".
      if (typeof rec.client === "string" && rec.client.startsWith(`${client}:`) && typeof rec.options === "string")
        return /(?:^|,)blksize=(\d+)/.exec(rec.options)?.[1];
    }
    return undefined;
  }

  test("a client behind the 1400-byte link asking 65464 gets at most 1372, and the file intact", async () => {
    const out = join(root, "..", `${tag}-kernel.out`);
    const r = await run(["ip", "netns", "exec", ns, BINARY, "get", `tftp://${hostAddr}:${server.port}/kernel`, "--blksize", "65464", "-o", out], 60_000);
    expect(r.code).toBe(0);
    expect(await sha256File(out)).toBe(sha256(file));
    await run(["rm", "-f", out]);
    await server.waitForLog(/"outcome":"ok"/);
    const granted = Number(grantedBlksize(server, clientAddr));
    expect(granted).toBeLessThanOrEqual(1372);
    expect(granted).toBe(1368);
    expect(server.log()).toContain("blksize capped to the path MTU");
  }, 90_000);

  test("loopback (MTU 65536) still grants 65464", async () => {
    const out = join(root, "..", `${tag}-kernel.loop`);
    const r = await run([BINARY, "get", `tftp://127.0.0.1:${loop.port}/kernel`, "--blksize", "65464", "-o", out], 60_000);
    expect(r.code).toBe(0);
    expect(await sha256File(out)).toBe(sha256(file));
    await run(["rm", "-f", out]);
    await loop.waitForLog(/"outcome":"ok"/);
    expect(grantedBlksize(loop, "127.0.0.1")).toBe("65464");
  }, 90_000);
});
