/**
 * Uploads (WRQ) against the compiled server: off without --create, and with it, the four clients
 * nobody here wrote (tftp-hpa, curl, atftp, busybox) each checked by sha256; --writable,
 * --overwrite and --upload-max-mb; an aborted or abandoned upload leaving nothing; netascii; and
 * a reader that never sees half a file. Started as root, as in CI, the server runs as its
 * default user: upload directories are given to that user, as an admin would.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serviceIdentity } from "../../src/daemon/privileges.ts";
import { isTempName } from "../../src/files/temp-name.ts";
import { decodePacket, encodeData, encodeError, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, eventually, pathExists, pxeboot, randomFile, RawPeer, run, scratchRoot, sha256, sha256File, startServer, type ServerProcess } from "./harness.ts";
import { describeNeeding, ROOT } from "../gate.ts";

const MiB = 1024 * 1024;
/** Who the server runs as: uploaded files belong to it, and upload directories must be its to write. */
const serverUser = serviceIdentity(undefined, undefined, process.getuid?.() ?? -1).drop;

const running: ServerProcess[] = [];
const trees: { cleanup(): void }[] = [];
const local = scratchRoot("uploads-local");
const sums: Record<string, string> = {};

beforeAll(() => {
  sums["3m"] = sha256(randomFile(join(local.root, "3m"), 3 * MiB + 17, 31));
  sums["600k"] = sha256(randomFile(join(local.root, "600k"), 600_001, 32));
  sums["4m"] = sha256(randomFile(join(local.root, "4m"), 4 * MiB, 33));
  sums["old"] = sha256(randomFile(join(local.root, "old"), 1 * MiB + 5, 34));
});
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  for (const t of trees.splice(0)) t.cleanup();
});
afterAll(() => local.cleanup());

/** A tftproot with `in/` writable by the server's user; removed after the test unless `keep`. */
function tree(name: string, keep = false): { root: string; cleanup(): void } {
  const t = scratchRoot(name);
  if (!keep) trees.push(t);
  mkdirSync(join(t.root, "in"));
  if (serverUser) chownSync(join(t.root, "in"), serverUser.uid, serverUser.gid);
  return t;
}

async function serve(root: string, extra: string[]): Promise<ServerProcess> {
  const s = await startServer(root, extra);
  running.push(s);
  return s;
}

const src = (name: string) => join(local.root, name);
const leftovers = (dir: string) => readdirSync(dir).filter(isTempName);

/** tftp-hpa exits 0 whatever happened: its output says. */
async function hpaPut(port: number, file: string, remote: string, mode = "binary"): Promise<string> {
  const r = await run(["tftp", "-m", mode, "127.0.0.1", String(port), "-c", "put", file, remote], 60_000);
  return r.stdout + r.stderr;
}

async function expectUploaded(root: string, rel: string, sum: string): Promise<void> {
  expect(await sha256File(join(root, rel))).toBe(sum);
  const st = statSync(join(root, rel));
  expect(st.mode & 0o777).toBe(0o644);
  if (serverUser) expect(st.uid).toBe(serverUser.uid);
}

describe("off by default", () => {
  test("without --create every WRQ gets ERROR 2 and nothing is written", async () => {
    const root = tree("uploads-off").root;
    const s = await serve(root, []);
    expect(await hpaPut(s.port, src("3m"), "in/x")).toContain("Error code 2: Write requests are not accepted by this server");
    expect(readdirSync(join(root, "in"))).toEqual([]);
    await s.waitForLog(/upload failed .*file=in\/x .*code=2/);
  });

  test("the upload flags without --create are a usage error (exit 2)", async () => {
    const r = await run([BINARY, "serve", "/nonexistent", "--overwrite"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("add --create");
  });
});

describe("with --create --writable in", () => {
  const shared = tree("uploads-clients", true);
  const root = shared.root;
  let s: ServerProcess;
  beforeAll(async () => {
    s = await startServer(root, ["--create", "--writable", "in"]);
  });
  afterAll(async () => {
    await s.stop();
    shared.cleanup();
  });

  test("tftp-hpa put", async () => {
    expect(await hpaPut(s.port, src("3m"), "in/hpa.bin")).toBe("");
    await expectUploaded(root, "in/hpa.bin", sums["3m"]!);
    await s.waitForLog(/upload ok .*file=in\/hpa\.bin .*bytes=3145745/);
  }, 60_000);

  test("curl -T (tsize and blksize announced)", async () => {
    const r = await run(["curl", "-sS", "--tftp-blksize", "1468", "-T", src("3m"), `tftp://127.0.0.1:${s.port}/in/curl.bin`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    await expectUploaded(root, "in/curl.bin", sums["3m"]!);
    await s.waitForLog(/upload ok .*file=in\/curl\.bin .*options="tsize=3145745,blksize=1468/);
  }, 60_000);

  test("atftp --put, windowed (RFC 7440)", async () => {
    const r = await run(["atftp", "--option", "windowsize 8", "--option", "blksize 1428", "--option", "tsize 0", "--put", "-l", src("3m"), "-r", "in/atftp.bin", "127.0.0.1", String(s.port)]);
    expect(r.code).toBe(0);
    await expectUploaded(root, "in/atftp.bin", sums["3m"]!);
    await s.waitForLog(/upload ok .*file=in\/atftp\.bin .*windowsize=8/);
  }, 60_000);

  test("busybox tftp -p", async () => {
    const r = await run(["busybox", "tftp", "-b", "1468", "-p", "-l", src("3m"), "-r", "in/bb.bin", "127.0.0.1", String(s.port)]);
    expect(r.code).toBe(0);
    await expectUploaded(root, "in/bb.bin", sums["3m"]!);
  }, 60_000);

  test("block numbers roll over (atftp, blksize 8: 75,000 blocks)", async () => {
    const r = await run(["atftp", "--option", "blksize 8", "--put", "-l", src("600k"), "-r", "in/rollover.bin", "127.0.0.1", String(s.port)]);
    expect(r.code).toBe(0);
    await expectUploaded(root, "in/rollover.bin", sums["600k"]!);
  }, 90_000);

  test("outside --writable: ERROR 2; an existing file without --overwrite: ERROR 6, left as it was", async () => {
    expect(await hpaPut(s.port, src("3m"), "top.bin")).toContain("Error code 2");
    expect(pathExists(join(root, "top.bin"))).toBe(false);
    writeFileSync(join(root, "in/keep.cfg"), "mine\n");
    expect(await hpaPut(s.port, src("3m"), "in/keep.cfg")).toContain("Error code 6: File already exists");
    expect(readFileSync(join(root, "in/keep.cfg"), "utf8")).toBe("mine\n");
    await s.waitForLog(/upload failed .*file=in\/keep\.cfg .*code=6/);
  });

  test("netascii: CR LF on the wire is LF on disk (tftp-hpa converts, a raw client sends it as is)", async () => {
    const text = "DEFAULT local\nLABEL local\n  LOCALBOOT 0\n";
    writeFileSync(src("text.cfg"), text);
    expect(await hpaPut(s.port, src("text.cfg"), "in/text.cfg", "netascii")).toBe("");
    expect(readFileSync(join(root, "in/text.cfg"), "utf8")).toBe(text);

    const peer = await RawPeer.open();
    try {
      peer.send(encodeRequest(Opcode.WRQ, "in/raw.txt", "netascii"), s.port);
      const ack0 = (await peer.recv())!;
      expect(decodePacket(ack0.data)).toEqual({ op: Opcode.ACK, block: 0 });
      peer.send(encodeData(1, new TextEncoder().encode("a\r\nb\r\0c\r\n")), ack0.port);
      expect(decodePacket((await peer.recv())!.data)).toEqual({ op: Opcode.ACK, block: 1 });
    } finally {
      peer.close();
    }
    expect(await eventually(() => pathExists(join(root, "in/raw.txt")))).toBe(true);
    expect(readFileSync(join(root, "in/raw.txt"), "utf8")).toBe("a\nb\rc\n");
  });

  test("an upload aborted by the client (ERROR mid-way) leaves no file and no temporary file", async () => {
    const peer = await RawPeer.open();
    try {
      peer.send(encodeRequest(Opcode.WRQ, "in/aborted.bin", "octet"), s.port);
      const ack0 = (await peer.recv())!;
      for (let b = 1; b <= 3; b++) {
        peer.send(encodeData(b, new Uint8Array(512).fill(b)), ack0.port);
        expect(decodePacket((await peer.recv())!.data)).toEqual({ op: Opcode.ACK, block: b });
      }
      expect(leftovers(join(root, "in"))).toHaveLength(1); // the temporary file, while it runs
      peer.send(encodeError(0, "user abort"), ack0.port);
    } finally {
      peer.close();
    }
    await s.waitForLog(/upload failed .*file=in\/aborted\.bin .*bytes=1536 .*user abort/);
    expect(await eventually(() => leftovers(join(root, "in")).length === 0)).toBe(true);
    expect(pathExists(join(root, "in/aborted.bin"))).toBe(false);
  });

  test("a client that lost the final ACK and sends its last DATA again gets the ACK again", async () => {
    const peer = await RawPeer.open();
    try {
      peer.send(encodeRequest(Opcode.WRQ, "in/dally.bin", "octet"), s.port);
      const ack0 = (await peer.recv())!;
      peer.send(encodeData(1, Uint8Array.of(1, 2, 3)), ack0.port);
      expect(decodePacket((await peer.recv())!.data)).toEqual({ op: Opcode.ACK, block: 1 });
      peer.send(encodeData(1, Uint8Array.of(1, 2, 3)), ack0.port);
      expect(decodePacket((await peer.recv())!.data)).toEqual({ op: Opcode.ACK, block: 1 });
    } finally {
      peer.close();
    }
    expect(readFileSync(join(root, "in/dally.bin"))).toEqual(Buffer.from([1, 2, 3]));
  });

  test("uploads never reach the state directory, nor leave the root", async () => {
    expect(await hpaPut(s.port, src("3m"), ".pxeboot/x")).toContain("Error code 2");
    expect(await hpaPut(s.port, src("3m"), "../x")).toContain("Error code 2");
  });
});

describe("timeouts", () => {
  test("a client that goes silent: the upload times out, and leaves nothing", async () => {
    const root = tree("uploads-silent").root;
    const s = await serve(root, ["--create", "--timeout", "1", "--retries", "2"]);
    // Its socket stays open, silent: a closed one would end the upload at the ICMP port
    // unreachable instead (vanished-client.test.ts), not by the timeout this is about.
    const peer = await RawPeer.open();
    try {
      peer.send(encodeRequest(Opcode.WRQ, "in/silent.bin", "octet"), s.port);
      const ack0 = (await peer.recv())!;
      peer.send(encodeData(1, new Uint8Array(512)), ack0.port);
      await peer.recv();
      await s.waitForLog(/upload timed out .*file=in\/silent\.bin/, 20_000);
    } finally {
      peer.close();
    }
    expect(await eventually(() => readdirSync(join(root, "in")).length === 0)).toBe(true);
  }, 30_000);
});

describe("--upload-max-mb", () => {
  test("an announced tsize over the cap is refused up front; without tsize, at the cap; nothing is left", async () => {
    const root = tree("uploads-cap").root;
    const s = await serve(root, ["--create", "--upload-max-mb", "2"]);
    const c = await run(["curl", "-sS", "-T", src("3m"), `tftp://127.0.0.1:${s.port}/in/curl.bin`]);
    expect(c.code).toBe(70); // CURLE_REMOTE_DISK_FULL
    await s.waitForLog(/upload failed .*file=in\/curl\.bin .*bytes=0 .*code=3 .*announced 3145745 bytes/);
    expect(await hpaPut(s.port, src("3m"), "in/hpa.bin")).toContain("Error code 3: Disk full or allocation exceeded");
    await s.waitForLog(/upload failed .*file=in\/hpa\.bin .*bytes=2097152 .*code=3/);
    expect(await eventually(() => readdirSync(join(root, "in")).length === 0)).toBe(true);
    // Under the cap is fine.
    expect(await hpaPut(s.port, src("600k"), "in/small.bin")).toBe("");
    await expectUploaded(root, "in/small.bin", sums["600k"]!);
  }, 60_000);
});

describe("--overwrite", () => {
  test("replaces the file whole: a concurrent reader gets the old or the new file, never a mix or a part", async () => {
    const root = tree("uploads-overwrite").root;
    writeFileSync(join(root, "in/live.bin"), readFileSync(src("old")));
    const s = await serve(root, ["--create", "--overwrite"]);
    let uploading = true;
    const seen: string[] = [];
    const reader = (async () => {
      for (let i = 0; uploading; i++) {
        const dest = join(local.root, `read-${i}`);
        const r = await run(["curl", "-sS", "--tftp-blksize", "65464", "-o", dest, `tftp://127.0.0.1:${s.port}/in/live.bin`]);
        expect(r.code).toBe(0);
        seen.push(await sha256File(dest));
      }
    })();
    await Bun.sleep(50);
    expect(await hpaPut(s.port, src("4m"), "in/live.bin")).toBe("");
    uploading = false;
    await reader;
    await expectUploaded(root, "in/live.bin", sums["4m"]!);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.filter((h) => h !== sums["old"] && h !== sums["4m"])).toEqual([]);
    expect(seen).toContain(sums["old"]!);
    // Once the client has the final ACK, every reader gets the new file.
    const after = join(local.root, "read-after");
    expect((await run(["curl", "-sS", "-o", after, `tftp://127.0.0.1:${s.port}/in/live.bin`])).code).toBe(0);
    expect(await sha256File(after)).toBe(sums["4m"]!);
    expect(leftovers(join(root, "in"))).toEqual([]);
  }, 60_000);
});

describeNeeding(ROOT, "install-once", () => {
  test("an upload of the marker is no install: the host keeps its entry", async () => {
    const t = scratchRoot("uploads-marker");
    trees.push(t);
    await pxeboot("init", t.root, "--profile", "7.2");
    await pxeboot("host", "add", "127.0.0.71", "7.2", "--root", t.root);
    chownSync(t.root, serverUser!.uid, serverUser!.gid);
    const s = await serve(t.root, ["--create", "--overwrite"]);
    writeFileSync(src("marker"), "uploaded\n");
    const r = await run(["curl", "-sS", "--interface", "127.0.0.71", "-T", src("marker"), `tftp://127.0.0.1:${s.port}/Kickstart_end`]);
    expect(r.code).toBe(0);
    await s.waitForLog(/upload ok .*client=127\.0\.0\.71:.*file=Kickstart_end/);
    await Bun.sleep(300);
    expect(pathExists(join(t.root, "pxelinux.cfg/7F000047"))).toBe(true);
    expect(s.log()).not.toMatch(/installed/);
  }, 30_000);
});

