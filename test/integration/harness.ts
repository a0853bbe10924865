/**
 * Shared plumbing for the integration tests: the compiled binary as a server process on a free
 * loopback port, a raw UDP peer for hand-made packets, and a scratch tftproot with test files.
 */
import type { udp } from "bun";
import { chmodSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";

export const BINARY = resolve(import.meta.dir, "../../dist/pxeboot");

export interface ServerProcess {
  port: number;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the server logged so far (stdout + stderr). */
  log(): string;
  /** Resolves when a log line matching `re` appears (bounded wait). */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<number>;
}

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 40000);
}

/** `prefix` wraps the binary (e.g. `prlimit --nofile=150`) to run it under other limits. */
export async function startServer(root: string, extra: string[] = [], address = "127.0.0.1", prefix: string[] = []): Promise<ServerProcess> {
  // A short drain: stop() must not wait the default 30 s for transfers a test left hanging (a test
  // about draining passes its own --drain-timeout, which comes later and wins).
  return startWith((port) => [...prefix, BINARY, "serve", "--drain-timeout", "1", "--root", root, "--address", address, "--port", String(port), ...extra], address);
}

/** Runs the command line `argv(port)` (for a free port) until it answers on `address`. */
export async function startWith(argv: (port: number) => string[], address = "127.0.0.1"): Promise<ServerProcess> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const port = randomPort();
    const proc = Bun.spawn(argv(port), {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
    let text = "";
    const waiters: (() => void)[] = [];
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        text += dec.decode(chunk, { stream: true });
        for (const w of waiters.splice(0)) w();
      }
    };
    void pump(proc.stdout);
    void pump(proc.stderr);
    const waitForLog = async (re: RegExp, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = text.match(re);
        if (m) return m[0];
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`log never matched ${re}; log:\n${text}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    };
    // Ready when it answers a request (works whatever the log level or format).
    const ready = await untilAnswered(address, port, proc, 10_000);
    if (!ready) {
      proc.kill("SIGKILL");
      await proc.exited;
      if (/already in use/.test(text)) continue;
      throw new Error(`server did not start: ${text}`);
    }
    return {
      port,
      proc,
      log: () => text,
      waitForLog,
      async stop() {
        proc.kill("SIGTERM");
        const code = await Promise.race([proc.exited, Bun.sleep(5000).then(() => -1)]);
        if (code === -1) proc.kill("SIGKILL");
        return code;
      },
    };
  }
  throw new Error("no free port found");
}

async function untilAnswered(address: string, port: number, proc: Bun.Subprocess, timeoutMs: number): Promise<boolean> {
  const peer = await RawPeer.open(address.includes(":") ? "::" : "127.0.0.1");
  try {
    const probe = encodeRequest(Opcode.RRQ, "pxelinux.cfg/readiness-probe", "octet");
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && proc.exitCode === null) {
      peer.send(probe, port, address === "::" ? "::1" : address === "0.0.0.0" ? "127.0.0.1" : address);
      if (await peer.recv(100)) return true;
    }
    return false;
  } finally {
    peer.close();
  }
}

export interface Datagram {
  data: Uint8Array;
  port: number;
  address: string;
}

/** A raw UDP peer: send hand-made packets, await replies with a bounded wait. */
export class RawPeer {
  private queue: Datagram[] = [];
  private waiter?: () => void;
  private constructor(readonly socket: udp.Socket<"uint8array">) {}

  static async open(hostname = "127.0.0.1"): Promise<RawPeer> {
    let peer!: RawPeer;
    const socket = await Bun.udpSocket({
      hostname,
      binaryType: "uint8array",
      socket: {
        data(_s, data, port, address) {
          peer.queue.push({ data: new Uint8Array(data), port, address });
          peer.waiter?.();
        },
        error() {},
      },
    });
    peer = new RawPeer(socket);
    return peer;
  }

  send(data: Uint8Array, port: number, address = "127.0.0.1"): void {
    try {
      this.socket.send(data, port, address);
    } catch {
      // an ICMP error from an earlier send: irrelevant to the test
    }
  }

  async recv(timeoutMs = 3000): Promise<Datagram | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, Math.min(left, 50));
      });
    }
    return this.queue.shift();
  }

  close(): void {
    this.socket.close();
  }
}

export function scratchRoot(prefix: string): { root: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), `pxeboot-${prefix}-`));
  // Started as root, the server runs as an unprivileged user: it must reach the tree, as on a boot host.
  chmodSync(root, 0o755);
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random bytes: fast to make, and the same on every run. */
export function randomFile(path: string, size: number, seed = 1): Uint8Array {
  const buf = new Uint8Array(size);
  const words = new Uint32Array(buf.buffer, 0, Math.floor(size / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < size; i++) buf[i] = i & 0xff;
  writeFileSync(path, buf);
  return buf;
}

export function sha256(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

export async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

/** True when something (a file, a link, even a dangling one) is at `path`. */
export function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Polls a condition for up to `ms` (servers act on their own schedule); false if it never held. */
export async function eventually(cond: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(20);
  }
  return true;
}

/** Runs the binary with `args`; its stdout, or an error with its stderr when it fails. */
export async function pxeboot(...args: string[]): Promise<string> {
  const r = await run([BINARY, ...args], 30_000);
  if (r.code !== 0) throw new Error(`pxeboot ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Runs a command with a hard time limit; returns exit code and output. */
export async function run(cmd: string[], timeoutMs = 120_000, cwd?: string) {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore", cwd, env: { ...process.env, NO_COLOR: "1" } });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}
