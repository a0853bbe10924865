/**
 * A daemon's life under systemd: SIGHUP never disturbs a transfer; SIGTERM frees the port at once
 * (a new instance answers while the old one drains), lets running transfers finish within
 * --drain-timeout, exits 0 with a summary; a second signal cuts at once.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, eventually, RawPeer, randomFile, run, scratchRoot, sha256, startServer } from "./harness.ts";

const { root, cleanup } = scratchRoot("lifecycle");
const file = randomFile(join(root, "big"), 600 * 1024 + 7, 31);
afterAll(cleanup);

/** A lockstep client that reads `big` slowly; `onBlock` runs after each block (to send signals mid-way). */
async function slowFetch(port: number, onBlock: (block: number) => void, pauseMs = 1): Promise<{ bytes: number; intact: boolean; error?: string }> {
  const peer = await RawPeer.open();
  try {
    peer.send(encodeRequest(Opcode.RRQ, "big", "octet"), port);
    const got = new Uint8Array(file.length);
    let pos = 0;
    let last = 0;
    for (let i = 0; i < 5000; i++) {
      const d = await peer.recv(3000);
      if (!d) return { bytes: pos, intact: false, error: "silence" };
      const p = decodePacket(d.data);
      if (p.op === Opcode.ERROR) return { bytes: pos, intact: false, error: p.message };
      if (p.op !== Opcode.DATA) continue;
      if (p.block === ((last + 1) & 0xffff)) {
        got.set(p.data, pos);
        pos += p.data.length;
        last = p.block;
        onBlock(last);
      }
      if (pauseMs) await Bun.sleep(pauseMs);
      peer.send(encodeAck(last), d.port);
      if (p.data.length < 512) return { bytes: pos, intact: pos === file.length && sha256(got) === sha256(file) };
    }
    return { bytes: pos, intact: false, error: "too long" };
  } finally {
    peer.close();
  }
}

describe("signals", () => {
  test("SIGHUP: logged, never fatal, a running transfer goes on", async () => {
    const s = await startServer(root);
    const r = await slowFetch(s.port, (b) => b === 50 && s.proc.kill("SIGHUP"));
    expect(r.intact).toBe(true);
    await s.waitForLog(/SIGHUP/);
    expect(s.proc.exitCode).toBeNull();
    expect(await s.stop()).toBe(0);
  });

  test("SIGTERM: the port is free at once for a new instance; the running transfer finishes; exit 0 with a summary", async () => {
    const old = await startServer(root, ["--drain-timeout", "30"]);
    let signalled = false;
    // ~15 s of transfer after the signal: time for a new instance to start (its workers too)
    // and answer meanwhile, even on a loaded machine.
    const fetch = slowFetch(
      old.port,
      (b) => {
        if (b === 50 && !signalled) {
          signalled = true;
          old.proc.kill("SIGTERM");
        }
      },
      12,
    );
    await eventually(() => signalled, 10_000);
    await old.waitForLog(/stopping: requests no longer taken/);
    // Same port, while the old one still drains: the new instance binds and answers.
    const proc = Bun.spawn([BINARY, "serve", root, "--address", "127.0.0.1", "--port", String(old.port)], { stdout: "pipe", stderr: "pipe" });
    try {
      // Ready once it logs that it serves (a bind failure would end it instead).
      const reader = proc.stdout.getReader();
      let text = "";
      while (!/serving/.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the new instance did not start: ${text}${await new Response(proc.stderr).text()}`);
        text += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const probe = await run(["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", `tftp://127.0.0.1:${old.port}/big`], 30_000);
      expect(probe.stdout).toBe(String(file.length));
      expect(old.proc.exitCode).toBeNull(); // still draining
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
    const r = await fetch;
    expect(r.intact).toBe(true);
    expect(await old.proc.exited).toBe(0);
    expect(old.log()).toMatch(/stopped finished=1 cut=0/);
  }, 60_000);

  test("a transfer still running at the drain timeout is cut with an ERROR; exit 0", async () => {
    const s = await startServer(root, ["--drain-timeout", "1"]);
    let signalled = false;
    const r = await slowFetch(
      s.port,
      (b) => {
        if (b === 20 && !signalled) {
          signalled = true;
          s.proc.kill("SIGTERM");
        }
      },
      5, // ~3 s to finish: longer than the drain
    );
    expect(r.intact).toBe(false);
    expect(r.error).toBe("Server shutting down");
    expect(await s.proc.exited).toBe(0);
    expect(s.log()).toMatch(/stopped finished=0 cut=1/);
  }, 30_000);

  test("a second signal cuts at once", async () => {
    const s = await startServer(root, ["--drain-timeout", "60"]);
    let n = 0;
    const r = await slowFetch(
      s.port,
      (b) => {
        if (b === 20 || b === 40) {
          n++;
          s.proc.kill("SIGTERM");
        }
      },
      5,
    );
    expect(n).toBe(2);
    expect(r.error).toBe("Server shutting down");
    expect(await s.proc.exited).toBe(0);
    expect(s.log()).toMatch(/second signal: cutting running transfers now/);
  }, 30_000);
});

describe("SIGHUP re-reads the configuration", () => {
  test("a changed --config applies to new requests; a broken one keeps the old; a restart-only key is named", async () => {
    const { writeFileSync } = await import("node:fs");
    const config = join(root, "..", `${root.split("/").pop()}-pxeboot.toml`);
    writeFileSync(config, 'deny = ["127.0.0.55"]\n');
    const s = await startServer(root, ["--config", config]);
    try {
      const ask = async (source: string) => {
        const p = await RawPeer.open(source);
        try {
          p.send(encodeRequest(Opcode.RRQ, "big", "octet"), s.port);
          return (await p.recv(1000)) !== undefined;
        } finally {
          p.close();
        }
      };
      expect(await ask("127.0.0.55")).toBe(false);
      writeFileSync(config, 'deny = ["127.0.0.56"]\n');
      s.proc.kill("SIGHUP");
      await s.waitForLog(/SIGHUP: configuration re-read changed=deny/);
      // Every worker re-reads it too, but the primary's line speaks for all of them.
      await Bun.sleep(300);
      expect(s.log().match(/\[info\].*SIGHUP: configuration re-read/g)).toHaveLength(1);
      expect(await ask("127.0.0.55")).toBe(true);
      expect(await ask("127.0.0.56")).toBe(false);
      // A typo: logged, and the running configuration stays.
      writeFileSync(config, 'deny = ["127.0.0.300"]\n');
      s.proc.kill("SIGHUP");
      await s.waitForLog(/SIGHUP: configuration not re-read, the old one stays/);
      expect(await ask("127.0.0.56")).toBe(false);
      // The cache size is built into the running server: named, not applied.
      // So are the process's own settings (here the install marker): named, not passed over.
      writeFileSync(config, 'deny = ["127.0.0.56"]\ncache-mb = 8\ninstall-marker = "Install_done"\n');
      s.proc.kill("SIGHUP");
      await s.waitForLog(/\[warn\] .*SIGHUP: these settings change only with a restart .*keys=cache-mb,install-marker/);
      expect(s.proc.exitCode).toBeNull();
    } finally {
      await s.stop();
    }
  }, 30_000);
});
