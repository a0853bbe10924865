/**
 * What a sysadmin gets with no flag, started as root as a daemon on port 69 is: the server runs
 * as an unprivileged user, serves only what everyone may read and never its own state, finds
 * names as the bytes the client sent, and `init` + `serve` still switch hosts after an install.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, eventually, pathExists, pxeboot, RawPeer, run, scratchRoot, type ServerProcess, startServer } from "./harness.ts";
import { describeNeeding, ROOT, testNeeding } from "../gate.ts";

const asRoot = process.getuid?.() === 0;
const running: ServerProcess[] = [];
const trees: { cleanup(): void }[] = [];
const out = scratchRoot("defaults-out");

afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  for (const t of trees.splice(0)) t.cleanup();
});
afterAll(() => out.cleanup());

async function serve(root: string, extra: string[] = []) {
  const s = await startServer(root, extra);
  running.push(s);
  return s;
}

function tree(name: string) {
  const t = scratchRoot(name);
  trees.push(t);
  return t.root;
}


/** curl's exit code for a fetch; 0 is a complete file. */
async function curl(port: number, path: string): Promise<number> {
  return (await run(["curl", "-s", `tftp://127.0.0.1:${port}/${path}`, "-o", join(out.root, "got")], 30_000)).code;
}


/** The ERROR code the server answers an RRQ for `file` with, or "data". */
async function answerTo(port: number, file: Uint8Array | string, source = "127.0.0.1"): Promise<number | "data" | "none"> {
  const peer = await RawPeer.open(source);
  try {
    const name = typeof file === "string" ? file : Buffer.from(file).toString("latin1");
    peer.send(encodeRequest(Opcode.RRQ, name, "octet"), port);
    const d = await peer.recv(1500);
    if (!d) return "none";
    const p = decodePacket(d.data);
    if (p.op === Opcode.DATA) {
      peer.send(encodeAck(p.block), d.port);
      return "data";
    }
    return p.op === Opcode.ERROR ? p.code : "none";
  } finally {
    peer.close();
  }
}

describeNeeding(ROOT, "started as root with no flag", () => {
  test("init then serve: runs as the default user, and install-once switches the host", async () => {
    const root = tree("defaults-init");
    const init = await pxeboot("init", root, "--profile", "7.2");
    // The tree stays root's: the user serving clients may not change what hosts boot.
    expect(init).not.toMatch(/gave\s+pxelinux\.cfg/);
    expect(statSync(join(root, "pxelinux.cfg")).uid).toBe(0);
    await pxeboot("host", "add", "127.0.0.61", "7.2", "--root", root);
    const s = await serve(root);
    await s.waitForLog(/dropped privileges user=(tftp|nobody)/);
    await s.waitForLog(/boot control: hosts are switched by a separate process.* uid=0 /);
    expect(s.log()).not.toMatch(/\[(warn|error)\]/);
    const peer = await RawPeer.open("127.0.0.61");
    try {
      peer.send(encodeRequest(Opcode.RRQ, "Kickstart_end", "octet"), s.port);
      for (let i = 0; i < 10; i++) {
        const d = await peer.recv(3000);
        const p = d && decodePacket(d.data);
        if (!p || p.op !== Opcode.DATA) break;
        peer.send(encodeAck(p.block), d.port);
        if (p.data.length < 512) break;
      }
    } finally {
      peer.close();
    }
    expect(await eventually(() => !pathExists(join(root, "pxelinux.cfg/7F00003D")))).toBe(true);
  });

  test("a tree whose boot control belongs to the user serving clients (init of an older version): serves, and warns with the fix", async () => {
    const root = tree("defaults-old-init");
    await pxeboot("init", root, "--owner", "nobody");
    const s = await serve(root, ["--user", "nobody"]);
    await s.waitForLog(/\[warn\].*pxelinux\.cfg\/ belongs to nobody, the user serving clients.*fix: chown -R root: /);
    expect(await curl(s.port, "pxelinux.cfg/default")).toBe(0);
  });

  test("--workers 2 with the drop: every worker binds before dropping, and serves", async () => {
    const root = tree("defaults-workers");
    writeFileSync(join(root, "f"), "x".repeat(2000));
    const s = await serve(root, ["--workers", "2"]);
    await s.waitForLog(/dropped privileges/);
    // Many source ports: the kernel spreads them over both workers.
    for (let i = 0; i < 16; i++) expect(await curl(s.port, "f")).toBe(0);
    expect(s.log()).not.toMatch(/worker exited|already in use/);
  });

  test("--user root stays root and says so", async () => {
    const root = tree("defaults-root");
    const s = await serve(root, ["--user", "root"]);
    await s.waitForLog(/\[warn\] .*running as root/);
    expect(s.log()).not.toContain("dropped privileges");
  });
});

describe("what is served", () => {
  test("only files readable by everyone, unless --permissive; never the state directory", async () => {
    const root = tree("defaults-modes");
    writeFileSync(join(root, "public"), "ok\n");
    writeFileSync(join(root, "private"), "secret\n");
    chmodSync(join(root, "private"), 0o600);
    mkdirSync(join(root, ".pxeboot/installed"), { recursive: true });
    writeFileSync(join(root, ".pxeboot/installed/7F000001"), "{}\n");
    const s = await serve(root);
    expect(await answerTo(s.port, "public")).toBe("data");
    expect(await answerTo(s.port, "private")).toBe(2);
    expect(await answerTo(s.port, ".pxeboot/installed/7F000001")).toBe(2);
    await s.waitForLog(/transfer failed .*file=private .*not readable by everyone/);
    await s.waitForLog(/transfer failed .*state directory is not served/);
    const p = await serve(root, ["--permissive", ...(asRoot ? ["--user", "root"] : [])]);
    expect(await answerTo(p.port, "private")).toBe("data");
    expect(await answerTo(p.port, ".pxeboot/installed/7F000001")).toBe(2);
  });

  // As any other user the server's user owns the files it made: only root can hand them to another.
  testNeeding(ROOT, "--permissive and a file the serving user cannot read: ERROR 2 and the reason in the log", async () => {
    const root = tree("defaults-permissive-unreadable");
    writeFileSync(join(root, "root-only"), "secret\n");
    chmodSync(join(root, "root-only"), 0o600);
    const p = await serve(root, ["--permissive", "--user", "nobody"]);
    expect(await answerTo(p.port, "root-only")).toBe(2);
    await p.waitForLog(/transfer failed .*file=root-only .*code=2 .*mode 600, owner uid 0\) is not readable by the server's user \(uid 65534\)/);
  });

  testNeeding(ROOT, "a root the serving user cannot read is said at start, in one line", async () => {
    const root = tree("defaults-root-0700");
    writeFileSync(join(root, "f"), "x\n");
    chmodSync(root, 0o700);
    const p = await serve(root, ["--user", "nobody"]);
    await p.waitForLog(/\[error\] .*\(mode 700, owner uid 0\) cannot be read by nobody, the user serving clients.*chmod o\+rx/);
    expect(await answerTo(p.port, "f")).toBe(2);
  });

  test("names with bytes ≥ 0x80 are found as sent: UTF-8 through curl, Latin-1 raw", async () => {
    const root = tree("defaults-bytes");
    writeFileSync(join(root, "grüße.cfg"), "utf8\n");
    writeFileSync(Buffer.from(join(root, "l\xe4tin.cfg"), "latin1"), "latin1\n");
    const s = await serve(root);
    expect(await curl(s.port, encodeURIComponent("grüße.cfg"))).toBe(0);
    expect(await answerTo(s.port, Buffer.from("grüße.cfg", "utf8"))).toBe("data");
    expect(await answerTo(s.port, Buffer.from("l\xe4tin.cfg", "latin1"))).toBe("data");
    expect(await answerTo(s.port, Buffer.from("l\xe4tin.cfg", "utf8"))).toBe(1);
    await s.waitForLog(/transfer ok .*file=grüße\.cfg/);
  });

  test("--allow/--deny: a shut-out address gets no answer at all; others are served", async () => {
    const root = tree("defaults-allow");
    writeFileSync(join(root, "f"), "x\n");
    const s = await serve(root, ["--allow", "127.0.0.0/8", "--deny", "127.0.0.66", "--deny=127.0.0.67/32"]);
    expect(await answerTo(s.port, "f", "127.0.0.65")).toBe("data");
    expect(await answerTo(s.port, "f", "127.0.0.66")).toBe("none");
    expect(await answerTo(s.port, "f", "127.0.0.67")).toBe("none");
    await s.waitForLog(/\[info\] .*requests from denied addresses not answered .*lastClient=127\.0\.0\.67/, 5000);
    expect(s.log()).toMatch(/\[info\] .*requests from denied addresses not answered .*lastClient=127\.0\.0\.66/);
    const bad = await run([BINARY, "serve", root, "--port", "0", "--allow", "10.0.0.0/33"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("pxeboot: --allow '10.0.0.0/33': the prefix length must be 0 to 32");
  });
});
