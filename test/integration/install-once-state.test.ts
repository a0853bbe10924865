/**
 * Install-once for hosts registered by MAC, where the marker fetch carries only the IP: the MAC
 * comes from the kernel's neighbour table or from the sysadmin's `host add MAC --ip IP`, never
 * from what a client asked for (any host may ask for another's 01-<mac>). Bindings survive a
 * restart and serve `--workers` processes and two servers on one root alike. Started as root
 * with no flag, on a tree nobody prepared for it, install-once works while every process that
 * faces clients is unprivileged. Loopback source addresses (127.0.0.x) stand in for the hosts;
 * the loopback has no neighbour-table entries.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, eventually, pathExists, pxeboot, RawPeer, run, scratchRoot, type ServerProcess, startServer, startWith } from "./harness.ts";
import { describeNeeding, ROOT } from "../gate.ts";

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

/** A tree whose hosts are registered by MAC only, each bound to its loopback address. */
async function macTree(name: string, hosts: number[], bind = true) {
  const tree = scratchRoot(name);
  trees.push(tree);
  await pxeboot("init", tree.root, "--profile", "7.2");
  for (const i of hosts) await pxeboot("host", "add", macOf(i), "7.2", "--root", tree.root, ...(bind ? ["--ip", `127.0.0.${i}`] : []));
  const exists = (rel: string) => pathExists(join(tree.root, rel));
  return { root: tree.root, exists };
}

const marker = (host: number, port: number) => fetchAs(`127.0.0.${host}`, port, "Kickstart_end");

describe("install-once for MAC-registered hosts", () => {
  test("host add MAC --ip: the binding is on disk, survives a restart, and is used up by the install", async () => {
    const t = await macTree("restart", [41]);
    expect(readdirSync(join(t.root, ".pxeboot/macs"))).toEqual(["7F000029"]);
    const before = await serve(t.root);
    await before.stop();
    const after = await serve(t.root);
    expect(await marker(41, after.port)).toBe("ok");
    expect(await eventually(() => !t.exists(pxelinuxMacName(41)))).toBe(true);
    await after.waitForLog(/installed: netboot entries removed.*host=127\.0\.0\.41 .*mac=aa:bb:cc:dd:ee:29 macFrom="?host add --ip/);
    expect(await eventually(() => readdirSync(join(t.root, ".pxeboot/macs")).length === 0)).toBe(true);
  });

  test("--workers 2: 8 hosts, each marker fetch on whichever worker the kernel picks", async () => {
    const hosts = [61, 62, 63, 64, 65, 66, 67, 68];
    const t = await macTree("workers", hosts);
    const s = await serve(t.root, ["--workers", "2"]);
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

  test("two servers on one root: each marker goes to the other server", async () => {
    const t = await macTree("two-servers", [71, 72]);
    const a = await serve(t.root);
    const b = await serve(t.root);
    expect(await marker(71, b.port)).toBe("ok");
    expect(await marker(72, a.port)).toBe("ok");
    expect(await eventually(() => !t.exists(pxelinuxMacName(71)) && !t.exists(pxelinuxMacName(72)))).toBe(true);
    expect(await eventually(() => readdirSync(join(t.root, ".pxeboot/macs")).length === 0)).toBe(true);
  });

  test("a host whose MAC is not bound: the entry stays and the server says so at warning level", async () => {
    const t = await macTree("unknown-mac", [81], false);
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

describe("a client cannot end another host's install", () => {
  test("127.0.0.77 asks for 52:54:00:aa:bb:cc's 01- name, then the marker, over TFTP and over HTTP: that host's entries stay", async () => {
    const tree = scratchRoot("spoof");
    trees.push(tree);
    await pxeboot("init", tree.root, "--profile", "7.2");
    // The victim registered by MAC, the way a farm without fixed addresses does it.
    await pxeboot("host", "add", "52:54:00:aa:bb:cc", "7.2", "--root", tree.root);
    const victim = ["pxelinux.cfg/01-52-54-00-aa-bb-cc", "grub/mac-52:54:00:aa:bb:cc.cfg", "ipxe/mac-52-54-00-aa-bb-cc.ipxe"];
    const s = await startWith((port) => [BINARY, "serve", "--drain-timeout", "1", "--root", tree.root, "--address", "127.0.0.1", "--port", String(port), "--http", `127.0.0.1:${port}`]);
    running.push(s);
    expect(await fetchAs("127.0.0.77", s.port, victim[0]!)).toBe("ok");
    expect(await fetchAs("127.0.0.77", s.port, "Kickstart_end")).toBe("ok");
    const http = (path: string) => run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--interface", "127.0.0.78", `http://127.0.0.1:${s.port}/${path}`]);
    expect((await http(victim[0]!)).stdout).toBe("200");
    expect((await http("Kickstart_end")).stdout).toBe("200");
    await s.waitForLog(/install marker fetched.*host=127\.0\.0\.78/);
    await Bun.sleep(200);
    for (const rel of victim) expect(pathExists(join(tree.root, rel))).toBe(true);
    expect(s.log()).not.toContain("installed: netboot entries removed");
  });
});


/** A tftproot as tftpd-hpa sites have it: made by hand, all root's, 0755. */
function handMadeTree(name: string, hosts: number[]) {
  const tree = scratchRoot(name);
  trees.push(tree);
  const root = tree.root;
  chmodSync(root, 0o755);
  mkdirSync(join(root, "pxelinux.cfg"));
  writeFileSync(join(root, "Kickstart_end"), "installed\n");
  writeFileSync(join(root, "pxelinux.cfg/default"), "DEFAULT local\nLABEL local\n  LOCALBOOT 0\n");
  writeFileSync(join(root, "pxelinux.cfg/default.netboot-7.2"), "DEFAULT install\n");
  for (const h of hosts) symlinkSync("default.netboot-7.2", join(root, "pxelinux.cfg", (0x7f000000 + h).toString(16).toUpperCase()));
  return root;
}

/** Processes of this server (its pid and its children) with a UDP or TCP socket, and those without. */
function serverProcesses(pid: number): { pid: number; role: string; sockets: number; status: string }[] {
  const children = (p: number): number[] => {
    try {
      return readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const internet = new Set<string>();
  for (const table of ["udp", "udp6", "tcp", "tcp6"])
    for (const line of readFileSync(`/proc/net/${table}`, "utf8").split("\n").slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode && inode !== "0") internet.add(inode);
    }
  return [pid, ...children(pid)].map((p) => {
    let sockets = 0;
    for (const fd of readdirSync(`/proc/${p}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkOr(`/proc/${p}/fd/${fd}`));
      if (m && internet.has(m[1]!)) sockets++;
    }
    const env = readFileSync(`/proc/${p}/environ`, "latin1");
    const role = /PXEBOOT_ROLE=switch/.test(env) ? "boot-control" : /PXEBOOT_WORKER=/.test(env) ? "worker" : "primary";
    return { pid: p, role, sockets, status: readFileSync(`/proc/${p}/status`, "utf8") };
  });
}

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

const field = (status: string, key: string) => status.match(new RegExp(`^${key}:\\s*(.*)$`, "m"))?.[1]?.trim() ?? "";

const AS_NOBODY = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--"];
let nobodyBinary: { root: string; cleanup(): void } | undefined;
afterAll(() => nobodyBinary?.cleanup());

/** The binary where nobody can run it: a clean clone may sit in a directory only root enters (mktemp -d). */
function binaryForNobody(): string {
  if (!nobodyBinary) {
    nobodyBinary = scratchRoot("binary");
    copyFileSync(BINARY, join(nobodyBinary.root, "pxeboot"));
    chmodSync(join(nobodyBinary.root, "pxeboot"), 0o755);
  }
  return join(nobodyBinary.root, "pxeboot");
}

/** `serve` started as nobody, the way setpriv or systemd's User= would start it. */
async function serveAsNobody(root: string, extra: string[], prefix = AS_NOBODY): Promise<ServerProcess> {
  const bin = binaryForNobody();
  const s = await startWith((port) => [...prefix, bin, "serve", "--drain-timeout", "1", "--root", root, "--address", "127.0.0.1", "--port", String(port), ...extra]);
  running.push(s);
  return s;
}

describeNeeding(ROOT, "install-once with privileges dropped, on any tree", () => {
  test("a hand-made root-owned tree, serve as root with no flag: hosts switch; no process facing clients is root or can regain it", async () => {
    const root = handMadeTree("root-owned", [51, 52]);
    const s = await startWith((port) => [BINARY, "serve", root, "--drain-timeout", "1", "--address", "127.0.0.1", "--port", String(port), "--workers", "2", "--http", `127.0.0.1:${port}`]);
    running.push(s);
    await s.waitForLog(/dropped privileges user=(tftp|nobody)/);
    const procs = serverProcesses(s.proc.pid);
    expect(procs.map((p) => p.role).sort()).toEqual(["boot-control", "primary", "worker"]);
    for (const p of procs) {
      // Every process: no-new-privs, no capabilities, an empty bounding set.
      expect({ role: p.role, nnp: field(p.status, "NoNewPrivs"), eff: field(p.status, "CapEff"), bnd: field(p.status, "CapBnd") }).toEqual({
        role: p.role,
        nnp: "1",
        eff: "0000000000000000",
        bnd: "0000000000000000",
      });
      if (p.role === "boot-control") expect(p.sockets).toBe(0);
      else {
        expect(p.sockets).toBeGreaterThan(0);
        expect(field(p.status, "Uid").split(/\s+/).every((u) => u !== "0")).toBe(true);
      }
    }
    expect(s.log()).not.toMatch(/\[(warn|error)\]/);
    // The marker over TFTP for one host, over HTTP for the other: both switch at the first install.
    expect(await marker(51, s.port)).toBe("ok");
    expect((await run(["curl", "-sS", "-o", "/dev/null", "--interface", "127.0.0.52", `http://127.0.0.1:${s.port}/Kickstart_end`])).code).toBe(0);
    expect(await eventually(() => !pathExists(join(root, "pxelinux.cfg/7F000033")) && !pathExists(join(root, "pxelinux.cfg/7F000034")))).toBe(true);
    // The record is written after the links go (switch-host.ts): wait for it as for them.
    const records = (dir: string) => readdirSync(join(dir, ".pxeboot/installed")).sort().join(",");
    expect(await eventually(() => records(root) === "7F000033,7F000034")).toBe(true);
    expect(s.log()).not.toMatch(/\[(warn|error)\]/);
  });

  test("--on-install runs unprivileged: no-new-privs and an empty bounding set, so no set-uid program regains root", async () => {
    const root = handMadeTree("hook", [53]);
    const outDir = scratchRoot("hook-out");
    trees.push(outDir);
    chmodSync(outDir.root, 0o777);
    const out = join(outDir.root, "hook-status");
    const s = await serve(root, ["--on-install", `grep -E '^(Uid|NoNewPrivs|CapBnd|CapEff):' /proc/self/status > ${out}`]);
    expect(await marker(53, s.port)).toBe("ok");
    expect(await eventually(() => pathExists(out) && readFileSync(out, "utf8").includes("CapBnd"))).toBe(true);
    const status = readFileSync(out, "utf8");
    expect(field(status, "NoNewPrivs")).toBe("1");
    expect(field(status, "CapBnd")).toBe("0000000000000000");
    expect(field(status, "CapEff")).toBe("0000000000000000");
    expect(field(status, "Uid").split(/\s+/)[0]).not.toBe("0");
  });

  test("--on-install sees its documented PXEBOOT_ variables and none of the server's own, with workers", async () => {
    const root = handMadeTree("hook-env", [55]);
    const outDir = scratchRoot("hook-env-out");
    trees.push(outDir);
    chmodSync(outDir.root, 0o777);
    const out = join(outDir.root, "hook-env");
    const s = await serve(root, ["--workers", "2", "--on-install", `env | grep '^PXEBOOT_' | sort > ${out}.tmp && mv ${out}.tmp ${out}`]);
    expect(await marker(55, s.port)).toBe("ok");
    expect(await eventually(() => pathExists(out))).toBe(true);
    const env = Object.fromEntries(readFileSync(out, "utf8").trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    // PXEBOOT_MAC only when the host's MAC is known: not for a loopback client.
    expect(Object.keys(env).sort()).toEqual(["PXEBOOT_FILE", "PXEBOOT_HOST", "PXEBOOT_PROFILE", "PXEBOOT_REMOVED", "PXEBOOT_ROOT", "PXEBOOT_TIME"]);
    expect(env.PXEBOOT_HOST).toBe("127.0.0.55");
    expect(env.PXEBOOT_TIME).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  test("started as an unprivileged user on a root-owned tree: one start-up line with the fix, and doctor says so", async () => {
    const root = handMadeTree("non-root", [54]);
    // As systemd-unit --as-user starts it: with CAP_NET_BIND_SERVICE, which it gives up once bound.
    const withBindCap = [...AS_NOBODY.slice(0, -1), "--inh-caps", "+net_bind_service", "--ambient-caps", "+net_bind_service", "--"];
    const s = await serveAsNobody(root, ["--workers", "1"], withBindCap);
    for (const p of serverProcesses(s.proc.pid)) {
      expect(field(p.status, "NoNewPrivs")).toBe("1");
      expect(field(p.status, "CapEff")).toBe("0000000000000000");
      expect(field(p.status, "CapAmb")).toBe("0000000000000000");
    }
    const line = await s.waitForLog(/\[warn\].*install-once cannot switch hosts.*\n/);
    expect(line.trim().split("\n").length).toBe(1);
    expect(line).toMatch(/cannot write pxelinux\.cfg\/.*fix: start pxeboot as root/);
    const doctor = await run([...AS_NOBODY, binaryForNobody(), "doctor", root]);
    expect(doctor.stdout).toMatch(/pxelinux\.cfg: not writable by uid \d+ .*serve started as this user \(not root\) cannot switch hosts/);
    // As root, the same tree is fine: serve switches hosts as its owner.
    const asRootDoctor = await run([BINARY, "doctor", root]);
    expect(asRootDoctor.stdout).not.toContain("switch hosts");
  });

  test("boot control its owner cannot write (as an NFS export squashing root leaves it): one start-up line with the fix, and doctor says so", async () => {
    const root = handMadeTree("squashed", [57]);
    // A root-owned 0555 directory: the boot-control process is uid 0 without capabilities, so
    // the mode bits decide, as they do for root squashed to nobody on NFS.
    chmodSync(join(root, "pxelinux.cfg"), 0o555);
    const s = await serve(root);
    const line = await s.waitForLog(/\[warn\].*install-once cannot switch hosts.*\n/);
    expect(line).toMatch(/uid 0 cannot write pxelinux\.cfg\/ \(now 0:0 0555, EACCES\).*fix: make them writable by the owner of pxelinux\.cfg\/ \(chmod u\+w\)/);
    const doctor = await run([BINARY, "doctor", root]);
    expect(doctor.stdout).toMatch(/problem: pxelinux\.cfg: not writable by uid 0, the owner of pxelinux\.cfg\/ .*fix: chmod u\+wx /);
    expect(doctor.code).toBe(1);
  });

  test("a tree made by init --owner nobody, started as nobody: it switches hosts itself", async () => {
    const tree = scratchRoot("user-owner");
    trees.push(tree);
    // The server's user must reach the tree: the scratch directory is private by default.
    chmodSync(tree.root, 0o755);
    await pxeboot("init", tree.root, "--profile", "7.2", "--owner", "nobody");
    await pxeboot("host", "add", macOf(55), "7.2", "--root", tree.root, "--ip", "127.0.0.55");
    await pxeboot("host", "add", "127.0.0.56", "7.2", "--root", tree.root);
    const s = await serveAsNobody(tree.root, []);
    expect(await marker(55, s.port)).toBe("ok");
    expect(await marker(56, s.port)).toBe("ok");
    const gone = (rel: string) => !pathExists(join(tree.root, rel));
    expect(await eventually(() => gone(pxelinuxMacName(55)) && gone("pxelinux.cfg/7F000038"))).toBe(true);
    expect(s.log()).not.toMatch(/\[(warn|error)\]/);
    // The record is written after the links go (switch-host.ts): wait for it as for them.
    expect(await eventually(() => readdirSync(join(tree.root, ".pxeboot/installed")).sort().join(",") === "7F000037,7F000038")).toBe(true);
  });
});
