import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addHosts, listHosts } from "../../src/layout/hosts.ts";
import { parseHostSpec } from "../../src/layout/hostspec.ts";
import { createInstallOnce } from "../../src/layout/install-once.ts";
import { bindMac } from "../../src/layout/macs.ts";
import type { LogFields, Logger } from "../../src/log.ts";
import type { TransferRecord } from "../../src/records/transfer-record.ts";
import { cleanup, freshTree, tempDir, write } from "./fixtures.ts";

afterEach(cleanup);

/** The machine's own neighbour table must not leak into these tests. */
const NO_ARP = "/nonexistent/arp";

interface Line {
  level: string;
  msg: string;
  fields?: LogFields;
}

function captureLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (msg: string, fields?: LogFields) => lines.push({ level, msg, fields });
  return { lines, level: "debug", debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

function record(over: Partial<TransferRecord>): TransferRecord {
  return {
    direction: "read",
    clientAddress: "192.168.0.11",
    clientPort: 2070,
    requested: "Kickstart_end",
    file: "Kickstart_end",
    mode: "octet",
    options: {},
    bytes: 0,
    size: 0,
    durationMs: 3,
    outcome: "ok",
    retransmits: 0,
    ...over,
  };
}

const exists = (root: string, rel: string) => {
  try {
    lstatSync(join(root, rel));
    return true;
  } catch {
    return false;
  }
};

async function treeWithHost(host = "192.168.0.11") {
  const root = await freshTree(["7.2"]);
  addHosts(root, parseHostSpec(host), "7.2");
  const log = captureLogger();
  return { root, log, observe: createInstallOnce({ root, marker: "Kickstart_end", neighbourTable: NO_ARP, log }) };
}

describe("install-once observer", () => {
  test("a completed marker fetch removes the host's links, records it and logs host, profile, time", async () => {
    const { root, log, observe } = await treeWithHost();
    observe(record({}));
    await observe.flush();
    for (const rel of ["pxelinux.cfg/C0A8000B", "grub/ip-192.168.0.11.cfg", "ipxe/ip-192.168.0.11.ipxe"])
      expect(exists(root, rel)).toBe(false);
    const info = log.lines.filter((l) => l.level === "info");
    expect(info.length).toBe(1);
    expect(info[0]!.fields).toMatchObject({ host: "192.168.0.11", profile: "7.2" });
    expect(String(info[0]!.fields!.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(listHosts(root)).toEqual([
      { host: "192.168.0.11", file: "C0A8000B", profile: "7.2", state: "installed", installedAt: String(info[0]!.fields!.time) },
    ]);
    // The claim renames leave nothing behind.
    expect(readdirSync(join(root, "pxelinux.cfg")).filter((n) => n.startsWith("."))).toEqual([]);
    expect(existsSync(join(root, "pxelinux.cfg/default.netboot-7.2"))).toBe(true);
  });

  test("a probe, an aborted fetch, a timeout and another file leave the links alone", async () => {
    const { root, log, observe } = await treeWithHost();
    observe(record({ outcome: "probe", options: { tsize: "0" } }));
    observe(record({ outcome: "error", errorCode: 0, reason: "client aborted" }));
    observe(record({ outcome: "timeout" }));
    observe(record({ file: "vmlinuz-7.2", requested: "vmlinuz-7.2" }));
    observe(record({ file: "sub/Kickstart_end", requested: "sub/Kickstart_end" }));
    // An upload of the marker, complete as it may be, is no fetch of it.
    observe(record({ direction: "write", bytes: 40 }));
    await Bun.sleep(20);
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(true);
    // The failed fetches are what an admin must see the same day; the probe and the rest are not.
    const warned = log.lines.filter((l) => l.level === "warn");
    expect(warned.map((l) => [l.msg, l.fields?.outcome, l.fields?.host])).toEqual([
      ["install marker fetch did not complete: the host keeps its netboot entries and will install again", "error", "192.168.0.11"],
      ["install marker fetch did not complete: the host keeps its netboot entries and will install again", "timeout", "192.168.0.11"],
    ]);
    expect(warned[0]!.fields?.reason).toBe("client aborted");
    expect(log.lines.filter((l) => l.level !== "warn" && l.level !== "debug")).toEqual([]);
  });

  test("an HTTP range of the marker (fewer bytes than its size) is no complete fetch; the whole file is", async () => {
    const { root, log, observe } = await treeWithHost();
    observe(record({ mode: "http", options: { status: "206", range: "0-0" }, bytes: 1, size: 40 }));
    await Bun.sleep(20);
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(true);
    expect(log.lines.filter((l) => l.level === "warn").map((l) => l.fields?.bytes)).toEqual([1]);
    observe(record({ mode: "http", options: { status: "200" }, bytes: 40, size: 40 }));
    await observe.flush();
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(false);
  });

  test("only the fetching client's entries go; others stay", async () => {
    const { root, observe } = await treeWithHost("192.168.0.10-12");
    observe(record({ clientAddress: "192.168.0.12" }));
    expect(exists(root, "pxelinux.cfg/C0A8000A")).toBe(true);
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(true);
    expect(exists(root, "pxelinux.cfg/C0A8000C")).toBe(false);
  });

  test("asking for another host's 01-<mac> name, then for the marker, leaves that host's entries in place", async () => {
    const { root, log, observe } = await treeWithHost();
    addHosts(root, parseHostSpec("aa:bb:cc:dd:ee:ff"), "7.2");
    // A name a client asks for is no proof of who it is: 192.168.0.11 is not aa:bb:cc:dd:ee:ff.
    observe(record({ requested: "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", file: "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", bytes: 20, size: 20 }));
    observe(record({ requested: "/Kickstart_end", file: "Kickstart_end" }));
    await observe.flush();
    expect(exists(root, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff")).toBe(true);
    expect(exists(root, "grub/mac-aa:bb:cc:dd:ee:ff.cfg")).toBe(true);
    expect(exists(root, "ipxe/mac-aa-bb-cc-dd-ee-ff.ipxe")).toBe(true);
    // Its own address's entries are its own to end.
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(false);
    expect(log.lines.find((l) => l.level === "info")!.fields!.mac).toBeUndefined();
  });

  test("a MAC bound to the address by host add --ip goes with that address's marker fetch, and only that MAC", async () => {
    const { root, log, observe } = await treeWithHost();
    addHosts(root, parseHostSpec("aa:bb:cc:dd:ee:ff"), "7.2");
    addHosts(root, parseHostSpec("aa:bb:cc:dd:ee:00"), "7.2");
    bindMac(root, "192.168.0.11", "aa:bb:cc:dd:ee:ff");
    observe(record({ requested: "/Kickstart_end", file: "Kickstart_end" }));
    await observe.flush();
    expect(exists(root, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff")).toBe(false);
    expect(exists(root, "grub/mac-aa:bb:cc:dd:ee:ff.cfg")).toBe(false);
    expect(exists(root, "ipxe/mac-aa-bb-cc-dd-ee-ff.ipxe")).toBe(false);
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(false);
    expect(exists(root, "pxelinux.cfg/01-aa-bb-cc-dd-ee-00")).toBe(true);
    expect(log.lines.find((l) => l.level === "info")!.fields).toMatchObject({ mac: "aa:bb:cc:dd:ee:ff", macFrom: "host add --ip" });
    // Used up with the install: a reinstall is bound again.
    expect(readdirSync(join(root, ".pxeboot/macs")).filter((n) => !n.startsWith("."))).toEqual([]);
  });

  test("a MAC-only host on IPv6 is handled through its binding alone", async () => {
    const root = await freshTree(["7.2"]);
    addHosts(root, parseHostSpec("aa:bb:cc:dd:ee:ff"), "7.2");
    bindMac(root, "fe80::1", "aa:bb:cc:dd:ee:ff");
    const observe = createInstallOnce({ root, marker: "/Kickstart_end", neighbourTable: NO_ARP, log: captureLogger() });
    observe(record({ clientAddress: "fe80::1" }));
    await observe.flush();
    expect(exists(root, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff")).toBe(false);
    expect(JSON.parse(readFileSync(join(root, ".pxeboot/installed/01-aa-bb-cc-dd-ee-ff"), "utf8"))).toMatchObject({ host: "fe80::1", profile: "7.2" });
  });

  test("a MAC file learned from requests by an older version is not trusted", async () => {
    const { root, observe } = await treeWithHost();
    addHosts(root, parseHostSpec("aa:bb:cc:dd:ee:ff"), "7.2");
    write(root, ".pxeboot/macs/C0A8000B", JSON.stringify({ host: "192.168.0.11", mac: "aa:bb:cc:dd:ee:ff", time: "2026-01-01T00:00:00Z" }) + "\n");
    observe(record({}));
    await observe.flush();
    expect(exists(root, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff")).toBe(true);
  });

  test("a host on the segment is matched through the kernel's neighbour table, with nothing learned", async () => {
    const root = await freshTree(["7.2"]);
    addHosts(root, parseHostSpec("52:54:00:12:34:56"), "7.2");
    const arp = join(tempDir("pxeboot-arp-"), "arp");
    writeFileSync(arp, "IP address  HW type  Flags  HW address  Mask  Device\n192.168.0.11 0x1 0x2 52:54:00:12:34:56 * eth0\n");
    const log = captureLogger();
    const observe = createInstallOnce({ root, marker: "Kickstart_end", neighbourTable: arp, log });
    observe(record({}));
    await observe.flush();
    expect(exists(root, "pxelinux.cfg/01-52-54-00-12-34-56")).toBe(false);
    expect(log.lines.find((l) => l.level === "info")!.fields).toMatchObject({ mac: "52:54:00:12:34:56", macFrom: "neighbour table" });
  });

  test("a marker fetch from a host whose MAC is unknown warns when MAC entries exist (the silent reinstall loop)", async () => {
    const root = await freshTree(["7.2"]);
    addHosts(root, parseHostSpec("aa:bb:cc:dd:ee:ff"), "7.2");
    const log = captureLogger();
    const observe = createInstallOnce({ root, marker: "Kickstart_end", neighbourTable: NO_ARP, log });
    observe(record({}));
    await observe.flush();
    expect(exists(root, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff")).toBe(true);
    const warn = log.lines.find((l) => l.level === "warn")!;
    expect(warn.msg).toContain("MAC is unknown");
    expect(warn.fields).toMatchObject({ host: "192.168.0.11", macEntries: 1 });
  });

  test("idempotent: a second fetch, or a second server observing the same fetch, changes nothing", async () => {
    const { root, log, observe } = await treeWithHost();
    const other = captureLogger();
    const secondServer = createInstallOnce({ root, marker: "Kickstart_end", neighbourTable: NO_ARP, log: other });
    observe(record({}));
    secondServer(record({}));
    observe(record({}));
    await observe.flush();
    await secondServer.flush();
    expect(log.lines.filter((l) => l.level === "info").length).toBe(1);
    expect(other.lines.filter((l) => l.level === "info").length).toBe(0);
    expect(log.lines.concat(other.lines).filter((l) => l.level === "error" || l.level === "warn")).toEqual([]);
  });

  test("while another server holds the host's lock nothing is touched; afterwards the retry finishes", async () => {
    const { root, log, observe } = await treeWithHost();
    write(root, ".pxeboot/locks/C0A8000B", "other-server 1\n");
    observe(record({}));
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(true);
    await Bun.sleep(120);
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(true);
    rmSync(join(root, ".pxeboot/locks/C0A8000B"));
    const deadline = Date.now() + 3000;
    while (exists(root, "pxelinux.cfg/C0A8000B") && Date.now() < deadline) await Bun.sleep(20);
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(false);
    expect(log.lines.filter((l) => l.level === "info").length).toBe(1);
    expect(exists(root, ".pxeboot/locks/C0A8000B")).toBe(false);
  });

  test("a stale lock (its server died mid-way) is broken", async () => {
    const { root, log, observe } = await treeWithHost();
    write(root, ".pxeboot/locks/C0A8000B", "dead-server 1\n");
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(root, ".pxeboot/locks/C0A8000B"), old, old);
    observe(record({}));
    await observe.flush();
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(false);
    expect(log.lines.filter((l) => l.level === "info").length).toBe(1);
  });

  test("a hand-written per-host file is moved aside, not destroyed", async () => {
    const root = await freshTree(["7.2"]);
    write(root, "pxelinux.cfg/C0A8000B", "DEFAULT custom\n");
    createInstallOnce({ root, marker: "Kickstart_end", neighbourTable: NO_ARP, log: captureLogger() })(record({}));
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(false);
    const kept = readdirSync(join(root, ".pxeboot/removed"));
    expect(kept.length).toBe(1);
    expect(kept[0]).toStartWith("C0A8000B.");
    expect(readFileSync(join(root, ".pxeboot/removed", kept[0]!), "utf8")).toBe("DEFAULT custom\n");
  });

  test("a failure is logged, not thrown into the server", async () => {
    const { root, log, observe } = await treeWithHost();
    // The record directory cannot be created: a plain file sits where it should go.
    rmSync(join(root, ".pxeboot"), { recursive: true });
    writeFileSync(join(root, ".pxeboot"), "");
    expect(() => observe(record({}))).not.toThrow();
    await observe.flush();
    expect(log.lines.filter((l) => l.level === "warn").map((l) => l.msg)).toEqual([
      "install-once could not take the host lock, going ahead without it",
      "install-once could not write its record",
    ]);
    // The host still falls through to local boot (the links went first) and the install is logged.
    expect(exists(root, "pxelinux.cfg/C0A8000B")).toBe(false);
    expect(log.lines.filter((l) => l.level === "info").length).toBe(1);
  });

  test("--on-install runs with the host in its environment without blocking; failure is logged", async () => {
    const { root } = await treeWithHost("192.168.0.11-12");
    const out = join(tempDir(), "hook.out");
    const log = captureLogger();
    const go = join(tempDir(), "go");
    // The hook cannot finish before the test lets it: if the observer waited for it, this test would hang.
    const cmd = `echo "$PXEBOOT_HOST $PXEBOOT_PROFILE $PXEBOOT_FILE" > ${out}; n=0; while [ ! -e ${go} ] && [ $n -lt 500 ]; do sleep 0.01; n=$((n+1)); done; exit 3`;
    const observe = createInstallOnce({ root, marker: "Kickstart_end", neighbourTable: NO_ARP, onInstallCmd: cmd, log });
    observe(record({}));
    expect(log.lines.some((l) => l.level === "warn")).toBe(false); // returned while the hook still runs
    writeFileSync(go, "");
    const deadline = Date.now() + 5000;
    while (!log.lines.some((l) => l.level === "warn") && Date.now() < deadline) await Bun.sleep(20);
    expect(readFileSync(out, "utf8")).toBe("192.168.0.11 7.2 Kickstart_end\n");
    expect(log.lines.find((l) => l.level === "warn")).toMatchObject({ fields: { host: "192.168.0.11", exitCode: 3 } });
  });
});
