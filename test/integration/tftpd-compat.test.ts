/**
 * Switching from tftpd-hpa, against the compiled binary: an in.tftpd command line and a
 * /etc/default/tftpd-hpa file serve as before, remap rules rewrite names, --port-range keeps
 * transfers' sockets in a range, and every mistake is one line and exit 2.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, eventually, pathExists, RawPeer, run, scratchRoot, type ServerProcess, startServer, startWith } from "./harness.ts";
import { ROOT, testNeeding } from "../gate.ts";

const running: ServerProcess[] = [];
const trees: { cleanup(): void }[] = [];
const out = scratchRoot("compat-out");

afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  for (const t of trees.splice(0)) t.cleanup();
});
afterAll(() => out.cleanup());

function tree(name: string, files: Record<string, string> = {}): string {
  const t = scratchRoot(name);
  trees.push(t);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(t.root, path, ".."), { recursive: true, mode: 0o755 });
    writeFileSync(join(t.root, path), text, { mode: 0o644 });
  }
  return t.root;
}

async function started(s: Promise<ServerProcess>): Promise<ServerProcess> {
  const server = await s;
  running.push(server);
  return server;
}

/** tftp-hpa's client: the file's text, or undefined with its complaint. */
async function tftpGet(port: number, file: string): Promise<{ text?: string; output: string }> {
  const dest = join(out.root, `got-${Math.random().toString(36).slice(2)}`);
  const r = await run(["tftp", "127.0.0.1", String(port), "-m", "binary", "-c", "get", file, dest], 30_000);
  const output = r.stdout + r.stderr;
  return { text: pathExists(dest) && !/Error code/.test(output) ? readFileSync(dest, "utf8") : undefined, output };
}

/** Exit code and stderr of a command that must fail at once. */
async function refused(args: string[]) {
  const r = await run([BINARY, ...args], 30_000);
  return { code: r.code, lines: r.stderr.trim().split("\n"), stderr: r.stderr };
}

describe("in.tftpd command lines", () => {
  test("pxeboot in.tftpd -Lvs ROOT -a 127.0.0.1:PORT serves tftp-hpa", async () => {
    const root = tree("intftpd", { "pxelinux.0": "pxelinux here\n" });
    const s = await started(startWith((port) => [BINARY, "in.tftpd", "-Lvs", root, "-a", `127.0.0.1:${port}`, "-u", "nobody", "-B", "1468"]));
    expect((await tftpGet(s.port, "pxelinux.0")).text).toBe("pxelinux here\n");
    expect(s.log()).toContain("blksizeMax=1468");
  });

  test("-c as in.tftpd: an upload over an existing file replaces it (a nightly same-name upload keeps working)", async () => {
    const root = tree("create-replace");
    mkdirSync(join(root, "dumps"), { mode: 0o777 });
    chmodSync(join(root, "dumps"), 0o777);
    const s = await started(startWith((port) => [BINARY, "in.tftpd", "-Lsc", root, "-a", `127.0.0.1:${port}`, "-u", "nobody"]));
    for (const night of ["monday\n", "tuesday\n"]) {
      const src = join(root, "..", `${root.split("/").pop()}-night`);
      writeFileSync(src, night);
      const r = await run(["curl", "-sS", "-T", src, `tftp://127.0.0.1:${s.port}/dumps/host1.dump`]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(readFileSync(join(root, "dumps/host1.dump"), "utf8")).toBe(night);
    }
  });

  test("without -s, clients naming /ROOT/FILE get FILE, as from in.tftpd", async () => {
    const root = tree("nosecure", { "boot/kernel": "k\n" });
    const s = await started(startWith((port) => [BINARY, "in.tftpd", "--listen", `--address=127.0.0.1:${port}`, root]));
    expect((await tftpGet(s.port, `${root}/boot/kernel`)).text).toBe("k\n");
    expect((await tftpGet(s.port, "boot/kernel")).text).toBe("k\n");
  });

  test("--defaults-file reads /etc/default/tftpd-hpa as the init script does", async () => {
    const root = tree("defaults", { "hello.txt": "from the defaults file\n" });
    const map = join(root, "..", `${root.split("/").pop()}.map`);
    writeFileSync(map, "ri ^HELLO\\.TXT$ hello.txt\n");
    trees.push({ cleanup: () => run(["rm", "-f", map]) });
    const s = await started(
      startWith((port) => {
        const file = join(out.root, `tftpd-hpa-${port}`);
        writeFileSync(
          file,
          ["# /etc/default/tftpd-hpa", 'TFTP_USERNAME="nobody"', `TFTP_DIRECTORY="${root}"`, `TFTP_ADDRESS="127.0.0.1:${port}"`, `TFTP_OPTIONS="--secure -v --map-file ${map}"`].join("\n"),
        );
        return [BINARY, "serve", "--defaults-file", file];
      }),
    );
    expect((await tftpGet(s.port, "Hello.Txt")).text).toBe("from the defaults file\n");
    expect(s.log()).toMatch(/user=nobody/);
  });

  test.each([
    [["in.tftpd", "-L", "--bogus"], /pxeboot in.tftpd: unknown option --bogus/],
    [["in.tftpd", "-s", "/srv/tftp"], /add -L to run standalone/],
    [["in.tftpd", "-L", "-T", "5", "/t"], /-T \(microseconds\) needs a whole number from 10000/],
    [["serve", "-a", "tftp.example.com:69"], /not an IP address/],
    [["serve", "--port-range", "7:3"], /--port-range needs LOW:HIGH/],
    [["serve", "-r", "blksize3"], /--refuse: unknown option 'blksize3'/],
    [["serve", "--remap", "rj x y"], /--remap 'rj x y': j \(jump to a label\) is not supported/],
    [["in.tftpd", "-L", "--systemd"], /socket activation/],
  ])("%p exits 2 with one line", async (args, message) => {
    const r = await refused(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.lines.length).toBe(1);
  });

  test("-V prints the version", async () => {
    const r = await run([BINARY, "in.tftpd", "-V"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^pxeboot \d+\.\d+\.\d+/);
  });

  test("-P writes the pid file and removes it on SIGTERM", async () => {
    const root = tree("pidfile", { f: "x" });
    const pid = join(out.root, "pxeboot.pid");
    // --user root: the file lives in a root-owned directory, which only root may remove from.
    const s = await startServer(root, ["-P", pid, "--user", "root", "-q"]);
    expect(readFileSync(pid, "utf8")).toBe(`${s.proc.pid}\n`);
    expect(await s.stop()).toBe(0);
    expect(pathExists(pid)).toBe(false);
  });
});

describe("remap rules through the binary", () => {
  const RULES = [
    "# Windows clients send backslashes",
    "rg \\\\ /",
    "# names on disk are lower case; clients ask in any case",
    "r ^.*$ \\L\\0",
    "# each client its own config",
    "r ^host\\.cfg$ \\i/host.cfg",
    "a \\.secret$ Not\\ for\\ you",
  ].join("\n");

  test("backslashes, case-insensitive names, a per-client prefix, a refusal", async () => {
    const root = tree("remap", { "boot/x86/pxelinux.0": "pxe\n", "127.0.0.1/host.cfg": "for 127.0.0.1\n", "a.secret": "s" });
    const map = join(out.root, "remap.rules");
    writeFileSync(map, RULES);
    const s = await started(startServer(root, ["--map-file", map]));
    expect((await tftpGet(s.port, "Boot\\X86\\PXELINUX.0")).text).toBe("pxe\n");
    expect((await tftpGet(s.port, "HOST.CFG")).text).toBe("for 127.0.0.1\n");
    const denied = await tftpGet(s.port, "a.secret");
    expect(denied.text).toBeUndefined();
    expect(denied.output).toContain("Not for you");
    // The log keeps what the client asked for next to what it got.
    expect(s.log()).toContain("file=boot/x86/pxelinux.0 requested=Boot\\X86\\PXELINUX.0");
    expect(s.log()).toContain("file=127.0.0.1/host.cfg requested=HOST.CFG");
  });

  test("SIGHUP re-reads the map file; a broken one keeps the old rules", async () => {
    const root = tree("hup", { "a.txt": "A\n", "b.txt": "B\n" });
    const map = join(out.root, "hup.rules");
    writeFileSync(map, "r ^x\\.txt$ a.txt\n");
    const s = await started(startServer(root, ["--map-file", map, "--workers", "2"]));
    expect((await tftpGet(s.port, "x.txt")).text).toBe("A\n");
    writeFileSync(map, "r ^x\\.txt$ b.txt\n");
    s.proc.kill("SIGHUP");
    // Every process re-reads on its own: only once each worker said so may any of them be asked.
    await s.waitForLog(/SIGHUP: every worker re-read workers=2\n/);
    // From many source ports, so that each worker gets some (the kernel spreads by the 4-tuple).
    for (let i = 0; i < 6; i++) expect((await tftpGet(s.port, "x.txt")).text).toBe("B\n");
    writeFileSync(map, "rj x y\n");
    s.proc.kill("SIGHUP");
    await s.waitForLog(/remap rules not re-read/);
    expect((await tftpGet(s.port, "x.txt")).text).toBe("B\n");
  });
});

describe("SIGHUP and remap rules named in the config file", () => {
  test("remap lines added, changed, and a map file named later in the TOML all apply at the next SIGHUP", async () => {
    const root = tree("hup-toml", { "a.txt": "A\n", "b.txt": "B\n", "c.txt": "C\n" });
    const config = join(out.root, "hup-remap.toml");
    const map = join(out.root, "hup-later.rules");
    writeFileSync(map, "r ^x\\.txt$ c.txt\n");
    // Started with no remap at all: nothing re-read remap rules before.
    writeFileSync(config, `root = "${root}"\n`);
    const s = await started(startWith((port) => [BINARY, "serve", "--config", config, "--address", "127.0.0.1", "--port", String(port), "--drain-timeout", "1"]));
    expect((await tftpGet(s.port, "x.txt")).text).toBeUndefined();
    const hup = async (text: string, n: number) => {
      writeFileSync(config, `root = "${root}"\n${text}`);
      s.proc.kill("SIGHUP");
      expect(await eventually(() => (s.log().match(/SIGHUP: remap rules re-read/g) ?? []).length >= n)).toBe(true);
    };
    await hup('remap = ["r ^x\\\\.txt$ a.txt"]\n', 1);
    expect((await tftpGet(s.port, "x.txt")).text).toBe("A\n");
    await hup('remap = ["r ^x\\\\.txt$ b.txt"]\n', 2);
    expect((await tftpGet(s.port, "x.txt")).text).toBe("B\n");
    await hup(`map-file = "${map}"\n`, 3);
    expect((await tftpGet(s.port, "x.txt")).text).toBe("C\n");
    await s.stop();
  });
});

describe("--port-range", () => {
  /** A range of two free ports (nothing else binds in 61000-64999 during the tests). */
  const range = () => {
    const low = 61000 + 2 * Math.floor(Math.random() * 1999);
    return { low, high: low + 1 };
  };

  test("two ports, five clients: all five served at once, every datagram from a range port", async () => {
    const root = tree("ports", { f: "x".repeat(1200) }); // 3 blocks of 512
    const r = range();
    const s = await started(startServer(root, ["--port-range", `${r.low}:${r.high}`, "-v"]));
    const peers = await Promise.all(Array.from({ length: 5 }, () => RawPeer.open()));
    try {
      for (const p of peers) p.send(encodeRequest(Opcode.RRQ, "f", "octet"), s.port);
      // The transfers share the range's sockets: nobody waits for another to finish.
      const first = await Promise.all(peers.map((p) => p.recv(3000)));
      expect(first.every((d) => d !== undefined)).toBe(true);
      const finish = async (i: number, firstData: { data: Uint8Array; port: number }) => {
        let d: { data: Uint8Array; port: number } | undefined = firstData;
        for (;;) {
          const pkt = decodePacket(d!.data);
          if (!("op" in pkt) || pkt.op !== Opcode.DATA) throw new Error(`peer ${i}: expected DATA, got ${JSON.stringify(pkt)}`);
          // One transfer, one TID: every datagram of it from the same range port.
          expect(d!.port).toBe(firstData.port);
          expect(d!.port === r.low || d!.port === r.high).toBe(true);
          peers[i]!.send(encodeAck(pkt.block), d!.port);
          if (pkt.data.length < 512) break;
          do d = await peers[i]!.recv(3000);
          while (d && (decodePacket(d.data) as { block?: number }).block === pkt.block); // a retransmission
          if (!d) throw new Error(`peer ${i}: no DATA after block ${pkt.block}`);
        }
      };
      await Promise.all(first.map((d, i) => finish(i, d!)));
      await s.waitForLog(/outcome=ok(.|\n)*outcome=ok(.|\n)*outcome=ok(.|\n)*outcome=ok(.|\n)*outcome=ok/);
      expect(s.log()).not.toMatch(/file=f .*outcome=error/);
    } finally {
      for (const p of peers) p.close();
    }
  }, 30_000);

  test("a range port held by another program: the server takes the free one, every fetch completes", async () => {
    const root = tree("ports-held", { f: "z".repeat(200_000) });
    const r = range();
    const squatter = await Bun.udpSocket({ hostname: "127.0.0.1", port: r.low });
    try {
      const s = await started(startServer(root, ["--port-range", `${r.low}:${r.high}`]));
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => run(["curl", "-sS", "--tftp-blksize", "512", "-o", join(out.root, `h${i}`), "-w", "%{size_download}", `tftp://127.0.0.1:${s.port}/f`], 60_000)),
      );
      expect(results.map((x) => x.stdout)).toEqual(Array(6).fill("200000"));
      expect(s.log()).not.toMatch(/file=f .*outcome=error/);
    } finally {
      squatter.close();
    }
  }, 60_000);

  test("every range port held by others: the start fails with one line saying to widen the range", async () => {
    const root = tree("ports-full", { f: "z" });
    const r = range();
    const squatters = await Promise.all([r.low, r.high].map((port) => Bun.udpSocket({ hostname: "127.0.0.1", port })));
    try {
      const res = await run([BINARY, "serve", root, "--port", "0", "--address", "127.0.0.1", "--port-range", `${r.low}:${r.high}`], 20_000);
      expect(res.code).not.toBe(0);
      expect(res.stderr + res.stdout).toMatch(/every port of --port-range .* is in use .*widen the range/);
    } finally {
      for (const q of squatters) q.close();
    }
  }, 30_000);

  test("three ports, twenty curl clients at once: every fetch completes", async () => {
    const root = tree("ports-curl", { big: "y".repeat(300_000) });
    const r = range();
    const s = await started(startServer(root, ["--port-range", `${r.low}:${r.high + 1}`]));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => run(["curl", "-sS", "--tftp-blksize", "1024", "-o", join(out.root, `c${i}`), "-w", "%{size_download}", `tftp://127.0.0.1:${s.port}/big`], 60_000)),
    );
    expect(results.map((x) => x.stdout)).toEqual(Array(20).fill("300000"));
    expect(await eventually(() => (s.log().match(/outcome=ok/g) ?? []).length >= 20)).toBe(true);
  }, 60_000);
});

describe("pxeboot config", () => {
  test("check: a good file is ok, a bad one is one line naming the file, key and line", async () => {
    const dir = tree("config");
    const good = join(dir, "good.toml");
    writeFileSync(good, `root = "${dir}"\nmax-transfers = 100\nallow = ["10.0.0.0/8"]\n`);
    const ok = await run([BINARY, "config", "check", good]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${good}: ok (3 settings`);

    const bad = join(dir, "bad.toml");
    writeFileSync(bad, "port = 69\n\nmax_transfers = 100\n");
    let r = await refused(["config", "check", bad]);
    expect([r.code, r.lines]).toEqual([2, [`pxeboot: ${bad} line 3: unknown key 'max_transfers' (did you mean max-transfers?)`]]);

    writeFileSync(bad, "port = 69\nqueue-max = -1\n");
    r = await refused(["config", "check", bad]);
    expect([r.code, r.lines]).toEqual([2, [`pxeboot: ${bad} line 2: queue-max must be from 0 to 10000000, got -1`]]);

    writeFileSync(bad, "port = 69\nroot = /tftp\n");
    r = await refused(["config", "check", bad]);
    expect(r.code).toBe(2);
    expect(r.lines.length).toBe(1);
    expect(r.stderr).toContain(`${bad} line 2: TOML syntax error`);

    r = await refused(["config", "check", join(dir, "missing.toml")]);
    expect(r.code).toBe(2);

    // Values that parse but on which serve could not start: said by check, not at boot.
    writeFileSync(bad, `root = "${join(dir, "nonexistent")}"\n`);
    r = await refused(["config", "check", bad]);
    expect([r.code, r.lines]).toEqual([2, [`pxeboot: root ${join(dir, "nonexistent")} (${bad} line 1) is not a directory: create it with pxeboot init ${join(dir, "nonexistent")}, or name another`]]);
    writeFileSync(bad, `root = "${dir}"\naddress = "198.51.100.254"\n`);
    r = await refused(["config", "check", bad]);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toStartWith(`pxeboot: address 198.51.100.254 (${bad} line 2) is not an address of this host`);
  });

  testNeeding(ROOT, "check: what serve reads again after dropping root must be readable by that user (a root-only map file fails every SIGHUP)", async () => {
    const dir = tree("config-drop");
    const map = join(dir, "root-only.rules");
    writeFileSync(map, "r ^a b\n", { mode: 0o600 });
    const file = join(dir, "drop.toml");
    writeFileSync(file, `root = "${dir}"\nuser = "nobody"\nmap-file = "${map}"\n`, { mode: 0o644 });
    const r = await refused(["config", "check", file]);
    expect([r.code, r.lines]).toEqual([
      2,
      [`pxeboot: map-file ${map} (${file} line 3): nobody (uid 65534, gid 65534), whom serve runs as after binding the port, cannot read it (0:0 0600), so every SIGHUP would fail to re-read it; fix: chmod o+r ${map}`],
    ]);
    chmodSync(map, 0o644);
    expect((await run([BINARY, "config", "check", file])).code).toBe(0);
  });

  test("show: file + flags + defaults as TOML; serve --config takes the same file", async () => {
    const root = tree("show", { f: "from the config\n" });
    const file = join(root, "pxeboot.toml");
    writeFileSync(file, `root = "${root}"\naddress = "127.0.0.1"\nmax-transfers = 7\n`);
    const r = await run([BINARY, "config", "show", "--config", file, "--retries", "9", "-B", "1468"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`max-transfers = 7  # ${file} line 3`);
    expect(r.stdout).toContain("retries = 9  # --retries");
    expect(r.stdout).toContain("blksize-max = 1468  # -B");
    expect(r.stdout).toContain("queue-max = 50000");
    const s = await started(startWith((port) => [BINARY, "serve", "--config", file, "--port", String(port)]));
    expect((await tftpGet(s.port, "f")).text).toBe("from the config\n");
    expect(s.log()).toContain("maxTransfers=7");
  });
});
