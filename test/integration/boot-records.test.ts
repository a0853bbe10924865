/**
 * Boot records against the real server: hosts (each its own loopback address) fetch a boot's
 * files over TFTP and HTTP, some boots stop on purpose, and `pxeboot host log` must say where each
 * got to — across a restart and with several workers writing the same records.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, pxeboot, randomFile, RawPeer, run, scratchRoot, startServer, type ServerProcess } from "./harness.ts";

const { root, cleanup } = scratchRoot("boot-records");
let server: ServerProcess;
const HTTP_PORT = 20000 + Math.floor(Math.random() * 30000);

beforeAll(async () => {
  randomFile(join(root, "pxelinux.0"), 20_000, 1);
  randomFile(join(root, "ldlinux.c32"), 30_000, 2);
  randomFile(join(root, "vmlinuz"), 200_000, 3);
  randomFile(join(root, "initrd.img"), 100_000, 4);
  mkdirSync(join(root, "pxelinux.cfg"));
  writeFileSync(join(root, "pxelinux.cfg/default"), "DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n INITRD initrd.img\n");
  writeFileSync(join(root, "pxelinux.cfg/default.netboot-test"), "DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n");
  server = await startServer(root, ["--workers", "2", "--timeout", "0.2", "--retries", "2", "--http", String(HTTP_PORT)]);
});
afterAll(async () => {
  await server?.stop();
  cleanup();
});

/** A TFTP fetch from `from` with curl (a real client), ignoring its exit code (misses are part of a boot). */
async function fetch(from: string, file: string): Promise<void> {
  await run(["curl", "-s", "-o", "/dev/null", "--interface", from, `tftp://127.0.0.1:${server.port}/${file}`], 20_000);
}

async function log(host: string): Promise<{ verdict: string; detail?: string; steps: { file: string; outcome: string }[] }[]> {
  return JSON.parse(await pxeboot("host", "log", host, "--root", root, "--json", "--boots", "5"));
}

/** Records are written a moment after the transfer ends (batched off the transfer path). */
async function waitFor(host: string, cond: (boots: Awaited<ReturnType<typeof log>>) => boolean): Promise<Awaited<ReturnType<typeof log>>> {
  let last: Awaited<ReturnType<typeof log>> = [];
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline) {
    last = await log(host);
    if (cond(last)) return last;
    await Bun.sleep(200);
  }
  return last;
}

describe("pxeboot host log", () => {
  test("a pxelinux boot over TFTP: its files in order, booted; then a reboot is a second boot", async () => {
    const host = "127.0.0.81";
    const files = ["pxelinux.0", "ldlinux.c32", "pxelinux.cfg/01-52-54-00-00-00-81", "pxelinux.cfg/default", "vmlinuz", "initrd.img"];
    for (const f of files) await fetch(host, f);
    const boots = await waitFor(host, (b) => b.at(-1)?.verdict === "booted");
    expect(boots.at(-1)!.verdict).toBe("booted");
    expect(boots.at(-1)!.steps.map((s) => s.file)).toEqual(files);
    expect(boots.at(-1)!.steps[2]!.outcome).toBe("error");
    await fetch(host, "pxelinux.0");
    const again = await waitFor(host, (b) => b.length === 2);
    expect(again.length).toBe(2);
    expect(again[1]!.verdict).toBe("in-progress");
    const text = await pxeboot("host", "log", host, "--root", root);
    expect(text).toMatch(/boot 1 .* booted/);
    expect(text).toMatch(/boot 2 .* in-progress/);
  }, 60_000);

  test("a client that stops ACKing mid-kernel: transfer-timeout naming the file and block", async () => {
    const host = "127.0.0.82";
    await fetch(host, "pxelinux.0");
    await fetch(host, "pxelinux.cfg/default");
    const peer = await RawPeer.open(host);
    try {
      peer.send(encodeRequest(Opcode.RRQ, "vmlinuz", "octet"), server.port);
      for (let block = 1; block <= 10; block++) {
        const d = await peer.recv(3000);
        expect(d?.data[1]).toBe(Opcode.DATA);
        peer.send(encodeAck(block), d!.port);
      }
      // Then silence, the socket still open (a hung client, not a vanished one): the server
      // retransmits block 11 and gives up.
      const boots = await waitFor(host, (b) => b.at(-1)?.verdict === "transfer-timeout");
      expect(boots.at(-1)).toMatchObject({ verdict: "transfer-timeout", detail: "file=vmlinuz block=11" });
    } finally {
      peer.close();
    }
    // A client whose socket is gone mid-kernel (ICMP port unreachable ends it at once): the same block named.
    const gone = await RawPeer.open("127.0.0.85");
    try {
      gone.send(encodeRequest(Opcode.RRQ, "vmlinuz", "octet"), server.port);
      for (let block = 1; block <= 5; block++) {
        const d = await gone.recv(3000);
        gone.send(encodeAck(block), d!.port);
      }
    } finally {
      gone.close();
    }
    const cut = await waitFor("127.0.0.85", (b) => b.at(-1)?.verdict === "transfer-failed" || b.at(-1)?.verdict === "transfer-timeout");
    expect(cut.at(-1)!.detail).toStartWith("file=vmlinuz block=6");
  }, 60_000);

  test("a kernel the tree lacks: file-missing over TFTP, http-404 over HTTP, each naming it", async () => {
    await fetch("127.0.0.83", "pxelinux.0");
    await fetch("127.0.0.83", "vmlinuz-9");
    expect((await waitFor("127.0.0.83", (b) => b.at(-1)?.verdict === "file-missing")).at(-1)).toMatchObject({ verdict: "file-missing", detail: "file=vmlinuz-9" });
    await run(["curl", "-s", "-o", "/dev/null", "--interface", "127.0.0.84", `http://127.0.0.1:${HTTP_PORT}/vmlinuz-9`], 20_000);
    expect((await waitFor("127.0.0.84", (b) => b.at(-1)?.verdict === "http-404")).at(-1)).toMatchObject({ verdict: "http-404", detail: "file=vmlinuz-9" });
  }, 60_000);

  test("records survive a restart; host list shows the last verdict", async () => {
    await server.stop();
    server = await startServer(root, ["--workers", "2"]);
    const boots = await log("127.0.0.81");
    expect(boots[0]!.verdict).toBe("booted");
    await pxeboot("host", "add", "127.0.0.83", "test", "--root", root);
    const list = await pxeboot("host", "list", "--root", root);
    expect(list).toMatch(/LAST BOOT/);
    expect(list).toMatch(/127\.0\.0\.83 .*pending +file-missing \d{4}-\d\d-\d\d/);
  }, 60_000);

  test("bad arguments are one-line errors with the fix", async () => {
    for (const [args, says] of [
      [["not-a-host"], "is not a host"],
      [["127.0.0.81", "--boots", "0"], "--boots must be"],
    ] as const) {
      const r = await run([BINARY, "host", "log", ...args, "--root", root]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(says);
    }
    const none = await pxeboot("host", "log", "10.9.9.9", "--root", root);
    expect(none).toContain("no boots recorded for 10.9.9.9");
  });
});
