/**
 * Which MAC a client address had: learned associations survive the process (a restart, another
 * worker, another server on the same root), the kernel's neighbour table wins for hosts on the
 * segment, and the directory stays bounded.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MacRegistry, MAX_RECORDS, macRecordFile, parseNeighbourTable } from "../../src/layout/macs.ts";
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

describe("learned MACs", () => {
  test("what one process learned, a fresh one (a restart, another worker or server) finds on disk", async () => {
    const root = await freshTree();
    const first = new MacRegistry({ root, neighbourTable: "/nonexistent" });
    first.learn("192.168.0.11", "aa:bb:cc:dd:ee:ff");
    await first.flush();
    expect(readdirSync(join(root, MAC_DIR))).toEqual(["C0A8000B"]);
    expect(JSON.parse(readFileSync(join(root, macRecordFile("192.168.0.11")), "utf8")).mac).toBe("aa:bb:cc:dd:ee:ff");
    const second = new MacRegistry({ root, neighbourTable: "/nonexistent" });
    expect(second.lookup("192.168.0.11")).toEqual({ mac: "aa:bb:cc:dd:ee:ff", source: "learned" });
    expect(second.lookup("192.168.0.12")).toBeUndefined();
  });

  test("the newest association wins, also when another process wrote it", async () => {
    const root = await freshTree();
    const a = new MacRegistry({ root, neighbourTable: "/nonexistent" });
    const b = new MacRegistry({ root, neighbourTable: "/nonexistent" });
    a.learn("192.168.0.11", "aa:bb:cc:dd:ee:01");
    await a.flush();
    b.learn("192.168.0.11", "aa:bb:cc:dd:ee:02");
    await b.flush();
    expect(a.lookup("192.168.0.11")?.mac).toBe("aa:bb:cc:dd:ee:02");
  });

  test("the neighbour table is preferred: it is the host that is talking to us now", async () => {
    const root = await freshTree();
    const reg = new MacRegistry({ root, neighbourTable: arpFile() });
    reg.learn("192.168.0.11", "aa:bb:cc:dd:ee:ff");
    await reg.flush();
    expect(reg.lookup("192.168.0.11")).toEqual({ mac: "52:54:00:12:34:56", source: "neighbour table" });
    // Not in the table (a routed host behind a DHCP relay): what was learned.
    reg.learn("10.1.2.3", "aa:bb:cc:dd:ee:01");
    expect(reg.lookup("10.1.2.3")).toEqual({ mac: "aa:bb:cc:dd:ee:01", source: "learned" });
  });

  test("IPv6 clients are kept under a file name without colons", async () => {
    const root = await freshTree();
    const reg = new MacRegistry({ root, neighbourTable: "/nonexistent" });
    reg.learn("fd00::11", "aa:bb:cc:dd:ee:ff");
    await reg.flush();
    expect(readdirSync(join(root, MAC_DIR))).toEqual(["ip6-fd00--11"]);
    expect(new MacRegistry({ root }).lookup("fd00::11")?.mac).toBe("aa:bb:cc:dd:ee:ff");
  });

  test("forget removes the association everywhere", async () => {
    const root = await freshTree();
    const reg = new MacRegistry({ root, neighbourTable: "/nonexistent" });
    reg.learn("192.168.0.11", "aa:bb:cc:dd:ee:ff");
    await reg.flush();
    await reg.forget("192.168.0.11");
    expect(new MacRegistry({ root, neighbourTable: "/nonexistent" }).lookup("192.168.0.11")).toBeUndefined();
    expect(reg.lookup("192.168.0.11")).toBeUndefined();
  });

  test("a write failure is reported and the association still works in this process", async () => {
    const root = join(tempDir(), "not-a-tree", "\0bad");
    const errors: string[] = [];
    const reg = new MacRegistry({ root, neighbourTable: "/nonexistent", onError: (what) => errors.push(what) });
    reg.learn("192.168.0.11", "aa:bb:cc:dd:ee:ff");
    await reg.flush();
    expect(errors.length).toBe(1);
    expect(errors[0]).toContain("192.168.0.11");
    expect(reg.lookup("192.168.0.11")?.mac).toBe("aa:bb:cc:dd:ee:ff");
  });

  test("a storm of hosts is written a few at a time and all of it lands", async () => {
    const root = await freshTree();
    const reg = new MacRegistry({ root, neighbourTable: "/nonexistent" });
    for (let i = 1; i <= 500; i++) reg.learn(`10.0.${i >> 8}.${i & 255}`, `aa:bb:cc:dd:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`);
    await reg.flush();
    expect(readdirSync(join(root, MAC_DIR)).length).toBe(500);
  });

  test("the directory is bounded: past the limit the longest-known associations are pruned", async () => {
    const root = await freshTree();
    const dir = join(root, MAC_DIR);
    const extra = 10;
    for (let i = 0; i < MAX_RECORDS + extra; i++) {
      const f = join(dir, (0x0a000000 + i).toString(16).toUpperCase());
      writeFileSync(f, "{}\n");
      // The oldest ones are the first `extra`.
      const t = 1_000_000 + i;
      utimesSync(f, t, t);
    }
    const reg = new MacRegistry({ root });
    expect(await reg.prune()).toBe(extra);
    const left = new Set(readdirSync(dir));
    const name = (i: number) => (0x0a000000 + i).toString(16).toUpperCase();
    expect(left.size).toBe(MAX_RECORDS);
    for (let i = 0; i < extra; i++) expect(left.has(name(i))).toBe(false);
    expect(left.has(name(extra))).toBe(true);
    expect(left.has(name(MAX_RECORDS + extra - 1))).toBe(true);
  }, 60_000);
});
