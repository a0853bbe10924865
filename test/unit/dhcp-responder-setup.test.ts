/** What the proxy DHCP decides before it has a socket: the settings, the interfaces, the bind failure line, its metrics. */
import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/cli/args.ts";
import { resolveServe } from "../../src/cli/resolve-serve.ts";
import { socketInodes } from "../../src/dhcp/port-holder.ts";
import { newProxyDhcpCounts } from "../../src/dhcp/proxy.ts";
import { bindFailure, outbox, servedInterfaces, type InterfaceTable } from "../../src/dhcp/responder.ts";
import { createLogger } from "../../src/log.ts";
import { createServerMetrics } from "../../src/server/observe/server-metrics.ts";

const noFiles = { exists: () => false, read: () => "" };
const settings = (args: string[], toml?: string) =>
  resolveServe(args, "serve", {
    files: toml ? { exists: (p) => p === "/etc/pxeboot.toml", read: () => toml } : noFiles,
    defaultConfig: "/etc/pxeboot.toml",
  }).settings;

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("no error");
}

describe("--proxy-dhcp settings", () => {
  test("interfaces, all, and the two modifiers; off when not given", () => {
    expect(settings(["/tftp"]).proxyDhcp).toBeUndefined();
    expect(settings(["/tftp", "--proxy-dhcp", "eth0,eth1"]).proxyDhcp).toEqual({ interfaces: ["eth0", "eth1"], knownOnly: false, binlOnly: false });
    expect(settings(["/tftp", "--proxy-dhcp=all", "--proxy-dhcp-known-only", "--proxy-dhcp-4011-only"]).proxyDhcp).toEqual({ interfaces: [], knownOnly: true, binlOnly: true });
  });

  test("the TOML key works as the flag does", () => {
    expect(settings([], "root = '/tftp'\nproxy-dhcp = 'br0'\nproxy-dhcp-known-only = true\n").proxyDhcp).toEqual({ interfaces: ["br0"], knownOnly: true, binlOnly: false });
  });

  test("bad values are one-line usage errors with the fix", () => {
    expect(failure(() => settings(["/tftp", "--proxy-dhcp", ""]))).toContain("--proxy-dhcp needs interface names");
    expect(failure(() => settings(["/tftp", "--proxy-dhcp", "eth0,,eth1"]))).toContain("e.g. eth0");
    expect(failure(() => settings(["/tftp", "--proxy-dhcp", "a-very-long-interface-name"]))).toContain("--proxy-dhcp");
    expect(failure(() => settings(["/tftp", "--proxy-dhcp-known-only"]))).toContain("needs --proxy-dhcp");
  });
});

describe("served interfaces", () => {
  const table: InterfaceTable = {
    names: () => ["eth0", "eth1", "lo", "wg0"],
    ipv4: (n) => ({ eth0: "10.0.0.1", eth1: "192.168.7.1", lo: "127.0.0.1" })[n],
  };

  test("named ones with their address; all: every one with IPv4 but loopback", () => {
    expect(servedInterfaces(["eth1"], table)).toEqual([{ name: "eth1", address: "192.168.7.1" }]);
    expect(servedInterfaces([], table)).toEqual([
      { name: "eth0", address: "10.0.0.1" },
      { name: "eth1", address: "192.168.7.1" },
    ]);
  });

  test("an unknown interface or one without IPv4 is a usage error naming what exists", () => {
    expect(failure(() => servedInterfaces(["eth9"], table))).toBe("--proxy-dhcp: no interface 'eth9' (this host has: eth0, eth1, lo, wg0)");
    expect(failure(() => servedInterfaces(["wg0"], table))).toContain("'wg0' has no IPv4 address");
    expect(failure(() => servedInterfaces([], { names: () => ["lo"], ipv4: () => "127.0.0.1" }))).toContain("no interface with an IPv4 address");
  });
});

describe("a port someone else holds", () => {
  const PROC_NET_UDP = [
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
    "  123: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 40123 2 0000000000000000 0",
    "  124: 0100000A:0FAB 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 40124 2 0000000000000000 0",
    "  125: 0100A8C0:0045 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 40125 2 0000000000000000 0",
  ].join("\n");

  test("/proc/net/udp: the sockets on a port, their addresses in dotted form", () => {
    expect(socketInodes(PROC_NET_UDP, 67)).toEqual([{ address: "0.0.0.0", inode: "40123" }]);
    expect(socketInodes(PROC_NET_UDP, 4011)).toEqual([{ address: "10.0.0.1", inode: "40124" }]);
    expect(socketInodes(PROC_NET_UDP, 69)).toEqual([{ address: "192.168.0.1", inode: "40125" }]);
    expect(socketInodes("garbage\nmore garbage", 67)).toEqual([]);
  });

  test("the line names port 67, the holder, and both ways out", () => {
    const line = bindFailure(67, { name: "eth0", address: "10.0.0.1" }, "EADDRINUSE", [{ pid: 812, name: "dnsmasq", address: "0.0.0.0" }]);
    expect(line).toContain("UDP port 67 on eth0 (10.0.0.1)");
    expect(line).toContain("dnsmasq (pid 812, on 0.0.0.0)");
    expect(line).toContain("--bind-interfaces");
    expect(line).toContain("dhcp-option-force=60,PXEClient");
    expect(line).toContain("--proxy-dhcp-4011-only");
    expect(line.split("\n").length).toBe(1);
    expect(bindFailure(67, { name: "eth0", address: "10.0.0.1" }, "EACCES", [])).toContain("needs root");
    expect(bindFailure(4011, { name: "eth0", address: "10.0.0.1" }, "EADDRINUSE", [])).toBe("--proxy-dhcp cannot bind UDP port 4011 on eth0 (10.0.0.1): held by another process");
  });
});

test("--metrics: offers, acks, ignored by reason and duplicates are exported", () => {
  const counts = { ...newProxyDhcpCounts(), offers: 5, acks: 2, ignored: 7, malformed: 1, duplicates: 3, limited: 4 };
  const text = createServerMetrics({ version: "t", startTimeSeconds: 0, proxyDhcp: counts }).render();
  expect(text).toContain('pxeboot_proxy_dhcp_answers_total{type="offer"} 5');
  expect(text).toContain('pxeboot_proxy_dhcp_answers_total{type="ack"} 2');
  expect(text).toContain('pxeboot_proxy_dhcp_ignored_total{reason="not_pxe_or_no_netboot"} 7');
  expect(text).toContain('pxeboot_proxy_dhcp_ignored_total{reason="rate_limited"} 4');
  expect(text).toContain("pxeboot_proxy_dhcp_duplicates_total 3");
  expect(createServerMetrics({ version: "t", startTimeSeconds: 0 }).render()).not.toContain("proxy_dhcp");
});

describe("the reply outbox", () => {
  const log = createLogger({ level: "silent" });
  const reply = (i: number) => Uint8Array.of(i);
  const turn = () => new Promise((r) => setImmediate(r));

  test("a turn's replies go out together, in order; a storm's are flushed every 32", async () => {
    const batches: number[][] = [];
    const box = outbox({ sendMany: (q) => (batches.push(q.filter((x): x is Uint8Array => x instanceof Uint8Array).map((b) => b[0]!)), q.length / 3) }, log);
    for (let i = 0; i < 3; i++) box.push(reply(i), 68, "255.255.255.255");
    expect(batches).toEqual([]);
    await turn();
    expect(batches).toEqual([[0, 1, 2]]);
    for (let i = 0; i < 70; i++) box.push(reply(i), 68, "255.255.255.255");
    expect(batches.slice(1).map((b) => b.length)).toEqual([32, 32]);
    await turn();
    expect(batches.slice(1).flat()).toEqual(Array.from({ length: 70 }, (_, i) => i));
  });

  test("a short count is sent on the next turn; a socket that never takes any gives up, bounded", async () => {
    const sent: number[] = [];
    let calls = 0;
    const box = outbox({ sendMany: (q) => (calls++, q.length > 3 ? (sent.push((q[0] as Uint8Array)[0]!), 1) : 0) }, log);
    for (let i = 0; i < 4; i++) box.push(reply(i), 68, "255.255.255.255");
    for (let i = 0; i < 50; i++) await turn();
    expect(sent).toEqual([0, 1, 2]);
    expect(calls).toBeLessThanOrEqual(3 + 21);
  });
});
