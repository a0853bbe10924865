/**
 * `serve --http` against hostile or unusual HTTP clients, over raw TCP (node:net) on loopback:
 * pipelined requests, duplicate Host headers, a flood of idle connections under a low open-file
 * limit (`prlimit --nofile=256`, CPU read from /proc/PID/stat), and a second server asking for a
 * port a running one holds. Issue 21, items 3 and 4.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { ROOT, testNeeding } from "../gate.ts";
import { BINARY, RawPeer, randomFile, scratchRoot, sha256, startServer, startWith, type ServerProcess } from "./harness.ts";

let tree: { root: string; cleanup(): void };
const HELLO = "hello over http\n";
const MIB = 1024 * 1024;
let bigSha: string;

beforeAll(() => {
  tree = scratchRoot("http-hostile");
  writeFileSync(join(tree.root, "hello.txt"), HELLO);
  chmodSync(join(tree.root, "hello.txt"), 0o644);
  bigSha = sha256(randomFile(join(tree.root, "big.bin"), 3 * MIB, 5));
  chmodSync(join(tree.root, "big.bin"), 0o644);
});

afterAll(() => tree?.cleanup());

interface Answer {
  status: number;
  headers: string;
  body: Buffer;
}

/** The complete responses in `bytes` (each framed by its Content-Length; a HEAD's none), and whether the last was cut. */
function responses(bytes: Buffer, heads: number[] = []): { answers: Answer[]; cut: boolean } {
  const answers: Answer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf("\r\n\r\n", at);
    if (end < 0) return { answers, cut: true };
    const headers = bytes.toString("latin1", at, end);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0);
    const length = heads.includes(answers.length) ? 0 : Number(/^content-length: *(\d+)/im.exec(headers)?.[1] ?? 0);
    if (end + 4 + length > bytes.length) return { answers, cut: true };
    answers.push({ status, headers, body: bytes.subarray(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return { answers, cut: false };
}

/** Writes `text` in one write and reads until `want` responses came, the server closed, or `ms` passed. */
async function exchange(port: number, text: string, want: number, ms = 10_000): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = false;
    const s = connect({ port, host: "127.0.0.1" });
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ bytes: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(finish, ms);
    s.on("connect", () => s.write(text));
    s.on("data", (d: Buffer) => {
      chunks.push(d);
      if (responses(Buffer.concat(chunks)).answers.length >= want) {
        // Stay a moment: a server that then closes, or sends more, is seen.
        setTimeout(finish, 100);
      }
    });
    s.on("close", () => {
      closed = true;
      finish();
    });
    s.on("error", () => {});
  });
}

describe("serve --http: exact HTTP/1.1", () => {
  let srv: ServerProcess;
  beforeAll(async () => {
    srv = await startWith((port) => [BINARY, "serve", "--drain-timeout", "1", "--root", tree.root, "--address", "127.0.0.1", "--port", String(port), "--http", `127.0.0.1:${port}`, "--workers", "1"]);
  });
  afterAll(async () => {
    await srv?.stop();
  });

  for (const n of [21, 1001]) {
    test(`${n} pipelined GETs in one write are all answered, whole and in order (RFC 9112 §9.3.2)`, async () => {
      const req = (i: number) => `GET /hello.txt?n=${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const { bytes } = await exchange(srv.port, Array.from({ length: n }, (_, i) => req(i)).join(""), n);
      const { answers, cut } = responses(bytes);
      expect(cut).toBe(false);
      expect(answers.length).toBe(n);
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(a.body.toString()).toBe(HELLO);
      }
    });
  }

  test("pipelined GETs of a streamed 3 MiB file, a HEAD and a 404 between them, in order", async () => {
    const text = ["/big.bin", "/nope", "/big.bin"].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join("") + "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const { bytes, closed } = await exchange(srv.port, text, 99, 20_000);
    const { answers, cut } = responses(bytes, [3]);
    expect(cut).toBe(false);
    expect(answers.map((a) => a.status)).toEqual([200, 404, 200, 200, 200]);
    expect(sha256(answers[0]!.body)).toBe(bigSha);
    expect(sha256(answers[2]!.body)).toBe(bigSha);
    expect(/^content-length: 16$/im.test(answers[3]!.headers)).toBe(true);
    expect(answers[3]!.body.length).toBe(0);
    expect(sha256(answers[4]!.body)).toBe(bigSha);
    // The last asked for Connection: close: complete, then closed.
    expect(/^connection: close$/im.test(answers[4]!.headers)).toBe(true);
    expect(closed).toBe(true);
  });

  test("two Host headers are 400 (RFC 9112 §3.2), the connection closed, the request never served", async () => {
    for (const hosts of ["Host: a\r\nHost: b\r\n", "Host: a\r\nhost: a\r\n", ""]) {
      const { bytes, closed } = await exchange(srv.port, `GET /hello.txt HTTP/1.1\r\n${hosts}\r\nGET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n`, 2, 3000);
      const { answers } = responses(bytes);
      expect(answers.map((a) => a.status)).toEqual([400]);
      expect(closed).toBe(true);
    }
    await srv.waitForLog(/transfer failed client=127\.0\.0\.1:\d+ file= mode=http options="status=400".*more than one Host header/);
  });
});

describe("serve --http: a second server on a port one holds", () => {
  test("with workers (SO_REUSEPORT) it is refused at start, exit 1, one line naming the port and the fix", async () => {
    const first = await startWith((port) => [BINARY, "serve", "--drain-timeout", "1", "--root", tree.root, "--address", "127.0.0.1", "--port", String(port), "--http", `127.0.0.1:${port}`, "--workers", "2"]);
    try {
      const httpPort = first.port;
      const second = Bun.spawn([BINARY, "serve", "--root", tree.root, "--address", "127.0.0.1", "--port", String(httpPort + 7), "--http", `127.0.0.1:${httpPort}`, "--workers", "2"], {
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, NO_COLOR: "1" },
      });
      const code = await Promise.race([second.exited, Bun.sleep(8000).then(() => "still running" as const)]);
      if (code === "still running") {
        second.kill("SIGKILL");
        await second.exited;
      }
      const err = await new Response(second.stderr).text();
      expect(code).toBe(1);
      const lines = err.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatch(new RegExp(`port ${httpPort} is already in use.*give --http another port`));
      // The first one still serves its root alone.
      const { bytes } = await exchange(httpPort, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", 1, 3000);
      expect(responses(bytes).answers[0]?.status).toBe(200);
    } finally {
      await first.stop();
    }
  });
});

/** utime + stime of `pid`, in clock ticks (USER_HZ, 100 a second). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Opens `count` connections from `addresses` source addresses (loopback), round-robin; they send nothing. */
async function idleFlood(port: number, count: number, addresses: number): Promise<Socket[]> {
  const socks: Socket[] = [];
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const s = connect({ port, host: "127.0.0.1", localAddress: `127.0.1.${1 + (i % addresses)}` });
      s.on("error", () => {});
      socks.push(s);
      return new Promise<void>((r) => {
        s.on("connect", () => r());
        s.on("close", () => r());
        setTimeout(r, 3000);
      });
    }),
  );
  return socks;
}

describe("serve --http under prlimit --nofile=256: 400 idle connections", () => {
  for (const spread of [1, 100]) {
    test(`from ${spread === 1 ? "one address" : `${spread} addresses`}: no busy loop, HTTP still answers, a TFTP read is served`, async () => {
      const srv = await startServer(tree.root, ["--http", "127.0.0.1:0", "--workers", "1"], "127.0.0.1", ["prlimit", "--nofile=256"]);
      const flood: Socket[] = [];
      try {
        const httpPort = Number(/HTTP served url=http:\/\/127\.0\.0\.1:(\d+)\//.exec(await srv.waitForLog(/HTTP served url=\S+/))?.[1]);
        flood.push(...(await idleFlood(httpPort, 400, spread)));
        await Bun.sleep(500);
        const before = cpuTicks(srv.proc.pid);
        await Bun.sleep(2000);
        const busy = (cpuTicks(srv.proc.pid) - before) / 200; // share of one core over 2 s
        // A newcomer is answered (an idle connection makes room for it).
        const { bytes } = await exchange(httpPort, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1, 5000);
        const http = responses(bytes).answers[0]?.status ?? "no answer";
        // And TFTP still opens files: DATA 1, not ERROR 0 (EMFILE).
        const peer = await RawPeer.open();
        let tftp: string;
        try {
          peer.send(encodeRequest(Opcode.RRQ, "hello.txt", "octet"), srv.port);
          const reply = await peer.recv(5000);
          const op = reply ? (reply.data[0]! << 8) | reply.data[1]! : -1;
          tftp = op === Opcode.DATA ? "DATA" : op === Opcode.ERROR ? `ERROR ${Buffer.from(reply!.data.subarray(4, -1)).toString("latin1")}` : `no answer (${op})`;
        } finally {
          peer.close();
        }
        console.log(`idle flood from ${spread} address(es): server CPU ${(busy * 100).toFixed(0)} % of a core over 2 s, HTTP ${http}, TFTP ${tftp}`);
        expect({ http, tftp }).toEqual({ http: 200, tftp: "DATA" });
        expect(busy).toBeLessThan(0.25);
      } finally {
        for (const s of flood) s.destroy();
        await srv.stop();
      }
    });
  }
});

describe("a TFTP read when HTTP holds the last descriptor", () => {
  // Needs the server to start as root and drop to its own user (whose limit the test then lowers).
  testNeeding(ROOT, "waits for it (no ERROR), and is served once the connection goes", async () => {
    const srv = await startServer(tree.root, ["--http", "127.0.0.1:0", "--workers", "1"]);
    let hold: Socket | undefined;
    const peer = await RawPeer.open();
    try {
      const httpPort = Number(/HTTP served url=http:\/\/127\.0\.0\.1:(\d+)\//.exec(await srv.waitForLog(/HTTP served url=\S+/))?.[1]);
      // Warm up both sides (lazily opened descriptors), then leave exactly one free.
      expect(responses((await exchange(httpPort, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1, 3000)).bytes).answers[0]?.status).toBe(200);
      peer.send(encodeRequest(Opcode.RRQ, "hello.txt", "octet"), srv.port);
      const warm = await peer.recv(3000);
      expect(warm && ((warm.data[0]! << 8) | warm.data[1]!)).toBe(Opcode.DATA);
      peer.send(new Uint8Array([0, Opcode.ACK, 0, 1]), warm!.port);
      await Bun.sleep(300);
      const open = (await import("node:fs")).readdirSync(`/proc/${srv.proc.pid}/fd`).length;
      // As the server's own user (it dropped root): lowering a limit needs no capability then.
      const status = (await import("node:fs")).readFileSync(`/proc/${srv.proc.pid}/status`, "latin1");
      const [uid, gid] = ["Uid", "Gid"].map((k) => new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)![1]!);
      const set = await Bun.spawn(["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "prlimit", `--pid=${srv.proc.pid}`, `--nofile=${open + 1}:${open + 1}`]).exited;
      expect(set).toBe(0);
      hold = connect({ port: httpPort, host: "127.0.0.1" });
      hold.on("error", () => {});
      await new Promise<void>((r) => hold!.on("connect", () => r()));
      await Bun.sleep(200);
      const peer2 = await RawPeer.open();
      try {
        peer2.send(encodeRequest(Opcode.RRQ, "hello.txt", "octet"), srv.port);
        const during = await peer2.recv(1000);
        const op = during ? (during.data[0]! << 8) | during.data[1]! : -1;
        expect(op === Opcode.ERROR ? `ERROR ${Buffer.from(during!.data.subarray(4, -1)).toString("latin1")}` : op).toBe(-1);
        hold.destroy();
        const after = await peer2.recv(3000);
        expect(after && ((after.data[0]! << 8) | after.data[1]!)).toBe(Opcode.DATA);
      } finally {
        peer2.close();
      }
    } finally {
      hold?.destroy();
      peer.close();
      await srv.stop();
    }
  });
});
