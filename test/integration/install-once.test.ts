/**
 * Install-once end to end: the compiled binary builds the tree (init, host add) and two
 * `pxeboot serve` processes share it, as two servers would over NFS. Loopback source addresses
 * (127.0.0.11, …) stand in for the hosts, so the hex names are those of the 127.x addresses.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { decodePacket, encodeAck, encodeError, encodeRequest } from "../../src/protocol/packet.ts";
import { Opcode } from "../../src/protocol/types.ts";
import { BINARY, eventually, pathExists, pxeboot, RawPeer, run, scratchRoot, type ServerProcess, startServer } from "./harness.ts";

let tree: { root: string; cleanup(): void };
let a: ServerProcess;
let b: ServerProcess;

const exists = (rel: string) => pathExists(join(tree.root, rel));



type Ending = "ack-all" | "probe" | "abort";

/**
 * Reads `file` from the server as the client at `source`. "probe" asks for tsize and answers the
 * OACK with ERROR 8 (what PXE ROMs do to learn a size); "abort" answers the first DATA with ERROR.
 * Returns the payload bytes received, or -1 on an ERROR from the server.
 */
async function fetchAs(source: string, port: number, file: string, ending: Ending = "ack-all"): Promise<number> {
  const peer = await RawPeer.open(source);
  try {
    const options = ending === "probe" ? new Map([["tsize", "0"]]) : new Map<string, string>();
    peer.send(encodeRequest(Opcode.RRQ, file, "octet", options), port);
    let bytes = 0;
    for (let i = 0; i < 1000; i++) {
      const d = await peer.recv(3000);
      if (!d) throw new Error(`no reply from port ${port} for ${file}`);
      const p = decodePacket(d.data);
      if (p.op === Opcode.OACK) {
        if (ending === "probe") {
          peer.send(encodeError(8, "tsize probe"), d.port);
          return 0;
        }
        peer.send(encodeAck(0), d.port);
      } else if (p.op === Opcode.DATA) {
        if (ending === "abort") {
          peer.send(encodeError(0, "aborted by the test"), d.port);
          return bytes;
        }
        bytes += p.data.length;
        peer.send(encodeAck(p.block), d.port);
        if (p.data.length < 512) return bytes;
      } else if (p.op === Opcode.ERROR) {
        return -1;
      }
    }
    throw new Error("transfer did not end");
  } finally {
    peer.close();
  }
}

const installLines = (s: ServerProcess) => s.log().split("\n").filter((l) => l.includes("installed: netboot entries removed"));

beforeAll(async () => {
  tree = scratchRoot("install-once");
  await pxeboot("init", tree.root, "--profile", "7.2", "--profile", "8.1");
  await pxeboot("host", "add", "127.0.0.11", "7.2", "--root", tree.root);
  await pxeboot("host", "add", "127.0.0.12", "8.1", "--root", tree.root);
  // The same host by MAC too, bound to its address (a marker fetch carries only the address).
  await pxeboot("host", "add", "aa:bb:cc:dd:ee:11", "7.2", "--root", tree.root, "--ip", "127.0.0.11");
  await pxeboot("host", "add", "127.0.0.20-127.0.0.39", "8.1", "--root", tree.root);
  a = await startServer(tree.root);
  b = await startServer(tree.root);
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  tree?.cleanup();
});

describe("install-once through pxeboot serve", () => {
  test("host add made the pxelinux name of the client address", () => {
    expect(exists("pxelinux.cfg/7F00000B")).toBe(true);
    expect(exists("pxelinux.cfg/01-aa-bb-cc-dd-ee-11")).toBe(true);
  });

  test("a size probe and an aborted fetch of the marker leave the host's entry in place", async () => {
    expect(await fetchAs("127.0.0.11", a.port, "Kickstart_end", "probe")).toBe(0);
    await a.waitForLog(/size probe .*client=127\.0\.0\.11:/);
    await fetchAs("127.0.0.11", a.port, "Kickstart_end", "abort");
    await a.waitForLog(/transfer failed .*client=127\.0\.0\.11:.*Kickstart_end/);
    await Bun.sleep(100);
    expect(exists("pxelinux.cfg/7F00000B")).toBe(true);
    expect(installLines(a)).toEqual([]);
  });

  test("the complete fetch removes the hex-IP entry and the MAC entry bound to the address", async () => {
    // The start of a pxelinux boot: the MAC name first, then the hex IP name.
    expect(await fetchAs("127.0.0.11", a.port, "pxelinux.cfg/01-aa-bb-cc-dd-ee-11")).toBeGreaterThan(0);
    expect(await fetchAs("127.0.0.11", a.port, "pxelinux.cfg/7F00000B")).toBeGreaterThan(0);
    expect(await fetchAs("127.0.0.11", a.port, "Kickstart_end")).toBeGreaterThan(0);
    expect(await eventually(() => !exists("pxelinux.cfg/7F00000B"))).toBe(true);
    expect(exists("pxelinux.cfg/01-aa-bb-cc-dd-ee-11")).toBe(false);
    expect(exists("grub/ip-127.0.0.11.cfg")).toBe(false);
    expect(exists("ipxe/mac-aa-bb-cc-dd-ee-11.ipxe")).toBe(false);
    expect(exists("pxelinux.cfg/7F00000C")).toBe(true); // another host: untouched
    // The worker that did it may log a moment after the entries are gone.
    expect(await eventually(() => installLines(a).length > 0)).toBe(true);
    await Bun.sleep(100);
    const line = installLines(a);
    expect(line.length).toBe(1);
    expect(line[0]).toMatch(/host=127\.0\.0\.11 profile=7\.2 time=\d{4}-/);
    // Its next boot falls through to default (local disk).
    const which = await pxeboot("host", "which", "127.0.0.11", "--root", tree.root);
    expect(which).toContain("boots pxelinux.cfg/default\n");
    const list = await pxeboot("host", "list", "--root", tree.root);
    expect(list).toMatch(/127\.0\.0\.11\s+7F00000B\s+7\.2\s+installed \d{4}-/);
    expect(list).toMatch(/127\.0\.0\.12\s+7F00000C\s+8\.1\s+pending/);
  });

  test("the other server sees the marker fetch of another host on the same root", async () => {
    expect(await fetchAs("127.0.0.12", b.port, "/Kickstart_end")).toBeGreaterThan(0);
    expect(await eventually(() => !exists("pxelinux.cfg/7F00000C"))).toBe(true);
    const of12 = () => installLines(b).filter((l) => l.includes("host=127.0.0.12")).length;
    expect(await eventually(() => of12() > 0)).toBe(true);
    await Bun.sleep(100);
    expect(of12()).toBe(1);
  });

  test("20 hosts fetching the marker from both servers at once: every entry gone once, no errors, no leftovers", async () => {
    const hosts = Array.from({ length: 20 }, (_, i) => `127.0.0.${20 + i}`);
    await Promise.all(hosts.flatMap((h) => [fetchAs(h, a.port, "Kickstart_end"), fetchAs(h, b.port, "Kickstart_end")]));
    const gone = () => hosts.every((h) => !exists(`pxelinux.cfg/7F0000${(Number(h.split(".")[3])).toString(16).toUpperCase().padStart(2, "0")}`));
    expect(await eventually(gone)).toBe(true);
    const logged = () => hosts.every((h) => [...installLines(a), ...installLines(b)].some((l) => l.includes(`host=${h} `)));
    expect(await eventually(logged)).toBe(true);
    await Bun.sleep(200);
    for (const h of hosts) {
      const n = [...installLines(a), ...installLines(b)].filter((l) => l.includes(`host=${h} `)).length;
      expect(n).toBe(1); // exactly one server won each host's entries
    }
    for (const dir of ["pxelinux.cfg", "grub", "ipxe", ".pxeboot/installed"])
      expect(readdirSync(join(tree.root, dir)).filter((n) => n.includes("pxeboot-tmp"))).toEqual([]);
    // Warnings and errors, apart from the abort the earlier test made on purpose.
    const errors = (s: ServerProcess) =>
      s.log().split("\n").filter((l) => /^\[(warn|error)\]/.test(l) && !l.includes("aborted by the test"));
    expect([...errors(a), ...errors(b)]).toEqual([]);
    const doctor = await run([BINARY, "doctor", tree.root]);
    expect(doctor.stdout).not.toContain("problem: pxelinux.cfg/");
  });
});
