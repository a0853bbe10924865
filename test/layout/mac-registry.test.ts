/**
 * Which MAC a client address had: only the kernel's neighbour table (hosts on the segment) and
 * the sysadmin's bindings (host add MAC --ip IP), which survive the process; never a name a
 * client asked for.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bindMac, lookupMac, macRecordFile, parseNeighbourTable, unbindAddress, unbindMac } from "../../src/layout/macs.ts";
import { MAC_DIR } from "../../src/layout/paths.ts";
import { cleanup, freshTree, tempDir } from "./fixtures.ts";

afterEach(cleanup);

const ARP = [
  "IP address       HW type     Flags       HW address            Mask     Device",
  "192.168.0.11     0x1         0x2         52:54:00:12:34:56     *        br0",
  "192.168.0.12     0x1         0x0         00:00:00:00:00:00     *        br0",
  "192.168.0.13     0x1         0x6         52:54:00:AB:CD:EF     *        br0",
  "192.168.0.111    0x1         0x2         52:54:00:99:99:99     *        br0",
].join("\n");

function arpFile(text = ARP): string {
  const f = join(tempDir("pxeboot-arp-"), "arp");
  writeFileSync(f, text + "\n");
  return f;
}

describe("neighbour table", () => {
  test("a resolved entry gives its MAC; incomplete entries, prefixes of other addresses and strangers give none", () => {
    expect(parseNeighbourTable(ARP, "192.168.0.11")).toBe("52:54:00:12:34:56");
    expect(parseNeighbourTable(ARP, "192.168.0.13")).toBe("52:54:00:ab:cd:ef");
    expect(parseNeighbourTable(ARP, "192.168.0.12")).toBeUndefined();
    expect(parseNeighbourTable(ARP, "192.168.0.1")).toBeUndefined();
    expect(parseNeighbourTable("garbage\n\n  \n", "192.168.0.11")).toBeUndefined();
  });
});

describe("MAC bindings (host add MAC --ip IP)", () => {
  test("a binding is found by any process (a restart, another worker or server on the root)", async () => {
    const root = await freshTree();
    expect(bindMac(root, "192.168.0.11", "aa:bb:cc:dd:ee:ff")).toBe(`${MAC_DIR}/C0A8000B`);
    expect(readdirSync(join(root, MAC_DIR))).toEqual(["C0A8000B"]);
    expect(lookupMac(root, "192.168.0.11", "/nonexistent")).toEqual({ mac: "aa:bb:cc:dd:ee:ff", source: "host add --ip" });
    expect(lookupMac(root, "192.168.0.12", "/nonexistent")).toBeUndefined();
  });

  test("the neighbour table is preferred: it is the host that is talking to us now", async () => {
    const root = await freshTree();
    bindMac(root, "192.168.0.11", "aa:bb:cc:dd:ee:ff");
    expect(lookupMac(root, "192.168.0.11", arpFile())).toEqual({ mac: "52:54:00:12:34:56", source: "neighbour table" });
    // Not in the table (a routed host behind a DHCP relay): the binding.
    bindMac(root, "10.1.2.3", "aa:bb:cc:dd:ee:01");
    expect(lookupMac(root, "10.1.2.3", arpFile())).toEqual({ mac: "aa:bb:cc:dd:ee:01", source: "host add --ip" });
  });

  test("files without the binding's mark (learned from requests by older versions) are ignored", async () => {
    const root = await freshTree();
    mkdirSync(join(root, MAC_DIR), { recursive: true });
    writeFileSync(join(root, macRecordFile("192.168.0.11")), JSON.stringify({ host: "192.168.0.11", mac: "aa:bb:cc:dd:ee:ff" }) + "\n");
    writeFileSync(join(root, macRecordFile("192.168.0.12")), "not json\n");
    expect(lookupMac(root, "192.168.0.11", "/nonexistent")).toBeUndefined();
    expect(lookupMac(root, "192.168.0.12", "/nonexistent")).toBeUndefined();
  });

  test("IPv6 clients are kept under a file name without colons", async () => {
    const root = await freshTree();
    bindMac(root, "fd00::11", "aa:bb:cc:dd:ee:ff");
    expect(readdirSync(join(root, MAC_DIR))).toEqual(["ip6-fd00--11"]);
    expect(lookupMac(root, "fd00::11")?.mac).toBe("aa:bb:cc:dd:ee:ff");
  });

  test("unbinding an address, or every address of a MAC (host remove MAC)", async () => {
    const root = await freshTree();
    bindMac(root, "192.168.0.11", "aa:bb:cc:dd:ee:ff");
    bindMac(root, "192.168.0.12", "aa:bb:cc:dd:ee:ff");
    bindMac(root, "192.168.0.13", "aa:bb:cc:dd:ee:01");
    unbindAddress(root, "192.168.0.13");
    expect(lookupMac(root, "192.168.0.13", "/nonexistent")).toBeUndefined();
    expect(unbindMac(root, "aa:bb:cc:dd:ee:ff").sort()).toEqual([`${MAC_DIR}/C0A8000B`, `${MAC_DIR}/C0A8000C`]);
    expect(readdirSync(join(root, MAC_DIR))).toEqual([]);
    expect(unbindMac(join(tempDir(), "no-tree"), "aa:bb:cc:dd:ee:ff")).toEqual([]);
  });
});
