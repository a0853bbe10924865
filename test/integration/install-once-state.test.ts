/**
 * Install-once for hosts registered by MAC, where the marker fetch carries only the IP: the
 * association learned at PXE time must survive a restart, be shared by `--workers` processes
 * and by two servers on one root. And a server that drops root must be able to do it, or refuse
 * to start. Loopback source addresses (127.0.0.x) stand in for the hosts; the loopback has no
 * neighbour-table entries, so everything here rests on what the servers learned.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, eventually, pathExists, pxeboot, RawPeer, run, scratchRoot, type ServerProcess, startServer } from "./harness.ts";

const running: ServerProcess[] = [];
const trees: { cleanup(): void }[] = [];

afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  for (const t of trees.splice(0)) t.cleanup();
});


async function serve(root: string, extra: string[] = []): Promise<ServerProcess> {
  const s = await startServer(root, extra);
  running.push(s);
  return s;
}


/** Reads `file` to the end (or to its ERROR) as the client at `source`, from a fresh port. */
async function fetchAs(source: string, port: number, file: string): Promise<"ok" | "error"> {
  const peer = await RawPeer.open(source);
  try {
    peer.send(encodeRequest(Opcode.RRQ, file, "octet"), port);
    for (let i = 0; i < 1000; i++) {
      const d = await peer.recv(3000);
      if (!d) throw new Error(`no reply from port ${port} for ${file}`);
      const p = decodePacket(d.data);
      if (p.op === Opcode.ERROR) return "error";
      if (p.op !== Opcode.DATA) continue;
      peer.send(encodeAck(p.block), d.port);
      if (p.data.length < 512) return "ok";
    }
    throw new Error("transfer did not end");
  } finally {
    peer.close();
  }
}

const macOf = (i: number) => `aa:bb:cc:dd:ee:${i.toString(16).padStart(2, "0")}`;
const pxelinuxMacName = (i: number) => `pxelinux.cfg/01-${macOf(i).replace(/:/g, "-")}`;

/** A tree whose hosts are registered by MAC only, as a farm without fixed IPs does it. */
async function macTree(name: string, hosts: number[]) {
  const tree = scratchRoot(name);
  trees.push(tree);
  await pxeboot("init", tree.root, "--profile", "7.2");
  for (const i of hosts) await pxeboot("host", "add", macOf(i), "7.2", "--root", tree.root);
  const exists = (rel: string) => pathExists(join(tree.root, rel));
  return { root: tree.root, exists };
}

/**
 * The start of a pxelinux boot: the 01-<mac> name first (that is where the MAC is learned).
 * Resolves once the association is on disk for every process: it is written off the event loop,
 * and a real install takes minutes between this and the marker, so a test must not outrun it.
 */
async function pxeBoot(host: number, port: number, root: string): Promise<"ok" | "error"> {
  const outcome = await fetchAs(`127.0.0.${host}`, port, pxelinuxMacName(host));
  const record = join(root, ".pxeboot/macs", (0x7f000000 + host).toString(16).toUpperCase());
  if (!(await eventually(() => Bun.file(record).size > 0, 2000))) throw new Error(`the MAC of 127.0.0.${host} was not recorded`);
  return outcome;
}
const marker = (host: number, port: number) => fetchAs(`127.0.0.${host}`, port, "Kickstart_end");

describe("install-once for MAC-registered hosts", () => {
  test("a restart between the PXE boot and the marker fetch: the MAC entry still goes", async () => {
    const t = await macTree("restart", [41]);
    const before = await serve(t.root);
    expect(await pxeBoot(41, before.port, t.root)).toBe("ok");
    await before.stop();
    const after = await serve(t.root);
    expect(await marker(41, after.port)).toBe("ok");
    expect(await eventually(() => !t.exists(pxelinuxMacName(41)))).toBe(true);
    await after.waitForLog(/installed: netboot entries removed.*host=127\.0\.0\.41 .*mac=aa:bb:cc:dd:ee:29 macFrom=learned/);
  });

  test("--workers 2: 8 hosts, each boot and marker fetch on whichever worker the kernel picks", async () => {
    const hosts = [61, 62, 63, 64, 65, 66, 67, 68];
    const t = await macTree("workers", hosts);
    const s = await serve(t.root, ["--workers", "2"]);
    for (const h of hosts) expect(await pxeBoot(h, s.port, t.root)).toBe("ok");
    for (const h of hosts) expect(await marker(h, s.port)).toBe("ok");
    const gone = () => hosts.every((h) => !t.exists(pxelinuxMacName(h)));
    expect(await eventually(gone)).toBe(true);
    // Each host switched exactly once, by whichever worker got its marker fetch (a worker's log
    // line may reach us a moment after its entries are gone).
    const installs = () => (s.log().match(/installed: netboot entries removed/g) ?? []).length;
    expect(await eventually(() => installs() >= hosts.length)).toBe(true);
    await Bun.sleep(200);
    expect(installs()).toBe(hosts.length);
  });

  test("two servers on one root: boot from one, marker to the other", async () => {
    const t = await macTree("two-servers", [71, 72]);
    const a = await serve(t.root);
    const b = await serve(t.root);
    expect(await pxeBoot(71, a.port, t.root)).toBe("ok");
    expect(await pxeBoot(72, b.port, t.root)).toBe("ok");
    expect(await marker(71, b.port)).toBe("ok");
    expect(await marker(72, a.port)).toBe("ok");
    expect(await eventually(() => !t.exists(pxelinuxMacName(71)) && !t.exists(pxelinuxMacName(72)))).toBe(true);
    // The associations are used up with the installs.
    expect(await eventually(() => readdirSync(join(t.root, ".pxeboot/macs")).length === 0)).toBe(true);
  });

  test("a host whose MAC was never learned: the entry stays and the server says so at warning level", async () => {
    const t = await macTree("unknown-mac", [81]);
    const s = await serve(t.root);
    expect(await marker(81, s.port)).toBe("ok");
    await s.waitForLog(/\[warn\].*MAC is unknown.*host=127\.0\.0\.81/);
    expect(t.exists(pxelinuxMacName(81))).toBe(true);
  });

  test("a marker fetch that fails is a warning naming the host", async () => {
    const t = await macTree("failed-fetch", []);
    const s = await serve(t.root);
    const peer = await RawPeer.open("127.0.0.91");
    try {
      peer.send(encodeRequest(Opcode.RRQ, "Kickstart_end", "octet"), s.port);
      expect(await peer.recv(3000)).toBeDefined(); // DATA 1, never acknowledged: the client died
    } finally {
      peer.close();
    }
    await s.stop(); // the transfer is cut at shutdown: an ending other than success
    expect(s.log()).toMatch(/\[warn\].*install marker fetch did not complete.*host=127\.0\.0\.91/);
  });
});

const asRoot = process.getuid?.() === 0;

describe.if(asRoot)("install-once after dropping root (--user)", () => {
  test("a tree made by root alone: serve --user nobody refuses to start, naming the directories and the fix", async () => {
    const t = await macTree("user-refused", []);
    chmodSync(join(t.root, ".."), 0o755);
    const r = await run([BINARY, "serve", t.root, "--address", "127.0.0.1", "--port", "0", "--user", "nobody"], 20_000);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/install-once needs pxelinux\.cfg\/.*\.pxeboot\/.* writable by nobody .*pxeboot init .* --owner nobody/);
    const doctor = await run([BINARY, "doctor", t.root, "--user", "nobody"]);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/pxelinux\.cfg: not writable by nobody/);
  });

  test("a tree made by init --owner nobody: serve --user nobody switches MAC and IP hosts", async () => {
    const tree = scratchRoot("user-owner");
    trees.push(tree);
    // The server's user must reach the tree: the scratch directory is private by default.
    chmodSync(tree.root, 0o755);
    await pxeboot("init", tree.root, "--profile", "7.2", "--owner", "nobody");
    await pxeboot("host", "add", macOf(51), "7.2", "--root", tree.root);
    await pxeboot("host", "add", "127.0.0.52", "7.2", "--root", tree.root);
    const doctor = await run([BINARY, "doctor", tree.root, "--user", "nobody"]);
    expect(doctor.stdout).not.toContain("not writable");
    const s = await serve(tree.root, ["--user", "nobody"]);
    await s.waitForLog(/dropped privileges user=nobody/);
    expect(await pxeBoot(51, s.port, tree.root)).toBe("ok");
    expect(await marker(51, s.port)).toBe("ok");
    expect(await marker(52, s.port)).toBe("ok");
    const gone = (rel: string) => !pathExists(join(tree.root, rel));
    expect(await eventually(() => gone(pxelinuxMacName(51)) && gone("pxelinux.cfg/7F000034"))).toBe(true);
    expect(s.log()).not.toMatch(/\[(warn|error)\]/);
    expect(readdirSync(join(tree.root, ".pxeboot/installed")).sort()).toEqual(["7F000033", "7F000034"]);
  });
});
